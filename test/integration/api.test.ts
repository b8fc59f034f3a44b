// The api as a real process against real Kafka and InfluxDB: a police request for a plate's
// movements is refused with reasons and shows up in the transparency report; a route that
// would expose sightings answers 403; open data comes from InfluxDB through the real Flux;
// audit events from lethe.audit.v1 land in the hash-chained log exactly once across a
// restart; the log file verifies; the register states each topic's replication as the broker
// reports it; and the plate asked about is found nowhere. Also: the
// low-watermark watch finds the oldest record's timestamp on a real broker without reading a
// record, and records deletions.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfluxDB, Point } from '@influxdata/influxdb-client';
import { createMemoryAuditLog, toAuditEventRecord, verifyJsonLines, type AuditRecord } from '@lethe/audit';
import { createKafka, describeTopicReplication, ensureTopics } from '@lethe/kafka';
import { createLogger } from '@lethe/observability';
import { DEFAULT_POLICY_PATH, loadPolicy, topicSpecs } from '@lethe/privacy';
import { TOPICS } from '@lethe/schemas';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPersonalTopicWatch } from '../../services/api/src/personal-topic-watch.ts';
import { tokenHash } from '@lethe/config';
import { influxEnv, startService, type RunningService } from '../support/services.ts';
import { plateMovementsRequest } from '../support/data-requests.ts';
import { waitFor as waitUntil } from '../support/wait.ts';

const infra = inject('infra');
const logger = createLogger({ service: 'test', level: 'silent' });
const policy = loadPolicy(DEFAULT_POLICY_PATH);
const RUN = randomBytes(4).toString('hex');
const PLATE = 'CZ9 ZX731';
const POLICE_TOKEN = randomBytes(32).toString('base64url');
const MIN = 60_000;
/** Figures two days back, aligned to 3 minutes (the test re-aggregates into 3m windows), so no other suite writes the same points. */
const BASE = Math.floor((Date.now() - 2 * 86_400_000) / (3 * MIN)) * 3 * MIN;

const kafka = createKafka({ brokers: infra.kafkaBrokers, clientId: `api-it-${RUN}`, logger });
const dir = mkdtempSync(join(tmpdir(), 'lethe-api-it-'));
const auditFile = join(dir, 'audit', 'api.jsonl');
let api: RunningService;

function apiEnv(): Record<string, string> {
  const tokens = join(dir, 'api-requester-tokens');
  writeFileSync(tokens, JSON.stringify({ version: 1, tokens: { 'hk-police-force': tokenHash(POLICE_TOKEN) } }));
  return {
    ...influxEnv(infra.influx, 'api'),
    KAFKA_BROKERS: infra.kafkaBrokers.join(','),
    KAFKA_GROUP_ID: `lethe-api-it-${RUN}`,
    AUDIT_LOG_FILE: auditFile,
    REQUESTER_TOKENS_FILE: tokens,
    WATCH_INTERVAL_SECONDS: '1',
  };
}

async function produceAuditEvent(epoch: number): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  // Marked as the test's own (actor and run), so no other suite mistakes it for the gateway's.
  // Its epoch ended well before the live figures' time, so the register counts it at once.
  const record = toAuditEventRecord({
    type: 'key.destroyed',
    actor: 'integration-test',
    at: Date.now(),
    data: { epoch, run: RUN, epochEnd: new Date(Date.now() - 30 * MIN).toISOString() },
  });
  await producer.send({ topic: TOPICS.audit, acks: -1, messages: [{ key: 'gateway', value: JSON.stringify(record) }] });
  await producer.disconnect();
}

const readLog = (): AuditRecord[] =>
  readFileSync(auditFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as AuditRecord);
const ourKeyEvents = () => readLog().filter((r) => r.type === 'key.destroyed' && r.data.run === RUN);

/** Waits up to 30 s; on timeout, says what the api printed last. */
const waitFor = (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000) =>
  waitUntil(what, check, timeoutMs, { context: () => api?.output().slice(-3000) ?? '' });

const url = (path: string) => `http://127.0.0.1:${api.port}${path}`;

beforeAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, topicSpecs(policy), logger);
  await admin.disconnect();
  // Open data and today's ε, written as the writer would (write-only token).
  const writeApi = new InfluxDB({ url: infra.influx.url, token: infra.influx.writerToken }).getWriteApi(infra.influx.org, infra.influx.bucket, 'ms');
  for (let i = 0; i < 3; i++) {
    for (const [district, people] of [
      ['wan-chai', 40 + i],
      ['eastern', 10 + i],
    ] as const) {
      writeApi.writePoint(
        new Point('pedestrians')
          .tag('scope', 'district')
          .tag('district', district)
          .tag('window', '60s')
          .floatField('people', people)
          .timestamp(new Date(BASE + i * MIN)),
      );
    }
  }
  writeApi.writePoint(
    new Point('privacy')
      .tag('stream', `api_it_${RUN}`)
      .tag('window', '60s')
      .floatField('epsilon_spent_today', 7)
      .floatField('epsilon_budget_today', 1440)
      .timestamp(new Date(Math.max(Date.now() - 3 * MIN, Math.floor(Date.now() / 86_400_000) * 86_400_000))),
  );
  await writeApi.close();
  await produceAuditEvent(1);
  api = await startService('api', apiEnv());
}, 120_000);

afterAll(async () => {
  await api?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the api on real Kafka and InfluxDB', () => {
  it("refuses a police request for a plate's movements with reasons, and reports it", async () => {
    const res = await fetch(url('/v1/data-requests'), {
      method: 'POST',
      headers: { authorization: `Bearer ${POLICE_TOKEN}`, 'content-type': 'application/json' },
      body: plateMovementsRequest(Date.now() - 7 * 86_400_000, PLATE),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { decision: string; reasons: string[]; requestId: string };
    expect(body.decision).toBe('refused');
    expect(body.reasons).toEqual(['NOT_COLLECTED', 'EXPIRED', 'UNLINKABLE', 'OUT_OF_PURPOSE']);

    const report = (await (await fetch(url('/v1/transparency-report'))).json()) as {
      totals: { byRequesterType: Record<string, { requests: number; refused: number; refusalsByReason: Record<string, number> }> };
      audit: { head: { seq: number; hash: string } };
    };
    expect(report.totals.byRequesterType.police).toMatchObject({
      requests: 1,
      refused: 1,
      refusalsByReason: { NOT_COLLECTED: 1, EXPIRED: 1, UNLINKABLE: 1, OUT_OF_PURPOSE: 1 },
    });
    expect(report.audit.head.hash).toMatch(/^[0-9a-f]{64}$/);
    expect((await fetch(url('/v1/data-requests'), { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).status).toBe(401);
  });

  it('states in the register every topic’s replication as the broker reports it, read when the api started', async () => {
    const admin = kafka.admin();
    await admin.connect();
    const topics = topicSpecs(policy).map((s) => s.topic);
    const broker = await describeTopicReplication(admin, topics).finally(() => admin.disconnect());
    const body = (await (await fetch(url('/v1/register'))).json()) as { topics: Array<{ topic: string; replication: unknown }> };
    expect(Object.fromEntries(body.topics.map((t) => [t.topic, t.replication]))).toEqual(
      Object.fromEntries(
        topics.map((t) => [
          t,
          {
            state: 'read',
            replicas: broker[t]!.replicationFactor,
            minInsyncReplicas: broker[t]!.minInsyncReplicas,
            uncleanLeaderElection: broker[t]!.uncleanLeaderElection,
          },
        ]),
      ),
    );
  });

  it('answers 403 on /v1/devices/LP-0001/sightings', async () => {
    const res = await fetch(url('/v1/devices/LP-0001/sightings'));
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'individual-level data is not available', see: '/register' });
  });

  it('serves open data from InfluxDB, filtered, re-aggregated and paginated by the real Flux', async () => {
    const range = `start=${new Date(BASE).toISOString()}&stop=${new Date(BASE + 3 * MIN).toISOString()}`;
    type Page = { data: Array<{ value: number; tags: Record<string, string>; time: string; window: string }>; page: { next: string | null } };
    const res = await fetch(url(`/v1/aggregates?measurement=pedestrians&scope=district&field=people&${range}&limit=4`));
    const body = await res.text();
    expect(res.status, body).toBe(200);
    const first = JSON.parse(body) as Page;
    expect(first.data.map((r) => [r.time, r.tags.district, r.value])).toEqual([
      [new Date(BASE).toISOString(), 'eastern', 10],
      [new Date(BASE).toISOString(), 'wan-chai', 40],
      [new Date(BASE + MIN).toISOString(), 'eastern', 11],
      [new Date(BASE + MIN).toISOString(), 'wan-chai', 41],
    ]);
    const second = (await (await fetch(url(first.page.next!))).json()) as Page;
    expect(second.data.map((r) => r.value)).toEqual([12, 42]);
    expect(second.page.next).toBeNull();
    const windowed = (await (await fetch(url(`/v1/aggregates?measurement=pedestrians&district=wan-chai&${range}&window=3m&aggregate=sum`))).json()) as Page;
    expect(windowed.data.map((r) => [r.value, r.window])).toEqual([[123, '3m']]);
    expect((await fetch(url(`/v1/aggregates?measurement=pedestrians&plate=${encodeURIComponent(PLATE)}`))).status).toBe(403);
  });

  it('shows live figures in the register: keys destroyed from the audit topic, ε from InfluxDB, retention checks of Kafka', async () => {
    await waitFor('the key.destroyed event from lethe.audit.v1', () => ourKeyEvents().length === 1);
    // The figures about people are as of the policy's window (60 s) at least 15 s back, counting
    // only checks made by then: the first appear up to 15 + 60 + 60 s after the api started.
    await waitFor(
      'the first retention checks in the live figures',
      async () => ((await (await fetch(url('/v1/register'))).json()) as { live: { unavailable: string[] } }).live.unavailable.length === 0,
      200_000,
    );
    type Live = {
      keysDestroyed: { total: number };
      epsilonToday: Array<{ stream: string; spentToday: number }>;
      rawData: { topics: Array<{ topic: string; withinLimit: boolean | null }> };
      unavailable: string[];
    };
    const { live } = (await (await fetch(url('/v1/register'))).json()) as { live: Live };
    expect(live.keysDestroyed.total).toBeGreaterThanOrEqual(1);
    expect(live.epsilonToday).toContainEqual(expect.objectContaining({ stream: `api_it_${RUN}`, spentToday: 7 }));
    expect(live.rawData.topics.map((t) => t.topic).sort()).toEqual([TOPICS.partials, TOPICS.rejected, TOPICS.sightings]);
    expect(live.rawData.topics.every((t) => t.withinLimit === true)).toBe(true);
    expect(live.unavailable).toEqual([]);
    const page = await (await fetch(url('/register'))).text();
    expect(page).toContain('id="keys-destroyed"');
    expect(page).toContain('id="requests-refused" data-count="1"');
  }, 240_000);

  it('keeps a log that verifies, stores each audit-topic event once across a restart, and never holds the plate', async () => {
    await api.stop();
    const text = readFileSync(auditFile, 'utf8');
    expect(verifyJsonLines(text)).toMatchObject({ ok: true });
    const types = readLog().map((r) => r.type);
    for (const type of ['request.received', 'request.refused', 'route.refused', 'export', 'key.destroyed']) expect(types, type).toContain(type);
    expect(ourKeyEvents()[0]!.data.source).toMatch(new RegExp(`^${TOPICS.audit.replaceAll('.', '\\.')}/0@\\d+$`));

    api = await startService('api', apiEnv());
    await produceAuditEvent(2);
    await waitFor('the second key.destroyed event', () => ourKeyEvents().length >= 2);
    await new Promise((r) => setTimeout(r, 1500)); // a redelivery of the first would show by now
    expect(ourKeyEvents().map((r) => r.data.epoch)).toEqual([1, 2]);
    expect(verifyJsonLines(readFileSync(auditFile, 'utf8'))).toMatchObject({ ok: true });
    expect(((await (await fetch(url('/v1/audit/verify'))).json()) as { ok: boolean }).ok).toBe(true);

    const everything = readFileSync(auditFile, 'utf8') + api.output() + (await (await fetch(url('/metrics'))).text());
    expect(everything).not.toContain('CZ9');
    expect(everything).not.toContain('ZX731');
  });
});

describe('the personal-topic watch on a real broker', () => {
  it('finds the oldest record timestamp from offsets alone and records a deletion when the low watermark moves', async () => {
    const topic = `api-watch-test.${RUN}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });
    const producer = kafka.producer();
    await producer.connect();
    const now = Date.now();
    const stamps = [now - 20 * MIN, now - 14 * MIN + 345, now - 9 * MIN, now - 2 * MIN];
    await producer.send({ topic, acks: -1, messages: stamps.map((ts, i) => ({ key: String(i), value: 'x', timestamp: String(ts) })) });
    await producer.disconnect();

    const audit = createMemoryAuditLog();
    // Limit 14 min: the record 20 min old is past it; once Kafka deleted the first two, the oldest is 9 min old.
    const watch = createPersonalTopicWatch({ admin, topics: [topic], audit, intervalMs: 1000, periodMs: MIN, limitMs: 14 * MIN, logger });
    const t0 = Math.floor(Date.now() / MIN) * MIN;
    await watch.runSlot(t0);
    expect(watch.between(t0, t0 + 1)[0]!.topics).toEqual([{ topic, withinLimit: false }]);

    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '2' }] });
    await watch.runSlot(t0 + 1000);
    expect(watch.between(t0 + 1000, t0 + 2000)[0]!.topics).toEqual([{ topic, withinLimit: true }]);
    // The period's attestation: the schedule and the outcome, no count, offset or record time (P9).
    await watch.runSlot(t0 + MIN);
    expect((await audit.records()).map((r) => [r.at, r.data])).toEqual([
      [
        t0 + MIN,
        {
          topic,
          periodStart: new Date(t0).toISOString(),
          periodEnd: new Date(t0 + MIN).toISOString(),
          limitSeconds: 14 * 60,
          checks: 2,
          failedChecks: 0,
          withinLimit: false,
          observedBy: 'scheduled-check',
        },
      ],
    ]);
    await admin.deleteTopics({ topics: [topic] });
    await admin.disconnect();
  });
});
