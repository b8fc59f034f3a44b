// Wires the aggregation stage to Kafka: records in through `eachBatch`, aggregates out when
// windows close, and offsets committed only after the aggregates they produced are in
// Kafka. The commit carries `closedUpTo` and the ε ledger as metadata, so after a crash the
// next run knows which replayed records belong to windows already emitted (and must not emit
// them again as a partial, smaller figure) and how much budget today's releases have spent.
import type { BatchingProducer, Consumer, EachBatchPayload } from '@lethe/kafka';
import type { Logger } from '@lethe/observability';
import { createAggregator, createBudgetLedger, utcDay, type AddOutcome, type Clock, type LedgerEntry, type NoiseSource, type Policy } from '@lethe/privacy';
import { ReadingRecordSchema, SightingRecordSchema, TOPICS } from '@lethe/schemas';
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
  noise: NoiseSource;
}

export interface CommitMetadata {
  closedUpTo: number;
  /** Ledger entries of today and yesterday (UTC): small enough for Kafka's 4 KiB metadata limit. */
  ledger: LedgerEntry[];
}

export function encodeMetadata(metadata: CommitMetadata): string {
  return JSON.stringify(metadata);
}

export function decodeMetadata(metadata: string | null | undefined): CommitMetadata {
  const empty: CommitMetadata = { closedUpTo: 0, ledger: [] };
  if (!metadata) return empty;
  try {
    const value = JSON.parse(metadata) as Partial<CommitMetadata>;
    return {
      closedUpTo: typeof value.closedUpTo === 'number' ? value.closedUpTo : 0,
      ledger: Array.isArray(value.ledger) ? value.ledger : [],
    };
  } catch {
    return empty;
  }
}

export function createProcessor({ policy, consumer, producer, metrics, logger, graceMs, clock, noise }: ProcessorDeps) {
  const ledger = createBudgetLedger();
  const aggregator = createAggregator({ policy, clock, graceMs, noise, ledger });
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
      return { outcome, windowEnd: aggregator.heldUntil(parsed.data.kind, parsed.data.ts, false) };
    }
    const parsed = SightingRecordSchema.safeParse(json);
    if (!parsed.success) return { outcome: 'invalid' };
    const outcome = aggregator.addSighting(parsed.data);
    // A sighting is needed until its epoch ends (dwell times, trips), not only its window.
    return { outcome, windowEnd: aggregator.heldUntil(parsed.data.kind, parsed.data.ts, true) };
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
    metrics.consumerLag.labels(batch.topic, String(batch.partition)).set(Number(batch.offsetLag()));
    await heartbeat();
  }

  /** Emits windows that are due, then commits what they released. */
  async function tick(): Promise<void> {
    if (ticking) return;
    ticking = true;
    try {
      const { records: aggregates, reports } = aggregator.closeDue();
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
      for (const r of reports) {
        metrics.releases.labels(r.stream, r.outcome).inc();
        metrics.figuresReleased.labels(r.stream).inc(r.released);
        for (const [reason, n] of Object.entries(r.suppressed)) if (n > 0) metrics.figuresSuppressed.labels(r.stream, reason).inc(n);
      }
      const today = utcDay(clock.now());
      for (const e of ledger.entries(today)) {
        metrics.epsilonSpent.labels(e.stream).set(e.spent);
        metrics.epsilonBudget.labels(e.stream).set(e.budget);
      }
      const offsets = tracker.committable(aggregator.closedUpTo);
      if (offsets.length > 0) {
        const yesterday = utcDay(clock.now() - 86_400_000);
        const metadata = encodeMetadata({ closedUpTo: aggregator.closedUpTo, ledger: ledger.entries().filter((e) => e.day >= yesterday) });
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
    /** Continues where the last committed run stopped: emitted windows and ε spent. */
    restore(previous: readonly CommitMetadata[]) {
      if (previous.length === 0) return;
      aggregator.restoreClosedUpTo(Math.min(...previous.map((m) => m.closedUpTo)));
      for (const m of previous) ledger.restore(m.ledger);
    },
    resetOffsets: () => tracker.reset(),
    get closedUpTo() {
      return aggregator.closedUpTo;
    },
  };
}
