// Stage 2 wired to Kafka: a second consumer group reads the partials topic, whose single
// partition one instance of the group holds (the others stand by and take over on a
// rebalance). That instance merges the partials of every input partition and releases
// aggregates (@lethe/privacy createReleaser), commits partials offsets only once the released
// aggregates are in Kafka, and keeps in that commit's metadata how far each series was released
// and the ε ledger — so whoever holds the partition next continues with the same ledger, and a
// replayed window is neither released twice nor charged twice.
//
// A consumer group's metadata is only as durable as the group: a releaser under a new group, or
// with a new noise key, would start afresh and release the same windows with fresh noise. So
// every release is first claimed on the release ledger topic (ledger-topic.ts,
// @lethe/privacy release-claims.ts), which every releaser reads at each assignment and follows,
// whatever its group or key: it restores from the later of its commit and the ledger, and sends a
// release only if its claim was the first to cover those windows or the first was made under
// the same key (then the figures are identical). Windows of a release whose claim another key made first are withheld; the rest are sent.
import type { Admin, BatchingProducer, Consumer, EachBatchPayload } from '@lethe/kafka';
import { createOutbox, retryKafka } from '@lethe/kafka';
import type { Logger } from '@lethe/observability';
import {
  claimHolds,
  createBudgetLedger,
  createReleaser,
  seriesOf,
  utcDay,
  type Clock,
  type NoiseSource,
  type Policy,
  type Releaser,
  type Releases,
} from '@lethe/privacy';
import { WindowPartialRecordSchema } from '@lethe/schemas';
import { decodeReleaserMetadata, encodeReleaserMetadata } from './commit-metadata.ts';
import type { LedgerTopic } from './ledger-topic.ts';
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
  topics: ReleaserTopics;
  /** The release ledger every releaser shares, started (following its topic). */
  ledgerTopic: Pick<LedgerTopic, 'log' | 'catchUp' | 'claim'>;
  /** noiseKeyFingerprint of the noise key behind `noise` and of `policy`. */
  fingerprint: string;
  metrics: ProcessorMetrics;
  logger: Logger;
  clock: Clock;
  noise: NoiseSource;
}

interface Active {
  releaser: Releaser;
  ledger: ReturnType<typeof createBudgetLedger>;
}

export function createReleaserRunner({
  policy,
  consumer,
  producer,
  admin,
  groupId,
  topics,
  ledgerTopic,
  fingerprint,
  metrics,
  logger,
  clock,
  noise,
}: ReleaserDeps) {
  const tracker = new OffsetTracker();
  let active: Promise<Active | undefined> = Promise.resolve(undefined);
  let current: Active | undefined;
  let generation = 0;
  const outbox = createOutbox(producer);
  let releasedSinceCommit = false;
  let ticking = false;
  /** A release whose claim could not be written or read back: claimed again before anything else. */
  let held: { active: Active; out: Releases } | undefined;

  async function partitionCounts(): Promise<{ readings: number; sightings: number }> {
    const { topics: meta } = await retryKafka(() => admin.fetchTopicMetadata({ topics: [topics.readings, topics.sightings] }), {
      what: 'reading the input partitions',
      logger,
    });
    const count = (name: string) => meta.find((t) => t.name === name)?.partitions.length ?? 1;
    return { readings: count(topics.readings), sightings: count(topics.sightings) };
  }

  /**
   * A releaser continuing from the later of the last commit on the partials partition and the
   * release ledger (whatever group wrote it): windows claimed under another noise key count as
   * released, and so does the ε they spent.
   */
  async function open(gen: number): Promise<Active | undefined> {
    const [committed] = await retryKafka(() => admin.fetchOffsets({ groupId, topics: [topics.partials] }), { what: 'reading the releaser offsets', logger });
    const partitions = await partitionCounts();
    await ledgerTopic.catchUp();
    if (gen !== generation) return undefined;
    const ledger = createBudgetLedger();
    const releaser = createReleaser({ policy, noise, ledger, partitions });
    const c = committed?.partitions.find((p) => p.partition === 0);
    if (c && c.offset !== '-1') {
      const metadata = decodeReleaserMetadata(c.metadata);
      releaser.restore(metadata.releasedUpTo);
      ledger.restore(metadata.ledger);
      tracker.startAt(topics.partials, 0, c.offset);
    }
    // restore() only moves a series forward: the later of the two wins.
    releaser.restore(ledgerTopic.log.restorePoint(fingerprint));
    ledger.restore(ledgerTopic.log.entries());
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
      const out = held?.active === a ? held.out : a.releaser.release();
      held = undefined;
      for (const w of out.discarded) {
        metrics.windowsDiscarded.labels(w.series).inc();
        logger.warn(
          { series: w.series, windowStart: new Date(w.windowStart).toISOString() },
          'discarded a window no partition can complete any more (its partials are gone)',
        );
      }
      if (out.windows.length > 0 || out.discarded.length > 0) releasedSinceCommit = true;
      // Snapshot before the send: what the commit may claim once these aggregates are in Kafka.
      const releasedUpTo = a.releaser.releasedUpTo();
      const yesterday = utcDay(clock.now() - 86_400_000);
      const entries = a.ledger.entries().filter((e) => e.day >= yesterday);
      const metadata = encodeReleaserMetadata({ releasedUpTo, ledger: entries });
      // Per series, the window end up to which another noise key claimed first: those windows are withheld.
      let lost: Record<string, number> = {};
      if (out.windows.length > 0) {
        // The claim is on the ledger topic before any of its figures leave; a crash after it loses
        // these windows for every other noise key rather than letting them be re-noised.
        let verdict;
        try {
          verdict = await ledgerTopic.claim({ fingerprint, at: clock.now(), releasedUpTo, ledger: entries });
        } catch (err) {
          // Nothing was sent; the next tick claims this release again (a second copy of a claim changes nothing).
          if (current === a) held = { active: a, out: { ...out, discarded: [] } };
          releasedSinceCommit = true;
          throw err;
        }
        lost = verdict;
        const withheldWindows = out.windows.filter((w) => !claimHolds(verdict, [w]));
        if (withheldWindows.length > 0) {
          for (const w of withheldWindows) metrics.windowsWithheld.labels(w.series).inc();
          logger.error(
            { windows: withheldWindows.length, series: [...new Set(withheldWindows.map((w) => w.series))] },
            'withheld windows: the release ledger shows them claimed first under another noise key (another releaser with another NOISE_KEY runs on these partials); the windows claimed first by this one are sent',
          );
        }
      }
      // Only the windows whose first claim is this releaser's: each window is published under one key.
      const mine = (series: string, windowEnd: number) => out.windows.length === 0 || claimHolds(lost, [{ series, windowEnd }]);
      const ownWindows = out.windows.filter((w) => mine(w.series, w.windowEnd));
      const ownRecords = out.records.filter((r, i) => mine(out.recordSeries[i]!, r.windowEnd));
      const ownReports = out.reports.filter((r) => ownWindows.some((w) => w.windowStart === r.windowStart && w.windowEnd === r.windowEnd));
      for (const r of ownRecords) {
        outbox.push({ topic: topics.aggregates, key: `${r.measurement}|${Object.values(r.tags).join('|')}|${r.windowStart}`, value: JSON.stringify(r) });
      }
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
        for (const r of ownRecords) {
          metrics.aggregates.labels(r.measurement).inc();
          metrics.closeLag.observe((now - r.windowEnd) / 1000);
        }
        logger.debug({ aggregates: sent }, 'emitted aggregates');
      }
      for (const w of ownWindows) metrics.windowsReleased.labels(w.series).inc();
      for (const r of ownReports) {
        metrics.releases.labels(r.stream, r.outcome).inc();
        metrics.figuresReleased.labels(r.stream).inc(r.released);
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
    held = undefined;
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
