// P9 — the ε ledger cannot be reset from outside. An attacker who can start processors (or an
// operator who redeploys carelessly) re-runs the releaser over the same partials under new
// consumer groups and new noise keys, collects every aggregate record they emit, and averages
// the noisy releases of each figure to recover its true count. With a ledger that forgets (one
// kept only in a consumer group's offset metadata) 20 re-runs give 21 independent noisy values
// per figure and an average close to the truth; with the ledger topic every re-run finds the
// windows claimed by another noise key and releases nothing new.
//
// The partials are written by hand (true counts known exactly) to the partials topic of a
// run-specific prefix; the processors are real processes on the real broker. Re-runs go five at
// a time, so they also race each other for the windows after the last hand-written one.
import { randomBytes } from 'node:crypto';
import { createKafka, ensureTopics, type Admin } from '@lethe/kafka';
import { createLogger } from '@lethe/observability';
import { DEFAULT_POLICY_PATH, loadPolicy, topicSpecs } from '@lethe/privacy';
import { AggregateRecordSchema, topicNames, type AggregateRecord, type WindowPartialRecord } from '@lethe/schemas';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startService, type RunningService } from '../support/services.ts';
import { waitFor } from '../support/wait.ts';

const infra = inject('infra');
const RUN = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
const PREFIX = `p9l-${RUN}.`;
const TOPICS = topicNames(PREFIX);
const RERUNS = 20;
const AT_ONCE = 5;
const SERIES = 'sightings:wifi';
const logger = createLogger({ service: 'p9-ledger-test', level: 'warn' });
const policy = loadPolicy(DEFAULT_POLICY_PATH);
const WINDOW = policy.kinds.lamppost.window;

/** The people per cell the hand-written partials report in every window: cells of at least k are released, and districts with enough people in suppressed cells. */
const CELLS = [
  { deviceId: 'LP-0001', district: 'p9-north', people: 12 },
  { deviceId: 'LP-0002', district: 'p9-north', people: 20 },
  { deviceId: 'LP-0003', district: 'p9-north', people: 3 },
  { deviceId: 'LP-0004', district: 'p9-north', people: 4 },
  { deviceId: 'LP-0005', district: 'p9-south', people: 31 },
  { deviceId: 'LP-0006', district: 'p9-south', people: 45 },
];
const K = policy.kinds.lamppost.k;
const DISTRICTS = new Map<string, number>();
for (const c of CELLS) DISTRICTS.set(c.district, (DISTRICTS.get(c.district) ?? 0) + c.people);
const WINDOWS = 6;
// Windows that ended minutes ago: complete as soon as their partials are read.
const FIRST = Math.floor(Date.now() / WINDOW) * WINDOW - (WINDOWS + 3) * WINDOW;
const STARTS = Array.from({ length: WINDOWS }, (_, i) => FIRST + i * WINDOW);
const LAST_END = STARTS.at(-1)! + WINDOW;

function processorEnv(group: string, noiseKey: string): Record<string, string> {
  return {
    KAFKA_BROKERS: infra.kafkaBrokers.join(','),
    POLICY_FILE: DEFAULT_POLICY_PATH,
    KAFKA_GROUP_ID: group,
    KAFKA_TOPIC_PREFIX: PREFIX,
    KAFKA_PARTITIONS: '1',
    NOISE_KEY: noiseKey,
    WINDOW_GRACE_SECONDS: '1',
    WINDOW_MAX_WAIT_SECONDS: '1',
    TICK_MS: '200',
    LOG_LEVEL: 'warn',
  };
}

/** True once the group's releaser has committed past `end` (released the windows before it, or found them released). */
async function releasedAll(admin: Admin, group: string, end = LAST_END): Promise<boolean> {
  const [offsets] = await admin.fetchOffsets({ groupId: `${group}-releaser`, topics: [TOPICS.partials] });
  const metadata = offsets?.partitions[0]?.metadata;
  if (!metadata || offsets.partitions[0]!.offset === '-1') return false;
  const upTo = (JSON.parse(metadata) as { releasedUpTo?: Record<string, number> }).releasedUpTo ?? {};
  return (upTo[SERIES] ?? 0) >= end;
}

/** Every record of the aggregates topic, in order. */
async function readAggregates(admin: Admin): Promise<Array<{ key: string; record: AggregateRecord }>> {
  const total = (await admin.fetchTopicOffsets(TOPICS.aggregates)).reduce((n, p) => n + Number(p.high), 0);
  const consumer = createKafka({ brokers: infra.kafkaBrokers, clientId: 'p9-ledger-reader', logger }).consumer({
    groupId: `p9l-${RUN}-reader-${Date.now()}`,
    allowAutoTopicCreation: false,
  });
  const out: Array<{ key: string; record: AggregateRecord }> = [];
  await consumer.connect();
  await consumer.subscribe({ topic: TOPICS.aggregates, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      out.push({ key: message.key!.toString(), record: AggregateRecordSchema.parse(JSON.parse(message.value!.toString())) });
    },
  });
  try {
    await waitFor(`${total} aggregate records`, () => out.length >= total, 60_000);
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** The true count behind a released pedestrian figure of the hand-written windows, if it is one. */
function truth(r: AggregateRecord, field: string): number | undefined {
  if (r.measurement !== 'pedestrians' || field !== 'people' || !STARTS.includes(r.windowStart)) return undefined;
  if (r.tags.scope === 'cell') return CELLS.find((c) => c.deviceId === r.tags.device)?.people;
  if (r.tags.scope === 'district') return DISTRICTS.get(r.tags.district ?? '');
  return undefined;
}

describe('P9: re-runs under new consumer groups and new noise keys gain an attacker nothing', () => {
  const kafka = createKafka({ brokers: infra.kafkaBrokers, clientId: 'p9-ledger-test', logger });
  const admin = kafka.admin();
  const running = new Set<RunningService>();

  /** Hand-written partials of consecutive windows from `first`, the first one speaking for everything before it. */
  async function writePartials(starts: readonly number[], coversFrom: number): Promise<void> {
    const producer = kafka.producer();
    await producer.connect();
    const partials: WindowPartialRecord[] = starts.map((start, i) => ({
      v: 1,
      type: 'sightings',
      source: 'wifi',
      windowStart: start,
      windowEnd: start + WINDOW,
      coversFrom: i === 0 ? coversFrom : start,
      topic: TOPICS.sightings,
      partition: 0,
      cells: CELLS.map((c) => ({ ...c })),
      trips: [],
    }));
    await producer.send({ topic: TOPICS.partials, acks: -1, messages: partials.map((p) => ({ key: `${SERIES}|${p.windowStart}`, value: JSON.stringify(p) })) });
    await producer.disconnect();
  }

  /** Per figure (record key + field) of the pedestrian windows starting at `starts`, every value released. */
  async function pedestrianValues(starts: readonly number[]): Promise<Map<string, number[]>> {
    const values = new Map<string, number[]>();
    for (const { key, record } of await readAggregates(admin)) {
      if (record.measurement !== 'pedestrians' || !starts.includes(record.windowStart)) continue;
      for (const [field, v] of Object.entries(record.fields))
        (values.get(`${key}|${field}`) ?? values.set(`${key}|${field}`, []).get(`${key}|${field}`)!).push(v);
    }
    return values;
  }

  beforeAll(async () => {
    await admin.connect();
    await ensureTopics(admin, topicSpecs(policy, { prefix: PREFIX, readings: 1, sightings: 1 }), logger);
  });

  afterAll(async () => {
    for (const s of running) await s.stop();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(PREFIX));
    if (topics.length > 0) await admin.deleteTopics({ topics });
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(`p9l-${RUN}-`));
    if (groups.length > 0) await admin.deleteGroups(groups).catch(() => undefined);
    await admin.disconnect();
  });

  async function run(group: string, end = LAST_END): Promise<void> {
    const p = await startService('processor', processorEnv(group, randomBytes(32).toString('hex')));
    running.add(p);
    try {
      await waitFor(`${group} to get past the hand-written windows`, () => releasedAll(admin, group, end), 90_000);
    } finally {
      await p.stop();
      running.delete(p);
    }
    expect(p.process.exitCode ?? 0, `${group} exit code`).toBe(0);
  }

  it(`${RERUNS} re-runs over the same partials release no figure a second time with other noise`, async () => {
    await writePartials(STARTS, 0);

    // The first, legitimate release.
    await run(`p9l-${RUN}-first`);
    const first = await readAggregates(admin);
    const firstValue = new Map<string, number>();
    for (const { key, record } of first)
      for (const [field, v] of Object.entries(record.fields)) if (truth(record, field) !== undefined) firstValue.set(`${key}|${field}`, v);
    // At least every cell of k or more people, in every window (districts depend on the differencing rule).
    expect(firstValue.size, 'figures of the first release').toBeGreaterThanOrEqual(WINDOWS * CELLS.filter((c) => c.people >= K).length);

    // The attack: re-runs under new groups and new keys, five at a time, within a bounded time.
    const started = Date.now();
    for (let r = 0; r < RERUNS; r += AT_ONCE) {
      await Promise.all(Array.from({ length: Math.min(AT_ONCE, RERUNS - r) }, (_, i) => run(`p9l-${RUN}-rerun${r + i}`)));
    }
    const rerunSeconds = (Date.now() - started) / 1000;

    // Every value every run released, per figure (record key + field); privacy records carry ε, not people.
    const all = await readAggregates(admin);
    const values = new Map<string, number[]>();
    const truths = new Map<string, number>();
    for (const { key, record } of all) {
      if (record.measurement === 'privacy') continue;
      for (const [field, v] of Object.entries(record.fields)) {
        const id = `${key}|${field}`;
        (values.get(id) ?? values.set(id, []).get(id)!).push(v);
        const t = truth(record, field);
        if (t !== undefined) truths.set(id, t);
      }
    }
    const distinct = (id: string) => new Set(values.get(id)).size;
    const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const targets = [...truths.keys()];
    const averagedError = mean(targets.map((id) => Math.abs(mean(values.get(id)!) - truths.get(id)!)));
    const firstError = mean(targets.map((id) => Math.abs(firstValue.get(id)! - truths.get(id)!)));
    const distinctPerFigure = targets.map(distinct);
    const releasesPerFigure = targets.map((id) => values.get(id)!.length);
    console.log(
      `P9 ledger re-runs: ${RERUNS} re-runs (new group and noise key each) in ${rerunSeconds.toFixed(0)} s over ${targets.length} figures of ${WINDOWS} windows; ` +
        `releases per figure ${Math.min(...releasesPerFigure)}–${Math.max(...releasesPerFigure)}, distinct noisy values per figure mean ${mean(distinctPerFigure).toFixed(2)} max ${Math.max(...distinctPerFigure)}; ` +
        `attacker's mean |error| of the averaged estimate ${averagedError.toFixed(2)} people vs ${firstError.toFixed(2)} for the first release alone`,
    );

    expect(Math.max(...distinctPerFigure), 'distinct noisy values of one figure across all runs').toBe(1);
    for (const id of targets) expect(mean(values.get(id)!), `${id}: the attacker's average is the first release`).toBe(firstValue.get(id));
    // No figure at all (the windows after the hand-written ones included, which the re-runs raced for) has two values.
    const contested = [...values.keys()].filter((id) => distinct(id) > 1);
    expect(contested, 'figures released with two different values').toEqual([]);
  }, 600_000);

  it('releasers started together under different keys split the windows between them: each figure is published once', async () => {
    // Windows a day ahead: after everything released so far, and clear of what stage 1 emits for the present.
    const first = Math.floor(Date.now() / WINDOW) * WINDOW + 86_400_000;
    const starts = Array.from({ length: WINDOWS }, (_, i) => first + i * WINDOW);
    const end = starts.at(-1)! + WINDOW;
    // Started first, so that all of them read the partials (and race for their windows) at about the same time.
    const racers = await Promise.all(
      Array.from({ length: 4 }, (_, i) => startService('processor', processorEnv(`p9l-${RUN}-race${i}`, randomBytes(32).toString('hex')))),
    );
    for (const p of racers) running.add(p);
    try {
      await writePartials(starts, LAST_END);
      await Promise.all(racers.map((_, i) => waitFor(`racer ${i} to get past the windows`, () => releasedAll(admin, `p9l-${RUN}-race${i}`, end), 90_000)));
    } finally {
      for (const p of racers) {
        await p.stop();
        running.delete(p);
      }
    }
    const values = await pedestrianValues(starts);
    const withheld = racers.map((p) => (p.output().match(/withheld a release/g) ?? []).length);
    const windowsOut = new Set([...values.keys()].map((id) => id.split('|').at(-2)));
    console.log(
      `P9 ledger race: 4 releasers under 4 keys started together over ${WINDOWS} windows: ${windowsOut.size} windows published, ${values.size} figures, ` +
        `max distinct values per figure ${Math.max(0, ...[...values.values()].map((v) => new Set(v).size))}, releases withheld per releaser ${withheld.join('/')}`,
    );
    expect(values.size, 'something was published').toBeGreaterThan(0);
    for (const [id, v] of values) expect(new Set(v).size, `${id}: values across the racing releasers`).toBe(1);
  }, 300_000);
});
