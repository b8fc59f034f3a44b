// Two api processes behind one audit trail (AUDIT_SHARED, services/api/src/shared-audit.ts) on
// real Kafka: each puts its own events on lethe.audit.v1 and keeps a copy of the topic as its
// hash-chained file. Requests to either are in the transparency report of the one asked as soon
// as it answers; both files verify and end with the same head; one instance SIGKILLed while the
// other goes on catches up when it is back, storing every event once, to the same head again.
// On a Kafka broker of its own: the audit topic is a trail every api reads whole, so the
// request events put on it here would be counted by the other suites' apis on the shared one.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyJsonLines, type AuditRecord } from '@lethe/audit';
import { tokenHash } from '@lethe/config';
import { createKafka, ensureTopics } from '@lethe/kafka';
import { createLogger } from '@lethe/observability';
import { DEFAULT_POLICY_PATH, loadPolicy, topicSpecs } from '@lethe/privacy';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { plateMovementsRequest } from '../support/data-requests.ts';
import { startNativeServers, type NativeServers } from '../support/native-servers.ts';
import { freePort, influxEnv, startService, type RunningService } from '../support/services.ts';
import { waitFor } from '../support/wait.ts';

const infra = inject('infra');
const logger = createLogger({ service: 'test', level: 'silent' });
const RUN = randomBytes(4).toString('hex');
const PLATE = 'CZ9 SH4R3';
const POLICE_TOKEN = randomBytes(32).toString('base64url');
const dir = mkdtempSync(join(tmpdir(), 'lethe-api-shared-'));
const tokens = join(dir, 'api-requester-tokens');
writeFileSync(tokens, JSON.stringify({ version: 1, tokens: { 'hk-police-force': tokenHash(POLICE_TOKEN) } }));

type Name = 'a' | 'b';
const ports: Record<Name, number> = { a: 0, b: 0 };
const file = (name: Name) => join(dir, `audit-${name}.jsonl`);
const running: RunningService[] = [];
let kafkaServer: NativeServers | undefined;
let brokers: string[] = [];
const start = (name: Name) =>
  startService(
    'api',
    {
      ...influxEnv(infra.influx, 'api'),
      KAFKA_BROKERS: brokers.join(','),
      KAFKA_GROUP_ID: `lethe-api-shared-${RUN}`,
      AUDIT_LOG_FILE: file(name),
      AUDIT_SHARED: 'true',
      REQUESTER_TOKENS_FILE: tokens,
      WATCH_INTERVAL_SECONDS: '1',
    },
    { port: ports[name] },
  ).then((s) => (running.push(s), s));
const url = (name: Name, path: string) => `http://127.0.0.1:${ports[name]}${path}`;
const readLog = (name: Name): AuditRecord[] =>
  readFileSync(file(name), 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditRecord);

async function ask(name: Name): Promise<string> {
  const res = await fetch(url(name, '/v1/data-requests'), {
    method: 'POST',
    headers: { authorization: `Bearer ${POLICE_TOKEN}`, 'content-type': 'application/json' },
    body: plateMovementsRequest(Date.now() - 7 * 86_400_000, PLATE),
  });
  expect(res.status, `${name} answers the request`).toBe(200);
  return ((await res.json()) as { requestId: string }).requestId;
}
const policeRequests = async (name: Name) =>
  ((await (await fetch(url(name, '/v1/transparency-report'))).json()) as { totals: { byRequesterType: Record<string, { requests: number }> } }).totals
    .byRequesterType.police?.requests ?? 0;
const heads = async () =>
  Promise.all(
    (['a', 'b'] as const).map(async (n) => ((await (await fetch(url(n, '/v1/transparency-report'))).json()) as { audit: { head: unknown } }).audit.head),
  );
const received = (name: Name, ids: readonly string[]) => readLog(name).filter((r) => r.type === 'request.received' && ids.includes(String(r.data.requestId)));

beforeAll(async () => {
  kafkaServer = await startNativeServers({
    env: {
      LETHE_LOCAL_DIR: join(dir, 'servers'),
      LETHE_KAFKA_PORT: String(await freePort()),
      LETHE_KAFKA_CONTROLLER_PORT: String(await freePort()),
      LETHE_KAFKA_SASL_PORT: '',
    },
    services: ['kafka'],
  });
  brokers = kafkaServer.endpoints.KAFKA_BROKERS!.split(',');
  const kafka = createKafka({ brokers, clientId: `api-shared-${RUN}`, logger });
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, topicSpecs(loadPolicy(DEFAULT_POLICY_PATH)), logger);
  await admin.disconnect();
  ports.a = await freePort();
  ports.b = await freePort();
}, 180_000);

afterAll(async () => {
  await Promise.all(running.map((s) => s.stop()));
  await kafkaServer?.down();
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('two api instances, one audit trail', () => {
  it('both chain every event once, in the same order, to the same head, across a SIGKILL of one', async () => {
    const a = await start('a');
    const b = await start('b');
    // The topic is this test's own: empty, so neither has a record yet.
    expect(await heads()).toEqual([null, null]);

    const ids: string[] = [];
    const before = await policeRequests('a');
    ids.push(await ask('a'));
    expect(await policeRequests('a'), 'in the report of the instance asked as soon as it answered').toBe(before + 1);
    ids.push(await ask('b'));
    expect((await fetch(url('b', '/v1/people'))).status).toBe(403);
    await waitFor(
      'the same head on both',
      async () => {
        const [ha, hb] = await heads();
        return JSON.stringify(ha) === JSON.stringify(hb) && received('a', ids).length === 2 && received('b', ids).length === 2;
      },
      30_000,
    );
    expect(await policeRequests('b')).toBe(before + 2);

    // b dies without a word while a goes on; back, it catches up from its own file's positions.
    b.process.kill('SIGKILL');
    await new Promise((r) => b.process.once('exit', r));
    ids.push(await ask('a'), await ask('a'));
    const b2 = await start('b');
    await waitFor(
      'b, restarted, to catch up to a’s head',
      async () => {
        const [ha, hb] = await heads();
        return JSON.stringify(ha) === JSON.stringify(hb) && received('b', ids).length === 4;
      },
      60_000,
    );

    for (const name of ['a', 'b'] as const) {
      const records = readLog(name);
      expect(verifyJsonLines(readFileSync(file(name), 'utf8')), `${name}'s file`).toMatchObject({ ok: true });
      expect(((await (await fetch(url(name, '/v1/audit/verify'))).json()) as { ok: boolean }).ok).toBe(true);
      expect(
        received(name, ids)
          .map((r) => r.data.requestId)
          .sort(),
        `${name}: each request once`,
      ).toEqual([...ids].sort());
      expect(new Set(records.map((r) => String(r.data.source))).size, `${name}: no topic position twice`).toBe(records.length);
    }
    expect(readLog('b').map((r) => r.hash)).toEqual(readLog('a').map((r) => r.hash));

    const everything = [file('a'), file('b')].map((f) => readFileSync(f, 'utf8')).join('') + a.output() + b.output() + b2.output();
    expect(everything).not.toContain('SH4R3');
  }, 240_000);
});
