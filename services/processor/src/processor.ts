// Wires the aggregation stage to Kafka: records in through `eachBatch`, aggregates out when
// windows close, and offsets committed only after the aggregates they produced are in
// Kafka. The commit carries `closedUpTo` as metadata, so after a crash the next run knows
// which replayed records belong to windows already emitted and must not emit them again
// as a partial (smaller) figure.
import type { BatchingProducer, Consumer, EachBatchPayload } from '@lethe/kafka';
import type { Logger } from '@lethe/observability';
import { createAggregator, windowStart, type AddOutcome, type Clock, type Policy } from '@lethe/privacy';
import { ReadingRecordSchema, SightingRecordSchema, TOPICS, type AggregateRecord } from '@lethe/schemas';
import { OffsetTracker } from './offset-tracker.ts';
import type { ProcessorMetrics } from './metrics.ts';

export interface ProcessorDeps {
  policy: Policy;
  consumer: Consumer;
  producer: BatchingProducer;
  metrics: ProcessorMetrics;
  logger: Logger;
  graceMs: number;
  clock: Clock;
}

interface CommitMetadata {
  closedUpTo: number;
}

export function encodeMetadata(closedUpTo: number): string {
  return JSON.stringify({ closedUpTo } satisfies CommitMetadata);
}

export function decodeMetadata(metadata: string | null | undefined): number {
  if (!metadata) return 0;
  try {
    const value = (JSON.parse(metadata) as Partial<CommitMetadata>).closedUpTo;
    return typeof value === 'number' ? value : 0;
  } catch {
    return 0;
  }
}

export function createProcessor({ policy, consumer, producer, metrics, logger, graceMs, clock }: ProcessorDeps) {
  const aggregator = createAggregator({ policy, clock, graceMs });
  const tracker = new OffsetTracker();
  let ticking = false;

  function add(topic: string, value: Buffer | null): { outcome: AddOutcome | 'invalid'; windowEnd?: number } {
    let json: unknown;
    try {
      json = JSON.parse(value?.toString('utf8') ?? '');
    } catch {
      return { outcome: 'invalid' };
    }
    if (topic === TOPICS.readings) {
      const parsed = ReadingRecordSchema.safeParse(json);
      if (!parsed.success) return { outcome: 'invalid' };
      const outcome = aggregator.addReading(parsed.data);
      return { outcome, windowEnd: endOf(parsed.data.kind, parsed.data.ts) };
    }
    const parsed = SightingRecordSchema.safeParse(json);
    if (!parsed.success) return { outcome: 'invalid' };
    const outcome = aggregator.addSighting(parsed.data);
    return { outcome, windowEnd: endOf(parsed.data.kind, parsed.data.ts) };
  }

  function endOf(kind: keyof Policy['kinds'], ts: number): number {
    const size = policy.kinds[kind].window;
    return windowStart(ts, size) + size;
  }

  async function eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    for (const message of batch.messages) {
      if (!isRunning() || isStale()) return;
      const { outcome, windowEnd } = add(batch.topic, message.value);
      metrics.records.labels(batch.topic, outcome).inc();
      // A duplicate still holds its window: after a rebalance it is the replayed copy of a record whose window is open.
      tracker.processed(batch.topic, batch.partition, message.offset, outcome === 'accepted' || outcome === 'duplicate' ? windowEnd : undefined);
      resolveOffset(message.offset);
    }
    await heartbeat();
  }

  /** Emits windows that are due, then commits what they released. */
  async function tick(): Promise<void> {
    if (ticking) return;
    ticking = true;
    try {
      const aggregates: AggregateRecord[] = aggregator.closeDue();
      if (aggregates.length > 0) {
        await producer.send(
          aggregates.map((a) => ({
            topic: TOPICS.aggregates,
            key: `${a.measurement}|${Object.values(a.tags).join('|')}|${a.windowStart}`,
            value: JSON.stringify(a),
          })),
        );
        const now = clock.now();
        for (const a of aggregates) {
          metrics.aggregates.labels(a.measurement).inc();
          metrics.closeLag.observe((now - a.windowEnd) / 1000);
        }
        logger.debug({ aggregates: aggregates.length }, 'emitted aggregates');
      }
      const offsets = tracker.committable(aggregator.closedUpTo);
      if (offsets.length > 0) {
        const metadata = encodeMetadata(aggregator.closedUpTo);
        await consumer.commitOffsets(offsets.map((o) => ({ ...o, metadata })));
        tracker.markCommitted(offsets);
      }
      metrics.openWindows.set(aggregator.openWindows());
      metrics.pseudonymsHeld.set(aggregator.pseudonymsHeld());
    } finally {
      ticking = false;
    }
  }

  return {
    eachBatch,
    tick,
    restoreClosedUpTo: (ms: number) => aggregator.restoreClosedUpTo(ms),
    resetOffsets: () => tracker.reset(),
    get closedUpTo() {
      return aggregator.closedUpTo;
    },
  };
}
