// Moves aggregates from Kafka to InfluxDB. Offsets are committed only after InfluxDB
// accepted the points (at-least-once), and points are deterministic, so a redelivery
// overwrites rather than double counts. Transient failures are retried here with backoff;
// points InfluxDB refuses as invalid (4xx, which it never accepts on retry) are isolated
// one by one, counted and skipped so they cannot block the stream.
import { HttpError, type WriteApi } from '@influxdata/influxdb-client';
import type { EachBatchPayload } from '@lethe/kafka';
import type { Logger } from '@lethe/observability';
import { AggregateRecordSchema } from '@lethe/schemas';
import type { Point } from '@influxdata/influxdb-client';
import type { WriterMetrics } from './metrics.ts';
import { toPoint } from './points.ts';

export interface PointSink {
  write(points: Point[]): Promise<void>;
}

/** How long one InfluxDB write may take before it counts as failed and is retried. */
export const WRITE_TIMEOUT_MS = 30_000;

/**
 * A sink over influxdb-client WriteApis created with maxRetries 0 (we retry ourselves). Each
 * write gets a fresh WriteApi and a deadline, so that a flush that never settles (a server that
 * stops answering mid-request) cannot hold the writer: the write is retried with a new WriteApi;
 * should the old one still land, the points are the same and overwrite themselves.
 */
export function writeApiSink(newWriteApi: () => WriteApi, timeoutMs = WRITE_TIMEOUT_MS): PointSink {
  return {
    async write(points) {
      const writeApi = newWriteApi();
      writeApi.writePoints(points);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`InfluxDB did not answer a write within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([writeApi.flush(), deadline]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

function isPermanent(err: unknown): boolean {
  return err instanceof HttpError && err.statusCode >= 400 && err.statusCode < 500 && err.statusCode !== 429;
}

export interface WriterDeps {
  sink: PointSink;
  /** Commits `offset` (the next to read) for a partition; called only after InfluxDB accepted the batch. */
  commit: (topic: string, partition: number, offset: string) => Promise<void>;
  metrics: WriterMetrics;
  logger: Logger;
  sleep?: (ms: number) => Promise<void>;
}

export function createWriter({ sink, commit, metrics, logger, sleep = (ms) => new Promise((r) => setTimeout(r, ms)) }: WriterDeps) {
  async function writeIsolating(points: Point[]): Promise<number> {
    try {
      await sink.write(points);
      return points.length;
    } catch (err) {
      if (!isPermanent(err)) throw err;
      if (points.length === 1) {
        metrics.rejected.inc();
        logger.error({ status: (err as HttpError).statusCode, measurement: points[0]?.toLineProtocol()?.split(',')[0] }, 'InfluxDB refused a point; skipped');
        return 0;
      }
      let written = 0;
      for (const p of points) written += await writeIsolating([p]);
      return written;
    }
  }

  async function eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const points: Point[] = [];
    for (const message of batch.messages) {
      let parsed;
      try {
        parsed = AggregateRecordSchema.safeParse(JSON.parse(message.value?.toString('utf8') ?? ''));
      } catch {
        parsed = undefined;
      }
      if (parsed?.success) points.push(toPoint(parsed.data));
      else metrics.invalid.inc();
    }
    let delay = 500;
    for (;;) {
      if (!isRunning() || isStale()) return;
      const started = performance.now();
      try {
        const written = points.length > 0 ? await writeIsolating(points) : 0;
        metrics.written.inc(written);
        metrics.writeLatency.observe((performance.now() - started) / 1000);
        break;
      } catch (err) {
        metrics.writeErrors.inc();
        logger.warn({ err: { message: (err as Error).message }, retryInMs: delay }, 'InfluxDB write failed; retrying');
        await heartbeat();
        await sleep(delay);
        delay = Math.min(delay * 2, 10_000);
      }
    }
    const last = batch.messages.at(-1);
    if (last) {
      resolveOffset(last.offset);
      try {
        await commit(batch.topic, batch.partition, (BigInt(last.offset) + 1n).toString());
      } catch (err) {
        // After a broker restart the group may have moved on ("The coordinator is not aware of
        // this member"). Thrown from here, kafkajs takes it as a crash it does not restart, and the
        // writer silently stopped for good (fault suite). The points are in InfluxDB; uncommitted,
        // the batch is read again after the rejoin and overwrites itself.
        metrics.commitErrors.inc();
        logger.warn(
          { err: { message: (err as Error).message }, topic: batch.topic, partition: batch.partition },
          'could not commit; the batch will be read again',
        );
        return;
      }
      metrics.consumerLag.labels(batch.topic, String(batch.partition)).set(Number(batch.offsetLag()));
    }
    await heartbeat();
  }

  return { eachBatch };
}
