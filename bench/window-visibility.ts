// Window close → visible in InfluxDB. While the pipeline runs, a poller asks InfluxDB (with the
// read-only token) every 500 ms how many devices' reading counts each closed window has; a
// window is visible when the count first becomes non-zero and complete when it reaches its final value.
// Latency is measured from the window's close, i.e. its end plus the processor's grace period
// (it waits that long for stragglers by design), to the poll that saw it complete, so it is only
// as fine as the poll interval plus the query's own time.
//
// The poll itself costs InfluxDB CPU, which the pipeline shares: counting every value of the last
// 90 s every 250 ms takes most of a core. So each query covers only the
// windows still being watched: closed, and not yet unchanged for SETTLE_MS since first seen (or
// given up GIVE_UP_MS after closing). Values of a window that arrive after it settled are missed,
// which would understate its latency; with one release per window they come together.
// And it counts one field of one scope: the devices' reading counts (the points the loss audit
// sums, one per device and window), not every value of the window. Counting every value even so
// costs InfluxDB about 28 µs of CPU per reading at 6,000 readings/s, nearly all of InfluxDB's
// share in the pipeline steps (0.3 µs without the poller; pnpm bench, stage 7, quick).
import { Histogram } from './histogram.ts';
import type { Servers } from './infra.ts';
import { flux } from './influx.ts';

/** How long a window's count must stay unchanged to be taken as complete. */
export const SETTLE_MS = 3000;
const GIVE_UP_MS = 60_000;

export interface WindowSeen {
  windowStart: number;
  closesAt: number;
  firstSeenAt: number;
  completeAt: number;
  fieldValues: number;
}

/** Window close → all its devices' reading counts visible in InfluxDB, p99: the latency target every sustained step must meet. */
export const WINDOW_TO_INFLUX_P99_MS = 2000;

/** Window close → visible in InfluxDB over `windows` (a step's: those its own readings closed). */
export function windowLatency(s: { windows: readonly Pick<WindowSeen, 'closesAt' | 'completeAt'>[] }): ReturnType<Histogram['summaryMs']> {
  const h = new Histogram();
  for (const w of s.windows) h.record((w.completeAt - w.closesAt) * 1000);
  return h.summaryMs();
}

/** A closed window as the poller knows it while it runs: `completeAt` is its count's last change so far, if seen. */
export interface WindowWatched {
  windowStart: number;
  closesAt: number;
  completeAt?: number;
}

/**
 * Whether `windows` were visible within WINDOW_TO_INFLUX_P99_MS at p99, as far as can be told
 * at `now`, so that the search and the repeats steer by what the report will judge: undefined
 * while a window could still change the answer (not seen yet but not late yet, or seen within
 * `settleMs` and below the target, so possibly still filling). A window not seen counts as seen now.
 */
export function windowsOnTimeSoFar(windows: readonly WindowWatched[], now: number, settleMs = SETTLE_MS): boolean | undefined {
  const decided = (w: WindowWatched) =>
    w.completeAt === undefined
      ? now - w.closesAt >= WINDOW_TO_INFLUX_P99_MS
      : now - w.completeAt >= settleMs || w.completeAt - w.closesAt >= WINDOW_TO_INFLUX_P99_MS;
  if (!windows.every(decided)) return undefined;
  return !(windowLatency({ windows: windows.map((w) => ({ closesAt: w.closesAt, completeAt: w.completeAt ?? now })) }).p99 >= WINDOW_TO_INFLUX_P99_MS);
}

export interface VisibilityPoller {
  /** Windows ending by `t` that are watched and not yet seen (not given up either). */
  unseenBefore(t: number): number;
  /** Every window closed so far, seen or not. */
  watched(): WindowWatched[];
  stop(): Promise<{ seen: WindowSeen[]; neverSeen: number[] }>;
}

interface Watched {
  closesAt: number;
  first?: number;
  changed?: number;
  count: number;
  settled: boolean;
}

export function startVisibilityPoller(
  servers: Servers,
  { windowSeconds, graceSeconds, since, everyMs = 500 }: { windowSeconds: number; graceSeconds: number; since: number; everyMs?: number },
): VisibilityPoller {
  const windowMs = windowSeconds * 1000;
  const windows = new Map<number, Watched>();
  let next = Math.ceil(since / windowMs) * windowMs;
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = Date.now();
      // Windows that have closed since the last poll start being watched.
      for (; next + windowMs + graceSeconds * 1000 <= started; next += windowMs)
        windows.set(next, { closesAt: next + windowMs + graceSeconds * 1000, count: 0, settled: false });
      const open = [...windows].filter(([, w]) => !w.settled);
      if (open.length > 0) {
        const from = Math.min(...open.map(([t]) => t));
        const to = Math.max(...open.map(([t]) => t)) + windowMs;
        try {
          const rows = await flux(
            servers,
            `from(bucket: "${servers.influx.bucket}") |> range(start: ${new Date(from).toISOString()}, stop: ${new Date(to).toISOString()})
              |> filter(fn: (r) => r.window == "${windowSeconds}s" and r.scope == "device" and r._field == "readings") |> group(columns: ["_time"]) |> count() |> group()`,
          );
          const seenAt = Date.now();
          for (const row of rows) {
            const w = windows.get(Date.parse(row._time ?? ''));
            const count = Number(row._value);
            if (!w || w.settled || !(count > 0)) continue;
            if (w.first === undefined) Object.assign(w, { first: seenAt, changed: seenAt, count });
            else if (count !== w.count) Object.assign(w, { changed: seenAt, count });
          }
          for (const [, w] of open) {
            if (w.changed !== undefined && seenAt - w.changed >= SETTLE_MS) w.settled = true;
            if (w.first === undefined && seenAt - w.closesAt > GIVE_UP_MS) w.settled = true;
          }
        } catch {
          // a failed poll is just a gap in the timing
        }
      }
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (Date.now() - started))));
    }
  })();
  return {
    unseenBefore: (t) => [...windows].filter(([start, w]) => start + windowMs <= t && w.first === undefined && !w.settled).length,
    watched: () => [...windows].map(([t, w]) => ({ windowStart: t, closesAt: w.closesAt, ...(w.first === undefined ? {} : { completeAt: w.changed! }) })),
    async stop() {
      running = false;
      await loop;
      const all = [...windows].sort(([a], [b]) => a - b);
      return {
        seen: all
          .filter(([, w]) => w.first !== undefined)
          .map(([t, w]) => ({ windowStart: t, closesAt: w.closesAt, firstSeenAt: w.first!, completeAt: w.changed!, fieldValues: w.count })),
        neverSeen: all.filter(([, w]) => w.first === undefined).map(([t]) => t),
      };
    },
  };
}
