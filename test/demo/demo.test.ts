// `pnpm demo` as a person uses it: one real process, no servers. The done-when — the
// health, register, report, aggregate and metrics endpoints answer, individual-level routes are
// refused, a data request for a plate's movements is refused with reasons and appears in the
// report — plus aggregates of every kind of sensor, the `lethe` CLI against it, the broker's
// authentication and ACL, and a clean shutdown that leaves no secret behind.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devicePassword } from '@lethe/config';
import { CLI_MAIN, eventually, startDemo, type DemoProcess } from '../support/demo-process.ts';

let demo: DemoProcess;

function lethe(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_MAIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => resolve({ code, stdout: stdout.trim(), stderr: stderr.trim() }));
  });
}

const get = async (path: string) => {
  const res = await fetch(`${demo.httpUrl}${path}`);
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
};
const json = async <T>(path: string): Promise<T> => JSON.parse((await get(path)).text) as T;

interface Rows {
  data: Array<{ time: string; field: string; value: number; tags: Record<string, string> }>;
}

beforeAll(async () => {
  // Rush hour, so there are enough people for person-derived figures at any time of day.
  demo = await startDemo({ SCENARIO: 'rush-hour', STATUS_SECONDS: '0' });
});
afterAll(async () => {
  await demo?.stop();
});

describe('pnpm demo', () => {
  it('prints what to open, the policy it runs and why, and how to publish and file a request by hand', () => {
    const out = demo.stdout();
    expect(out).toMatch(/Open {2}http:\/\/127\.0\.0\.1:\d+\/register/);
    expect(out).toMatch(/http:\/\/127\.0\.0\.1:\d+\/city/);
    expect(out).toMatch(/Policy: "lethe-reference-city-demo", a demo copy of seeds\/policy\.yaml with 10 s windows instead of 60 s/);
    expect(out).toMatch(/FLEET_SECRET_FILE=\S+ pnpm lethe publish SW-0001 --url mqtt:\/\/127\.0\.0\.1:\d+ /);
    expect(out).toMatch(/LETHE_TOKEN_FILE=\S+token-hk-police-force pnpm lethe request /);
    expect(out).toMatch(/ {2}hk-police-force +[A-Za-z0-9_-]{43}\n/);
    // The secrets are the user's alone.
    expect(statSync(demo.secretsDir).mode & 0o777).toBe(0o700);
    expect(statSync(demo.fleetSecretFile).mode & 0o777).toBe(0o600);
  });

  it('answers /livez, /readyz, /register, /v1/register, /v1/transparency-report, /openapi.json and /metrics with lethe_ metrics', async () => {
    expect(await get('/livez')).toMatchObject({ status: 200 });
    expect(await get('/readyz')).toMatchObject({ status: 200 });
    const page = await get('/register');
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/text\/html/);
    expect(page.text).toContain('lethe-reference-city-demo');
    const register = await json<{ policy: { id: string }; sensors: Array<{ kind: string }>; live: { unavailable: string[] } }>('/v1/register');
    expect(register.sensors.map((s) => s.kind)).toEqual(['lamppost', 'traffic-light', 'sewer']);
    // The figures about people are as of a past window (10 s here) at least 15 s back, counting the
    // retention checks made by then (every 5 s): they are all there some 20–35 s after the start.
    await eventually(
      async () => ((await json<{ live: { unavailable: string[] } }>('/v1/register')).live.unavailable.length === 0 ? true : undefined),
      90_000,
      'every live figure of the register',
    );
    expect(await get('/v1/transparency-report')).toMatchObject({ status: 200, type: expect.stringMatching(/json/) });
    expect(await get('/openapi.json')).toMatchObject({ status: 200 });
    const metrics = await get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.text).toMatch(/^lethe_api_http_requests_total\{/m);
    expect(metrics.text).toMatch(/^lethe_demo_messages_received_total\{service="demo"\} [1-9]/m);
    expect(metrics.text).toMatch(/^lethe_process_cpu_user_seconds_total/m);
  });

  it('refuses individual-level routes: /v1/devices/LP-0001/sightings answers 403', async () => {
    const res = await get('/v1/devices/LP-0001/sightings');
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text)).toMatchObject({ error: 'individual-level data is not available', see: '/register' });
    expect((await get('/v1/aggregates?measurement=pedestrians&plate=AB1234')).status).toBe(403);
  });

  it('publishes aggregates of all three kinds of sensor, and k-anonymous counts of people, within a minute', async () => {
    for (const measurement of ['lamppost', 'traffic_light', 'sewer', 'pedestrians', 'vehicles']) {
      const rows = await eventually(
        async () => {
          const body = await json<Rows>(`/v1/aggregates?measurement=${measurement}&start=-5m&limit=1000`);
          return body.data.length > 0 ? body.data : undefined;
        },
        60_000,
        `${measurement} aggregates`,
      );
      expect(rows[0]!.tags.district).toEqual(expect.any(String));
    }
    // Counts of people exist per cell and district only, never per device.
    const people = await json<Rows>('/v1/aggregates?measurement=pedestrians&field=people&start=-5m&limit=1000');
    expect(people.data.every((r) => r.tags.scope === 'cell' || r.tags.scope === 'district')).toBe(true);
  });

  it("refuses a data request for a plate's movements with its reasons (lethe request), and the report counts it", async () => {
    const before = await json<{ totals: { refused: number } }>('/v1/transparency-report');
    const run = await lethe(
      ['request', '--api', demo.httpUrl, '--subject', 'plate:AB 1234', '--data', 'movements', '--purpose', 'criminal-investigation', '--from', '-3h'],
      {
        LETHE_TOKEN_FILE: demo.tokenFile('hk-police-force'),
      },
    );
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/filed as hk-police-force \(police\)/);
    expect(run.stdout).toMatch(/Decision: REFUSED \(individual-level data\) — .*OUT_OF_PURPOSE/);
    expect(run.stdout).toMatch(/ {2}NOT_COLLECTED: .*licence plate is replaced by a pseudonym/);
    expect(run.stdout).toMatch(/ {2}EXPIRED: /);
    expect(run.stdout).not.toContain('AB 1234');

    const report = await json<{
      totals: { requests: number; refused: number; refusalsByReason: Record<string, number>; byRequesterType: Record<string, { refused: number }> };
    }>('/v1/transparency-report');
    expect(report.totals.refused).toBe(before.totals.refused + 1);
    expect(report.totals.refusalsByReason).toMatchObject({ NOT_COLLECTED: expect.any(Number), OUT_OF_PURPOSE: expect.any(Number) });
    expect(report.totals.refusalsByReason.OUT_OF_PURPOSE).toBeGreaterThanOrEqual(1);
    expect(report.totals.byRequesterType.police!.refused).toBeGreaterThanOrEqual(1);
    expect((await get('/v1/transparency-report')).text).not.toContain('AB 1234');

    const wrong = await lethe(['request', '--api', demo.httpUrl, '--subject', 'city', '--purpose', 'research'], {
      LETHE_TOKEN: 'not-the-token-of-anyone-at-all',
    });
    expect(wrong).toMatchObject({ code: 2, stderr: expect.stringMatching(/did not accept the token \(HTTP 401\)/) });
  });

  it('answers an aggregate request for a purpose of the policy with links into the open data', async () => {
    const run = await lethe([
      'request',
      '--api',
      demo.httpUrl,
      '--subject',
      'district:wan-chai',
      '--data',
      'pedestrians',
      '--purpose',
      'pedestrian-flow-planning',
      '--token-file',
      demo.tokenFile('transport-department'),
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Decision: ANSWERED from the open data/);
    expect(run.stdout).toMatch(/\/v1\/aggregates\?measurement=pedestrians&scope=district&district=wan-chai/);
  });

  it('takes a reading published by hand with lethe publish into the figures', async () => {
    const run = await lethe(['publish', 'SW-0001', '--url', demo.mqttUrl, 'levelCm=987.5', 'flowLps=160', 'h2sPpm=1.2', 'temperatureC=22.4', 'overflow=true'], {
      FLEET_SECRET_FILE: demo.fleetSecretFile,
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^published SW-0001's reading \(seq \d+, ts \S+\) to lethe\/v1\/sewer\/SW-0001\/reading: acknowledged by the broker in \d+ ms$/);
    const row = await eventually(
      async () =>
        (await json<Rows>('/v1/aggregates?measurement=sewer&scope=device&device=SW-0001&field=level_cm_max&start=-2m')).data.find((r) => r.value === 987.5),
      40_000,
      'the hand-published level in the sewer figures',
    );
    expect(row.tags).toMatchObject({ scope: 'device', device: 'SW-0001' });
  });

  it('authenticates every device and keeps it to its own topic', async () => {
    const fleetSecret = readFileSync(demo.fleetSecretFile, 'utf8').trim();
    await expect(connectAsync(demo.mqttUrl, { username: 'LP-0001', password: 'not-its-password', reconnectPeriod: 0, connectTimeout: 5000 })).rejects.toThrow(
      /Bad username or password/,
    );
    await expect(connectAsync(demo.mqttUrl, { reconnectPeriod: 0, connectTimeout: 5000 })).rejects.toThrow(/Bad username or password/);

    const client = await connectAsync(demo.mqttUrl, {
      clientId: 'acl-test-LP-0001',
      username: 'LP-0001',
      password: devicePassword(fleetSecret, 'LP-0001'),
      reconnectPeriod: 0,
    });
    // Reading other devices' readings: a negative SUBACK.
    await expect(client.subscribeAsync('lethe/v1/+/+/reading', { qos: 1 })).rejects.toThrow(/Subscribe error/);
    // Publishing as another device: the broker closes the connection instead of acknowledging.
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    void client.publishAsync('lethe/v1/sewer/SW-0002/reading', JSON.stringify({ deviceId: 'SW-0002' }), { qos: 1 }).catch(() => undefined);
    await closed;
    client.end(true);
    expect((await get('/metrics')).text).toMatch(/^lethe_demo_mqtt_acl_denied_total\{action="publish",service="demo"\} 1$/m);
  });

  it('lethe register prints the register and the live figures in plain words', async () => {
    const run = await lethe(['register', '--api', demo.httpUrl]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Transparency register — policy lethe-reference-city-demo, version 1/);
    for (const title of ['Smart lamppost (lamppost)', 'Traffic light controller (traffic-light)', 'Sewer sensor (sewer)']) expect(run.stdout).toContain(title);
    expect(run.stdout).toMatch(/Legal basis: Public task/);
    expect(run.stdout).toMatch(/groups under k = 5 withheld; ε = 1 per published figure/);
    expect(run.stdout).toMatch(
      /Live figures \(about people as of .* UTC\).*:\n {2}Every record about a person younger than \d+ min \d+ s .*: .*lethe\.sightings\.v1 (yes|not checked)/,
    );
    expect(run.stdout).toMatch(/Data requests: \d+ received, \d+ answered, [1-9]\d* refused/);
  });

  it('shuts down cleanly on SIGTERM and removes the secrets of the run', async () => {
    expect(await demo.stop()).toBe(0);
    expect(existsSync(demo.secretsDir)).toBe(false);
    expect(demo.stderr()).not.toMatch(/"level":"(error|fatal)"/);
  });
});
