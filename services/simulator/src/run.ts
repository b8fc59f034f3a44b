// Drives the city at a given rate: every device publishes once per tick, ticks are spaced
// so the whole fleet publishes `rate` readings per second, and progress is reported.
import type { City, SimulatedReading } from './city.ts';
import type { FleetPublisher } from './publisher.ts';

export interface RunOptions {
  city: City;
  publisher: FleetPublisher;
  /** Seconds between two readings of the same device. */
  tickSeconds: number;
  /** Stop after this many ticks (default: run until the signal aborts). */
  ticks?: number;
  signal?: AbortSignal;
  /** Called with progress about every 5 s and at the end. */
  onProgress?: (p: { ticks: number; published: number; failed: number; elapsedSeconds: number }) => void;
  /** Called with every reading once the broker acknowledged it (tests use it to compute expectations). */
  onPublished?: (reading: SimulatedReading) => void;
  now?: () => Date;
}

export interface RunSummary {
  ticks: number;
  published: number;
  failed: number;
  elapsedSeconds: number;
}

export async function runSimulation({
  city,
  publisher,
  tickSeconds,
  ticks,
  signal,
  onProgress,
  onPublished,
  now = () => new Date(),
}: RunOptions): Promise<RunSummary> {
  const started = performance.now();
  let done = 0;
  let published = 0;
  let failed = 0;
  let lastReport = started;
  const elapsed = () => (performance.now() - started) / 1000;
  while (!signal?.aborted && (ticks === undefined || done < ticks)) {
    const tickStart = performance.now();
    const readings = city.tick(now());
    const results = await Promise.allSettled(readings.map((r) => publisher.publish(r.deviceId, r.topic, r.payload).then(() => onPublished?.(r))));
    for (const r of results) {
      if (r.status === 'fulfilled') published++;
      else failed++;
    }
    done++;
    if (performance.now() - lastReport >= 5000) {
      lastReport = performance.now();
      onProgress?.({ ticks: done, published, failed, elapsedSeconds: elapsed() });
    }
    if (ticks !== undefined && done >= ticks) break;
    const wait = tickSeconds * 1000 - (performance.now() - tickStart);
    if (wait > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        signal?.addEventListener(
          'abort',
          () => {
            clearTimeout(timer);
            resolve();
          },
          { once: true },
        );
      });
    }
  }
  const summary = { ticks: done, published, failed, elapsedSeconds: elapsed() };
  onProgress?.(summary);
  return summary;
}
