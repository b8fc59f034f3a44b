// Stage 2 wired to Kafka: a second consumer group reads the partials topic, whose single
// partition one instance of the group holds (the others stand by and take over on a
// rebalance). That instance merges the partials of every input partition and releases
// aggregates (@lethe/privacy createReleaser), commits partials offsets only once the released
// aggregates are in Kafka, and keeps in that commit's metadata how far each series was released
// and the ε ledger — so whoever holds the partition next continues with the same ledger, and a
// replayed window is neither released twice nor charged twice.
import type { Admin, BatchingProducer, Consumer, EachBatchPayload } from '@lethe/kafka';
import { createOutbox, retryKafka } from '@lethe/kafka';
import type { Logger } from '@lethe/observability';
import { createBudgetLedger, createReleaser, seriesOf, utcDay, type Clock, type LedgerEntry, type NoiseSource, type Policy, type Releaser } from '@lethe/privacy';
import { WindowPartialRecordSchema } from '@lethe/schemas';
import { decodeReleaserMetadata, encodeReleaserMetadata, legacyLedger } from './commit-metadata.ts';
import type { ProcessorMetrics } from './metrics.ts';
import { OffsetTracker } from './offset-tracker.ts';

export interface ReleaserTopics {
  readings: string;
  sightings: string;
  partials: string;
  aggregates: string;
}

export interface ReleaserDeps {
  policy: Policy;
  consumer: Consumer;
  producer: BatchingProducer;
  admin: Pick<Admin, 'fetchOffsets' | 'fetchTopicMetadata'>;
  /** The releaser's consumer group. */
  groupId: string;
  /** Stage 1's group: a processor from before the releaser kept the ledger there (carried over once). */
  stageGroupId: string;
  topics: ReleaserTopics;
  metrics: ProcessorMetrics;
  logger: Logger;
  clock: Clock;
  noise: NoiseSource;
}

interface Active {
  releaser: Releaser;
  ledger: ReturnType<typeof createBudgetLedger>;
}

export function createReleaserRunner({ policy, consumer, producer, admin, groupId, stageGroupId, topics, metrics, logger, clock, noise }: ReleaserDeps) {
  const tracker = new OffsetTracker();
  let active: Promise<Active | undefined> = Promise.resolve(undefined);
  let current: Active | undefined;
  let generation = 0;
  const outbox = createOutbox(producer);
  let releasedSinceCommit = false;
  let ticking = false;

  async function partitionCounts(): Promise<{ readings: number; sightings: number }> {
    const { topics: meta } = await retryKafka(() => admin.fetchTopicMetadata({ topics: [topics.readings, topics.sightings] }), { what: 'reading the input partitions', logger });
    const count = (name: string) => meta.find((t) => t.name === name)?.partitions.length ?? 1;
    return { readings: count(topics.readings), sightings: count(topics.sightings) };
  }

  /** A releaser continuing from the last commit on the partials partition. */
  async function open(gen: number): Promise<Active | undefined> {
    const [committed] = await retryKafka(() => admin.fetchOffsets({ groupId, topics: [topics.partials] }), { what: 'reading the releaser offsets', logger });
    const partitions = await partitionCounts();
    if (gen !== generation) return undefined;
    const ledger = createBudgetLedger();
    const releaser = createReleaser({ policy, noise, ledger, partitions });
    const c = committed?.partitions.find((p) => p.partition === 0);
    if (c && c.offset !== '-1') {
      const metadata = decodeReleaserMetadata(c.metadata);
      releaser.restore(metadata.releasedUpTo);
      ledger.restore(metadata.ledger);
      tracker.startAt(topics.partials, 0, c.offset);
    } else {
      // First start of the releaser: ε a processor from before it spent today stays spent.
      const legacy = await retryKafka(() => admin.fetchOffsets({ groupId: stageGroupId, topics: [topics.readings, topics.sightings] }), { what: 'reading stage 1 offsets', logger });
      const entries: LedgerEntry[] = legacy.flatMap((t) => t.partitions.flatMap((p) => legacyLedger(p.metadata)));
      if (entries.length > 0) ledger.restore(entries);
    }
    if (gen !== generation) return undefined;
    logger.info({ partitions, releasedUpTo: releaser.releasedUpTo() }, 'releasing aggregates (this instance holds the partials partition)');
    current = { releaser, ledger };
    return current;
  }

  async function eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const a = await active;
    if (!a) return;
    for (const message of batch.messages) {
      if (!isRunning() || isStale()) return;
      let outcome: string;
      let hold: { end: number; series: string } | undefined;
      try {
        const parsed = WindowPartialRecordSchema.safeParse(JSON.parse(message.value?.toString('utf8') ?? ''));
        if (!parsed.success) outcome = 'invalid';
        else {
          outcome = a.releaser.add(parsed.data);
          if (outcome === 'accepted') hold = { end: parsed.data.windowEnd, series: seriesOf(parsed.data) };
        }
      } catch {
        outcome = 'invalid';
      }
      metrics.partialsReceived.labels(outcome).inc();
      tracker.processed(batch.topic, batch.partition, message.offset, hold?.end, hold?.series);
      resolveOffset(message.offset);
    }
    await heartbeat();
  }

  /** Releases complete windows, then commits the partials they merged. */
  async function tick(): Promise<void> {
    const a = current;
    if (ticking || !a) return;
    ticking = true;
    try {
      const out = a.releaser.release();
      for (const w of out.discarded) {
        metrics.windowsDiscarded.labels(w.series).inc();
        logger.warn({ series: w.series, windowStart: new Date(w.windowStart).toISOString() }, 'discarded a window no partition can complete any more (its partials are gone)');
      }
      if (out.windows.length > 0 || out.discarded.length > 0) releasedSinceCommit = true;
      for (const r of out.records) {
        outbox.push({ topic: topics.aggregates, key: `${r.measurement}|${Object.values(r.tags).join('|')}|${r.windowStart}`, value: JSON.stringify(r) });
      }
      // Snapshot before the send: what the commit may claim once these aggregates are in Kafka.
      const releasedUpTo = a.releaser.releasedUpTo();
      const yesterday = utcDay(clock.now() - 86_400_000);
      const metadata = encodeReleaserMetadata({ releasedUpTo, ledger: a.ledger.entries().filter((e) => e.day >= yesterday) });
      const unchanged = releasedSinceCommit;
      releasedSinceCommit = false;
      let sent;
      try {
        sent = await outbox.flush();
      } catch (err) {
        releasedSinceCommit = true;
        throw err;
      }
      if (sent > 0) {
        const now = clock.now();
        for (const r of out.records) {
          metrics.aggregates.labels(r.measurement).inc();
          metrics.closeLag.observe((now - r.windowEnd) / 1000);
        }
        logger.debug({ aggregates: sent }, 'emitted aggregates');
      }
      for (const w of out.windows) metrics.windowsReleased.labels(w.series).inc();
      for (const r of out.reports) {
        metrics.releases.labels(r.stream, r.outcome).inc();
        metrics.figuresReleased.labels(r.stream).inc(r.released);
        for (const [reason, n] of Object.entries(r.suppressed)) if (n > 0) metrics.figuresSuppressed.labels(r.stream, reason).inc(n);
      }
      const today = utcDay(clock.now());
      for (const e of a.ledger.entries(today)) {
        metrics.epsilonSpent.labels(e.stream).set(e.spent);
        metrics.epsilonBudget.labels(e.stream).set(e.budget);
      }
      for (const [series, end] of Object.entries(releasedUpTo)) if (end > 0) metrics.releasedUpTo.labels(series).set(end / 1000);
      metrics.windowsPending.set(a.releaser.pendingWindows());
      if (current !== a) return;
      // A series' partials are held until its windows are released; the metadata moves on with every release.
      const offsets = tracker.committable(({ series }) => releasedUpTo[series] ?? 0, { unchanged });
      if (offsets.length > 0) {
        await consumer.commitOffsets(offsets.map((o) => ({ ...o, metadata })));
        tracker.markCommitted(offsets);
      }
    } finally {
      ticking = false;
    }
  }

  /** After a rebalance: this instance releases only if it holds the partials partition; it restores its state from the last commit. */
  function assigned(assignment: Record<string, number[]>): void {
    generation++;
    tracker.reset();
    current = undefined;
    outbox.clear();
    const holds = (assignment[topics.partials] ?? []).includes(0);
    metrics.releaserActive.set(holds ? 1 : 0);
    if (!holds) {
      active = Promise.resolve(undefined);
      return;
    }
    const gen = generation;
    active = open(gen).catch((err: unknown) => {
      logger.error({ err }, 'could not restore the releaser state');
      throw err;
    });
    active.catch(() => undefined);
  }

  return { eachBatch, tick, assigned, isActive: () => current !== undefined };
}
