// Stage 1 wired to Kafka: one partial stage (@lethe/privacy createPartialStage) per input
// partition this instance owns; records in through `eachBatch`, window partials out to the
// partials topic as windows close, and input offsets committed only once the partials of their
// windows are in Kafka. Each partition's commit carries how far its windows were emitted, so
// whoever owns it next (this process after a restart, another after a rebalance) continues
// the partition's partials without a gap or a second, different copy.
//
// When a window closes. A partition that is caught up (read to its end) closes windows by the
// wall clock, end + grace, as records arrive live. A partition with a backlog (a restart, a new
// consumer group, a burst) closes them by its own event time instead — the newest record read
// minus the grace — so a backlog is summarized exactly as it would have been live rather than
// thrown away as late, and every instance that reads the partition, now or later, emits the same
// partials.
import type { Admin, BatchingProducer, Consumer, EachBatchPayload } from '@lethe/kafka';
import { createOutbox, retryKafka } from '@lethe/kafka';
import { floorToBlock, type Logger } from '@lethe/observability';
import { createPartialStage, partialKey, seriesOf, type AddOutcome, type Clock, type PartialInput, type PartialStage, type Policy } from '@lethe/privacy';
import { compileRecordParsers } from '@lethe/schemas';
import { decodeStageMetadata, encodeStageMetadata } from './commit-metadata.ts';
import type { ProcessorMetrics } from './metrics.ts';
import { OffsetTracker } from './offset-tracker.ts';

export interface ProcessorTopics {
  readings: string;
  sightings: string;
  partials: string;
}

export interface ProcessorDeps {
  policy: Policy;
  consumer: Consumer;
  producer: BatchingProducer;
  admin: Pick<Admin, 'fetchOffsets' | 'fetchTopicOffsets'>;
  /** Stage 1's consumer group (committed offsets and their metadata). */
  groupId: string;
  topics: ProcessorTopics;
  metrics: ProcessorMetrics;
  logger: Logger;
  graceMs: number;
  /** How long windows wait for input that stopped (see stageCutoff). */
  maxWaitMs: number;
  clock: Clock;
}

interface PartitionState {
  stage: PartialStage;
  /** Newest record timestamp read (event time), the partition's own clock while it has a backlog. */
  newest: number;
  /** Read to the end of the partition as of the last fetch. */
  caughtUp: boolean;
}

/**
 * Up to when a partition's windows close. By event time: `grace` behind the newest record read —
 * while it works through a backlog, the partition's own newest (so the result does not depend on
 * when ticks run); once caught up, the newest of its topic in this instance. So when the input
 * stops because something upstream is down (a gateway, Mosquitto, Kafka), windows wait, and the
 * readings held up there are not late when they come. The wall clock still closes windows once
 * the newest record is `maxWait` old: the input may really have stopped. (Closing by the clock
 * alone would drop every reading held up for more than the grace as late; the fault suite's
 * Kafka restart showed it.)
 */
export function stageCutoff({
  now,
  graceMs,
  maxWaitMs,
  caughtUp,
  newest,
}: {
  now: number;
  graceMs: number;
  maxWaitMs: number;
  caughtUp: boolean;
  newest: number;
}): number {
  const byEventTime = Math.min(now, newest) - graceMs;
  return caughtUp ? Math.max(byEventTime, now - Math.max(maxWaitMs, graceMs)) : byEventTime;
}

export function createProcessor({ policy, consumer, producer, admin, groupId, topics, metrics, logger, graceMs, maxWaitMs, clock }: ProcessorDeps) {
  const states = new Map<string, PartitionState>();
  const opening = new Map<string, Promise<PartitionState | undefined>>();
  const tracker = new OffsetTracker();
  /** Partials not yet acknowledged by Kafka, in order; sent before anything newer. */
  const outbox = createOutbox(producer);
  // Every input record is checked again here (a topic is a trust boundary): compiled once, a few µs per reading less than zod.
  const parse = compileRecordParsers();
  let closedSinceCommit = false;
  let generation = 0;
  let ticking = false;
  const key = (topic: string, partition: number) => `${topic}|${partition}`;
  const inputOf = (topic: string): PartialInput => (topic === topics.readings ? 'readings' : 'sightings');

  /** A stage for a partition, continuing from its committed offset and metadata. */
  async function open(topic: string, partition: number, gen: number): Promise<PartitionState | undefined> {
    const what = `reading the committed offset of ${topic}/${partition}`;
    const [committed] = await retryKafka(() => admin.fetchOffsets({ groupId, topics: [topic] }), { what, logger });
    const ends = await retryKafka(() => admin.fetchTopicOffsets(topic), { what, logger });
    if (gen !== generation) return undefined;
    const c = committed?.partitions.find((p) => p.partition === partition);
    const end = ends.find((p) => p.partition === partition);
    const fresh = c === undefined || c.offset === '-1';
    const stage = createPartialStage({ policy, clock, input: { type: inputOf(topic), topic, partition } });
    if (!fresh) {
      stage.restore(decodeStageMetadata(c.metadata).closedUpTo);
      tracker.startAt(topic, partition, c.offset);
    }
    // Where reading starts: the committed offset, or the log start if retention deleted past it.
    const low = BigInt(end?.low ?? '0');
    const from = fresh || BigInt(c.offset) < low ? low : BigInt(c.offset);
    // Nothing to read (kafkajs then delivers no batch that could tell): windows close by the clock at once.
    const state: PartitionState = { stage, newest: -Infinity, caughtUp: end === undefined || from >= BigInt(end.high) };
    states.set(key(topic, partition), state);
    logger.info({ topic, partition, fresh, closedUpTo: new Date(stage.closedUpTo).toISOString(), caughtUp: state.caughtUp }, 'stage 1 took a partition');
    return state;
  }

  function ensure(topic: string, partition: number): Promise<PartitionState | undefined> {
    const k = key(topic, partition);
    const ready = states.get(k);
    if (ready) return Promise.resolve(ready);
    let pending = opening.get(k);
    if (!pending) {
      const gen = generation;
      pending = open(topic, partition, gen).finally(() => {
        if (opening.get(k) === pending) opening.delete(k);
      });
      opening.set(k, pending);
    }
    return pending;
  }

  /** What one input record brought: the outcome of each reading or sighting in it, and its event time and window end. */
  interface Added {
    outcomes: Array<AddOutcome | 'invalid'>;
    ts?: number;
    windowEnd?: number;
  }

  function add(stage: PartialStage, topic: string, value: Buffer | null): Added {
    let json: unknown;
    try {
      json = JSON.parse(value?.toString('utf8') ?? '');
    } catch {
      return { outcomes: ['invalid'] };
    }
    if (topic === topics.readings) {
      const reading = parse.reading(json);
      if (!reading) return { outcomes: ['invalid'] };
      return { outcomes: [stage.addReading(reading)], ts: reading.ts, windowEnd: stage.heldUntil(reading.kind, reading.ts, false) };
    }
    // The sightings of one reading for this partition (or one sighting, as gateways before bundles wrote them): one device, slot and epoch.
    const sightings = parse.sightings(json);
    if (!sightings) return { outcomes: ['invalid'] };
    const { kind, ts } = sightings[0]!;
    // A sighting is needed until its epoch ends (dwell times, trips), not only its window.
    return { outcomes: sightings.map((sighting) => stage.addSighting(sighting)), ts, windowEnd: stage.heldUntil(kind, ts, true) };
  }

  /** Closes a partition's windows up to `cutoff`; their partials wait in the outbox for the next tick. */
  function closeDue(state: PartitionState, cutoff: number): void {
    for (const partial of state.stage.closeDue(cutoff)) {
      // Stamped with the end of its window (dwell: of its epoch): the partials topic's retention
      // (the raw-data TTL) then counts from the data's time, as for the sightings it summarizes.
      outbox.push({ topic: topics.partials, key: partialKey(partial), value: JSON.stringify(partial), timestamp: partial.windowEnd });
      metrics.partialsEmitted.labels(seriesOf(partial)).inc();
      closedSinceCommit = true;
    }
  }

  async function eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const state = await ensure(batch.topic, batch.partition);
    if (!state) return;
    // Counted per reading and per sighting, whatever the records that carried them; added to the
    // metric once per batch (also when the batch ends early), not looked up per sighting.
    const counts = new Map<AddOutcome | 'invalid', number>();
    let whole: boolean;
    try {
      whole = addBatch(state, batch, counts, resolveOffset, isRunning, isStale);
    } finally {
      for (const [outcome, n] of counts) metrics.records.labels(batch.topic, outcome).inc(n);
    }
    // Stopped or rebalanced mid-batch: what is left is another run's or another member's.
    if (!whole) return;
    state.caughtUp = batch.offsetLag() === '0';
    // Sightings records are written per reading with someone about, so their lag moves with
    // presence: exported in whole blocks, as the sightings counters are (P9).
    const lag = Number(batch.offsetLag());
    metrics.consumerLag.labels(batch.topic, String(batch.partition)).set(batch.topic === topics.sightings ? floorToBlock(lag) : lag);
    await heartbeat();
  }

  function addBatch(
    state: PartitionState,
    batch: EachBatchPayload['batch'],
    counts: Map<AddOutcome | 'invalid', number>,
    resolveOffset: EachBatchPayload['resolveOffset'],
    isRunning: () => boolean,
    isStale: () => boolean,
  ): boolean {
    for (const message of batch.messages) {
      if (!isRunning() || isStale()) return false;
      const { outcomes, ts, windowEnd } = add(state.stage, batch.topic, message.value);
      for (const outcome of outcomes) counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
      // Expired and future say the record's time is not to be believed (a sighting record's are one time for all).
      const timely = outcomes[0] !== 'invalid' && outcomes[0] !== 'expired' && outcomes[0] !== 'future';
      if (ts !== undefined && timely && ts > state.newest) {
        state.newest = ts;
        // Working through a backlog, windows close by the partition's own event time, record by
        // record, so the result does not depend on when ticks happen to run.
        if (!state.caughtUp) closeDue(state, stageCutoff({ now: clock.now(), graceMs, maxWaitMs, caughtUp: false, newest: ts }));
      }
      // A duplicate still holds its window: after a rebalance it is the replayed copy of a record whose window is open.
      const holds = outcomes.some((o) => o === 'accepted' || o === 'duplicate');
      tracker.processed(batch.topic, batch.partition, message.offset, holds ? windowEnd : undefined);
      resolveOffset(message.offset);
    }
    return true;
  }

  /** Emits the partials of windows that are due, then commits what they summarized. */
  async function tick(): Promise<void> {
    if (ticking) return;
    ticking = true;
    try {
      const now = clock.now();
      // The newest record per input topic: partitions fed by the same gateways stop and resume together.
      const newest = new Map<string, number>();
      for (const [k, state] of states) {
        const topic = k.slice(0, k.lastIndexOf('|'));
        newest.set(topic, Math.max(newest.get(topic) ?? -Infinity, state.newest));
      }
      for (const [k, state] of states) {
        const topicNewest = newest.get(k.slice(0, k.lastIndexOf('|')))!;
        closeDue(state, stageCutoff({ now, graceMs, maxWaitMs, caughtUp: state.caughtUp, newest: state.caughtUp ? topicNewest : state.newest }));
      }
      // What is in Kafka once this send is acknowledged: windows closed up to here. Windows that
      // close while it is in flight (eachBatch goes on) wait for the next tick, and so do their offsets.
      const sentUpTo = new Map([...states].map(([k, s]) => [k, s.stage.closedUpTo]));
      const unchanged = closedSinceCommit;
      closedSinceCommit = false;
      let sent;
      try {
        sent = await outbox.flush();
      } catch (err) {
        closedSinceCommit = true;
        throw err;
      }
      if (sent > 0) logger.debug({ partials: sent }, 'emitted partials');
      // Whenever windows closed, commit every partition (moved or not), so its metadata says how far its windows went.
      const offsets = tracker.committable(({ topic, partition }) => sentUpTo.get(key(topic, partition)) ?? 0, { unchanged });
      const owned = offsets.filter((o) => sentUpTo.has(key(o.topic, o.partition)) && states.has(key(o.topic, o.partition)));
      if (owned.length > 0) {
        await consumer.commitOffsets(owned.map((o) => ({ ...o, metadata: encodeStageMetadata({ closedUpTo: sentUpTo.get(key(o.topic, o.partition))! }) })));
        tracker.markCommitted(owned);
      }
      let open = 0;
      let held = 0;
      let sightings = 0;
      for (const s of states.values()) {
        open += s.stage.openWindows();
        held += s.stage.pseudonymsHeld();
        sightings += s.stage.sightingsHeld();
      }
      metrics.openWindows.set(open);
      metrics.pseudonymsHeld.set(held);
      metrics.sightingsHeld.set(sightings);
    } finally {
      ticking = false;
    }
  }

  /** After a rebalance: forget every partition (their state is replayed from the committed offsets), open the assigned ones. */
  function assigned(assignment: Record<string, number[]>): void {
    generation++;
    states.clear();
    opening.clear();
    tracker.reset();
    for (const topic of [topics.readings, topics.sightings]) {
      const partitions = assignment[topic] ?? [];
      metrics.inputPartitions.labels(topic).set(partitions.length);
      for (const partition of partitions)
        void ensure(topic, partition).catch((err: unknown) =>
          logger.error({ err, topic, partition }, 'could not take over a partition; retrying at its next batch'),
        );
    }
  }

  return {
    eachBatch,
    tick,
    assigned,
    /** Partitions this instance runs stage 1 for. */
    partitions: () => [...states.keys()],
  };
}
