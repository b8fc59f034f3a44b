// `docker compose up` as a user runs it, on a real Docker Engine: the real docker-compose.yml,
// unchanged, every service but Grafana (no stand-in can be had here: docs/compose-stand-ins.md),
// then checks as a user would: readings published through the published MQTT port with
// `lethe publish` arrive as aggregates in the api and in InfluxDB, no canary identifier is left
// in any container volume or log, a crashed service comes back with nothing lost, the gateway
// scales to three replicas and back with nothing lost, and `docker compose down -v` leaves nothing behind.
//
//   pnpm test:compose        # cold: ~6 min (engine, stand-ins, image); warm: ~4 min
import { randomInt } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMPOSE_SECRETS } from '../../scripts/compose-secrets.ts';
import { createCanaries, createCanaryMatcher, filesUnder, searchFiles, searchText } from '../support/canaries.ts';
import { plateMovementsRequest } from '../support/data-requests.ts';
import { freePort } from '../support/services.ts';
import { type Engine, progress, run, startEngine, stopEngine, waitFor } from './docker.ts';

const PROJECT = 'lethe'; // docker-compose.yml's `name:`
// A release takes one 60 s window plus the processor's lateness; sized for a machine 3x slower.
const AGGREGATE_WAIT_S = 360;

interface PsRow {
  Service: string;
  State: string;
  Health: string;
  ExitCode: number;
}

let engine: Engine | undefined;
let env: NodeJS.ProcessEnv = {};
let apiPort = 0;
let mqttPort = 0;
let services: string[] = [];
let tornDown = false;
let heldBefore: string[] = [];
/** The secret files in ./secrets (git keeps only its README). */
const heldSecrets = () =>
  readdirSync('secrets')
    .filter((f) => f !== 'README.md')
    .sort();
const canaries = createCanaries();

const compose = (args: readonly string[], timeoutS: number, allowFail = false) => run('docker', ['compose', ...args], { env, timeoutS, allowFail });

/** `lethe publish` through the published MQTT port, as a device outside the compose network. */
function publish(device: string, fields: readonly string[], file?: object): void {
  const args = [
    'services/cli/src/main.ts',
    'publish',
    device,
    ...fields,
    '--url',
    `mqtt://127.0.0.1:${mqttPort}`,
    '--fleet-secret-file',
    'secrets/fleet-secret',
    '--timeout',
    '30',
  ];
  if (file) args.push('--file', '-');
  run(process.execPath, args, { timeoutS: 60, input: file ? JSON.stringify(file) : undefined });
}

/** The stored figure's value through the api, once it is there. */
async function apiValue(measurement: string, device: string, field: string): Promise<number[]> {
  const url = `http://127.0.0.1:${apiPort}/v1/aggregates?measurement=${measurement}&scope=device&device=${device}&field=${field}&start=-30m`;
  const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { data: Array<{ value: number }> };
  return body.data.map((row) => row.value);
}

/** A sewer reading whose level no simulated sewer reaches, so its window's maximum is this reading. */
function distinctLevel(): number {
  return 900 + randomInt(0, 990) / 10;
}

async function publishAndFind(device: string, what: string): Promise<number> {
  const level = distinctLevel();
  publish(device, [`levelCm=${level}`, 'flowLps=160', 'h2sPpm=1.2', 'temperatureC=22.4', 'overflow=false']);
  await waitFor(
    `${what}: ${device}'s level_cm_max ${level} in the api`,
    AGGREGATE_WAIT_S,
    async () => ((await apiValue('sewer', device, 'level_cm_max')).includes(level) ? true : undefined),
    10,
  );
  return level;
}

describe.sequential('docker compose up --build --wait, on a Docker Engine of its own', () => {
  beforeAll(async () => {
    engine = startEngine();
    env = { ...engine.env };
    run('bash', ['infra/docker/build-images.sh'], { env, timeoutS: 1800 });
    // Nothing before `up`, as on a fresh clone: the secrets job generates what ./secrets lacks.
    heldBefore = heldSecrets();
    apiPort = await freePort();
    mqttPort = await freePort();
    env = { ...env, API_PORT: String(apiPort), MQTT_PORT: String(mqttPort) };
    // A stack left over from an interrupted run would keep its old volumes.
    compose(['down', '-v', '--remove-orphans', '--timeout', '30'], 300);
    services = compose(['config', '--services'], 60)
      .stdout.split('\n')
      .filter((s) => s !== '' && s !== 'grafana');
    progress(`services: ${services.join(' ')} (grafana left out: no image can be had here)`);
    const up = compose(['up', '--build', '--wait', '--wait-timeout', '900', ...services], 1500, true);
    if (up.status !== 0) {
      const ps = compose(['ps', '-a'], 60, true).stdout;
      const logs = compose(['logs', '--no-color', '--tail', '30'], 120, true).stdout;
      throw new Error(`docker compose up --build --wait failed (exit ${up.status}):\n${up.stderr.split('\n').slice(-30).join('\n')}\n${ps}\n${logs}`);
    }
    progress(`stack up in ${up.seconds.toFixed(0)}s (api 127.0.0.1:${apiPort}, mqtt 127.0.0.1:${mqttPort})`);
  }, 3_600_000);

  afterAll(() => {
    try {
      if (engine && !tornDown) compose(['down', '-v', '--remove-orphans', '--timeout', '30'], 300, true);
      // Each run rebuilds lethe:local from the current sources; the images it replaced go.
      if (engine) run('docker', ['image', 'prune', '--force'], { env, timeoutS: 120, allowFail: true });
    } finally {
      if (engine) stopEngine(engine);
    }
  }, 600_000);

  it('brings up every service but Grafana, healthy, after influx-init has done its job', () => {
    const rows = compose(['ps', '-a', '--format', 'json'], 60)
      .stdout.trim()
      .split('\n')
      .map((l) => JSON.parse(l) as PsRow);
    const byService = new Map(rows.map((r) => [r.Service, r]));
    expect([...byService.keys()].sort()).toEqual([...services].sort());
    for (const name of services) {
      const row = byService.get(name)!;
      if (name === 'influx-init' || name === 'secrets') expect([row.State, row.ExitCode], name).toEqual(['exited', 0]);
      else if (name === 'simulator' || row.Health !== '') expect([row.State, row.Health], name).toEqual(['running', 'healthy']);
      else expect(row.State, name).toBe('running');
    }
  }, 120_000);

  it("generates the missing secrets into ./secrets for the folder's owner, and gives each running service only its own files", () => {
    const held = heldSecrets();
    const owner = statSync('secrets').uid;
    progress(`  ./secrets: ${held.length} files (${held.length - heldBefore.filter((f) => held.includes(f)).length} generated by the secrets job)`);
    expect(statSync('secrets').mode & 0o777, './secrets').toBe(0o700);
    expect(held).toEqual(expect.arrayContaining([...new Set(Object.values(COMPOSE_SECRETS).flatMap((s) => s.files))]));
    for (const f of held) expect(statSync(join('secrets', f)).uid, `secrets/${f}: owner`).toBe(owner);
    for (const [name, s] of Object.entries(COMPOSE_SECRETS)) {
      if (!services.includes(name) || name === 'influx-init') continue; // influx-init has exited
      const files = [...s.files, ...(s.optional ?? []).filter((f) => held.includes(f))];
      const listing = compose(['exec', '-T', name, 'sh', '-c', 'cd /run/secrets && stat -c "%n %u %a" *'], 60).stdout.trim().split('\n').sort();
      expect(listing, `${name}: /run/secrets`).toEqual(files.map((f) => `${f} ${s.uid} 400`).sort());
    }
    // The broker's own copies, in its tmpfs: readable by the broker's user (or root) alone.
    const broker = compose(['exec', '-T', 'mosquitto', 'stat', '-c', '%n %U %a', '/mosquitto/run/passwd', '/mosquitto/run/healthcheck/mosquitto_pub'], 60)
      .stdout.trim()
      .split('\n');
    expect(broker).toEqual(['/mosquitto/run/passwd mosquitto 600', '/mosquitto/run/healthcheck/mosquitto_pub root 600']);
  }, 300_000);

  it(
    'takes readings through the MQTT port from `lethe simulate` and `lethe publish`, and serves them as aggregates from the api and InfluxDB',
    async () => {
      // The whole fleet, twice, through the same port (exit 0: the broker acknowledged every reading).
      run(
        process.execPath,
        [
          'services/cli/src/main.ts',
          'simulate',
          '--url',
          `mqtt://127.0.0.1:${mqttPort}`,
          '--fleet-secret-file',
          'secrets/fleet-secret',
          '--ticks',
          '2',
          '--rate',
          '108',
          '--seed',
          'compose-test',
        ],
        { timeoutS: 120 },
      );
      const device = 'SW-0016';
      const level = await publishAndFind(device, 'published reading');
      // InfluxDB as its own CLI sees it (the set-up's admin config inside the container).
      const flux = `from(bucket: "aggregates") |> range(start: -30m) |> filter(fn: (r) => r._measurement == "sewer" and r.scope == "device" and r.device == "${device}" and r._field == "level_cm_max") |> max()`;
      const csv = compose(['exec', '-T', 'influxdb', 'influx', 'query', '--raw', flux], 120).stdout;
      const values = csv
        .split('\n')
        .filter((l) => l.includes('level_cm_max'))
        .map((l) => l.split(','));
      const header = csv
        .split('\n')
        .find((l) => l.includes('_value'))!
        .split(',');
      expect(values.map((v) => Number(v[header.indexOf('_value')]))).toEqual([level]);
    },
    AGGREGATE_WAIT_S * 1000 + 180_000,
  );

  it(
    "takes a reading from mosquitto_pub through the MQTT port, with the README's recipe",
    async () => {
      const readme = readFileSync('README.md', 'utf8');
      const recipe = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)]
        .map((m) => m[1]!)
        .find((block) => block.includes('mosquitto_pub -h 127.0.0.1 -p "${MQTT_PORT:-1883}"'));
      expect(recipe, "the README's mosquitto_pub recipe for the compose stack").toBeDefined();
      const device = 'SW-0009';
      const level = distinctLevel();
      const script = recipe!.replace(/^DEVICE=SW-0001$/m, `DEVICE=${device}`).replace('\\"levelCm\\":42.5', `\\"levelCm\\":${level}`);
      expect(script, 'the device and level substituted').toContain(`${level}`);
      expect(script).toContain(`DEVICE=${device}`);
      run('bash', ['-euo', 'pipefail', '-c', script], { env: { ...process.env, MQTT_PORT: String(mqttPort) }, timeoutS: 60 });
      await waitFor(
        `${device}'s level_cm_max ${level} in the api`,
        AGGREGATE_WAIT_S,
        async () => ((await apiValue('sewer', device, 'level_cm_max')).includes(level) ? true : undefined),
        10,
      );
    },
    AGGREGATE_WAIT_S * 1000 + 120_000,
  );

  it(
    'keeps no raw identifier published through the MQTT port in any container volume or log (P1)',
    async () => {
      const macs = [canaries.mac(), canaries.mac(), canaries.mac()];
      const plates = [canaries.plate(), canaries.plate()];
      const ts = new Date().toISOString();
      publish('LP-0054', [], {
        ts,
        pm25: 10,
        pm10: 20,
        no2: 30,
        noiseDba: 55,
        lux: 100,
        temperatureC: 20,
        humidityPct: 50,
        dimmingPct: 40,
        energyWh: 12,
        wifiProbes: macs.map((mac) => ({ mac, rssi: -60, ssids: [canaries.text('ssid')] })),
      });
      publish('TL-0036', [], {
        ts,
        phase: 'green',
        vehicleCount: 2,
        occupancyPct: 30,
        queueLength: 1,
        meanSpeedKmh: 40,
        plateReads: plates.map((plate) => ({ plate, speedKmh: 38, imageRef: canaries.text('img') })),
      });
      // Past their window's release the readings have gone through every stage (a reading
      // published after them is in the store).
      const after = 'SW-0017';
      await publishAndFind(after, 'canary readings processed');
      // Let Mosquitto's and Kafka's periodic flushes (autosave 10 s, segment writes) happen.
      await new Promise((r) => setTimeout(r, 15_000));
      const volumesDir = join(engine!.dataRoot, 'volumes');
      const volumes = readdirSync(volumesDir)
        .filter((v) => v.startsWith(`${PROJECT}_`))
        .map((v) => join(volumesDir, v, '_data'));
      expect(volumes.length).toBeGreaterThanOrEqual(6);
      const matcher = createCanaryMatcher(canaries);
      // Positive control: the device id published after the canaries is in the volumes (Kafka's
      // aggregate topics, InfluxDB's index), so the scan reads the pipeline's data as stored.
      const files = searchFiles('container volumes', filesUnder(volumes), matcher, after);
      const logs = searchText('container logs', [{ name: 'docker compose logs', text: compose(['logs', '--no-color'], 300).stdout }], matcher);
      progress(
        `  scanned ${files.files} files (${(files.bytes / 1e6).toFixed(1)} MB) in ${volumes.length} volumes and ${(logs.bytes / 1e3).toFixed(0)} kB of logs for ${macs.length + plates.length} canaries: ${files.hits.length + logs.hits.length} hits, ${files.nearMisses + logs.nearMisses} near misses; ${after} found ${files.known?.count} times`,
      );
      expect(files.known?.count, `${after} in the volumes`).toBeGreaterThan(0);
      expect(files.hits.map((h) => `${h.file}: ${h.found}`)).toEqual([]);
      expect(logs.hits.map((h) => `${h.file}: ${h.found}`)).toEqual([]);
    },
    AGGREGATE_WAIT_S * 1000 + 300_000,
  );

  it('issues a data-request token in the stack as services/api/README.md says, with no Node on the host', async () => {
    const token = compose(
      ['run', '--rm', '-T', 'secrets', 'node', 'scripts/setup-secrets.ts', '--dir', '/held', '--issue-token', 'hk-police-force'],
      300,
    ).stdout.trim();
    expect(token).toMatch(/^\S{20,}$/);
    compose(['run', '--rm', '-T', 'secrets'], 300);
    compose(['restart', 'api'], 300);
    const request = async (bearer: string) =>
      (
        await fetch(`http://127.0.0.1:${apiPort}/v1/data-requests`, {
          method: 'POST',
          headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
          body: plateMovementsRequest(Date.now() - 86_400_000),
          signal: AbortSignal.timeout(15_000),
        })
      ).status;
    await waitFor('the restarted api to take the new token', 300, async () => ((await request(token).catch(() => 0)) === 200 ? true : undefined), 5);
    expect(await request(`${token}x`), 'another token').toBe(401);
  }, 900_000);

  it(
    'brings a crashed writer back (restart policy) with nothing published meanwhile lost',
    async () => {
      const id = compose(['ps', '-q', 'writer'], 60).stdout.trim();
      const pid = run('docker', ['inspect', '--format', '{{.State.Pid}}', id], { env, timeoutS: 60 }).stdout.trim();
      const restartsBefore = Number(run('docker', ['inspect', '--format', '{{.RestartCount}}', id], { env, timeoutS: 60 }).stdout.trim());
      // A crash, not `docker kill` (a manual stop, which the restart policy respects).
      progress(`  SIGKILL to the writer's node process (host pid ${pid})`);
      process.kill(Number(pid), 'SIGKILL');
      const level = distinctLevel();
      publish('SW-0018', [`levelCm=${level}`, 'flowLps=160', 'h2sPpm=1.2', 'temperatureC=22.4', 'overflow=false']);
      await waitFor('the writer restarted and healthy', 300, () => {
        const out = run('docker', ['inspect', '--format', '{{.RestartCount}} {{.State.Health.Status}}', id], { env, timeoutS: 60, quiet: true })
          .stdout.trim()
          .split(' ');
        return Number(out[0]) > restartsBefore && out[1] === 'healthy' ? true : undefined;
      });
      await waitFor(
        `SW-0018's level_cm_max ${level}, published while the writer was down`,
        AGGREGATE_WAIT_S,
        async () => ((await apiValue('sewer', 'SW-0018', 'level_cm_max')).includes(level) ? true : undefined),
        10,
      );
    },
    AGGREGATE_WAIT_S * 1000 + 420_000,
  );

  it(
    'scales the gateway to three replicas, each scraped, and back to one, with no reading lost (`--scale gateway=3`, then 1)',
    async () => {
      // --no-deps: the rest of the stack stays as it is (the secrets job is not run again).
      const scale = (n: number) =>
        compose(['up', '-d', '--no-deps', '--no-recreate', '--wait', '--wait-timeout', '600', '--scale', `gateway=${n}`, 'gateway'], 900);
      /** The gateway's JSON log lines (replica 1's only, once the others are removed). */
      const gatewayLog = () =>
        compose(['logs', '--no-color', '--no-log-prefix', 'gateway'], 120, true)
          .stdout.split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { msg?: string; replica?: number; readings?: number });
      /** Sewer readings no simulated sewer reaches, published through the MQTT port, each found in the api. */
      const publishAll = async (devices: readonly string[], what: string) => {
        const levels = devices.map((device) => {
          const level = distinctLevel();
          publish(device, [`levelCm=${level}`, 'flowLps=160', 'h2sPpm=1.2', 'temperatureC=22.4', 'overflow=false']);
          return [device, level] as const;
        });
        await waitFor(
          `${what}: ${devices.length} readings in the api`,
          AGGREGATE_WAIT_S,
          async () => {
            for (const [device, level] of levels) if (!(await apiValue('sewer', device, 'level_cm_max')).includes(level)) return undefined;
            return true;
          },
          10,
        );
      };

      scale(3);
      const replicas = gatewayLog()
        .filter((l) => l.msg === 'gateway started')
        .map((l) => l.replica);
      expect(new Set(replicas), 'replica numbers the gateways started with').toEqual(new Set([1, 2, 3]));
      // Prometheus finds every replica by DNS and scrapes each (not one of them).
      await waitFor('Prometheus scraping three gateway replicas', 300, () => {
        const script = `fetch('http://prometheus:9090/api/v1/targets?state=active').then((r) => r.json()).then((b) => console.log(b.data.activeTargets.filter((t) => t.labels.service === 'gateway' && t.health === 'up').length))`;
        const up = Number(compose(['exec', '-T', 'api', 'node', '-e', script], 60, true).stdout.trim());
        return up === 3 ? true : undefined;
      });
      await publishAll(['SW-0010', 'SW-0011', 'SW-0012'], 'three replicas');

      scale(1);
      // Replicas 2 and 3 left the shared subscription when they stopped: nothing queues for them.
      await publishAll(['SW-0013', 'SW-0014', 'SW-0015', 'SW-0010', 'SW-0011', 'SW-0012'], 'scaled back to one');
      // What their sessions held (in flight at the stop) is drained by replica 1: two looks apart.
      const drained = await waitFor('replica 1 to drain the sessions of replicas 2 and 3', 300, () => {
        const lines = gatewayLog().filter((l) => l.msg === 'drained the MQTT session of a gateway replica that is gone');
        const replicasDrained = new Set(lines.map((l) => l.replica));
        return replicasDrained.has(2) && replicasDrained.has(3) ? lines : undefined;
      });
      progress(`  drained ${drained.length} sessions of replicas 2 and 3, holding ${drained.reduce((n, l) => n + (l.readings ?? 0), 0)} readings`);
      expect(compose(['ps', '-q', 'gateway'], 60).stdout.trim().split('\n')).toHaveLength(1);
    },
    AGGREGATE_WAIT_S * 2000 + 1_500_000,
  );

  it('ships the Lethe image with production dependencies only, and says its size', () => {
    // Tools only development and the tests use. None may be a runtime dependency of a workspace
    // the image installs (the root, packages/*, services/*), so finding one in it means dev
    // dependencies were installed.
    const devOnly = ['vitest', 'typescript', 'eslint', 'prettier', 'testcontainers', 'fast-check', 'playwright-core'];
    const manifests = ['package.json', ...['packages', 'services'].flatMap((d) => readdirSync(d).map((p) => join(d, p, 'package.json')))];
    const runtime = new Set(
      manifests.flatMap((m) => {
        try {
          return Object.keys((JSON.parse(readFileSync(m, 'utf8')) as { dependencies?: object }).dependencies ?? {});
        } catch {
          return [];
        }
      }),
    );
    expect(runtime.size, 'runtime dependencies read').toBeGreaterThan(5);
    for (const name of devOnly) expect(runtime, `${name}: not a runtime dependency`).not.toContain(name);
    const installed = run('docker', ['run', '--rm', '--network', 'none', '--entrypoint', 'ls', 'lethe:local', '/app/node_modules/.pnpm'], {
      env,
      timeoutS: 120,
      quiet: true,
    })
      .stdout.split('\n')
      .filter(Boolean);
    expect(installed.length, 'packages in the image').toBeGreaterThan(20);
    expect(installed.filter((entry) => devOnly.some((name) => entry.startsWith(`${name}@`)))).toEqual([]);
    const bytes = Number(run('docker', ['image', 'inspect', '--format', '{{.Size}}', 'lethe:local'], { env, timeoutS: 60, quiet: true }).stdout.trim());
    progress(`  lethe:local: ${(bytes / 1e6).toFixed(0)} MB (${installed.length} packages, production only; the node:24 base included)`);
    expect(bytes).toBeGreaterThan(0);
  }, 300_000);

  it('runs every container within its memory limit, none killed for memory, and says what the stack uses', () => {
    const ids = compose(['ps', '-q'], 60).stdout.trim().split('\n').filter(Boolean);
    const mib = (text: string) => {
      const m = /^([\d.]+)\s*([KMG]i?B|B)$/.exec(text.trim());
      if (!m) throw new Error(`unreadable memory figure "${text}"`);
      return Number(m[1]) * ({ B: 1 / 2 ** 20, KiB: 1 / 1024, kB: 1 / 1024, MiB: 1, MB: 1, GiB: 1024, GB: 1024 } as Record<string, number>)[m[2]!]!;
    };
    const stats = run('docker', ['stats', '--no-stream', '--format', '{{.Name}}\t{{.MemUsage}}', ...ids], { env, timeoutS: 120 })
      .stdout.trim()
      .split('\n');
    let total = 0;
    const lines: string[] = [];
    for (const line of stats) {
      const [name, usage] = line.split('\t') as [string, string];
      const [used, limit] = usage.split('/').map(mib) as [number, number];
      total += used;
      lines.push(`${name.replace(`${PROJECT}-`, '').replace(/-1$/, '')} ${used.toFixed(0)}/${limit.toFixed(0)} MiB`);
      // A limit of the whole machine would mean mem_limit did not apply.
      expect(limit, `${name}: its mem_limit`).toBeLessThanOrEqual(2048);
      expect(used, `${name}: within its limit`).toBeLessThan(limit);
    }
    progress(`  memory: ${total.toFixed(0)} MiB in ${stats.length} containers (${lines.join(', ')})`);
    for (const id of ids) {
      const [name, oom, restarts] = run('docker', ['inspect', '--format', '{{.Name}} {{.State.OOMKilled}} {{.RestartCount}}', id], {
        env,
        timeoutS: 60,
        quiet: true,
      })
        .stdout.trim()
        .split(' ');
      expect(oom, `${name} killed for memory (restarts: ${restarts})`).toBe('false');
    }
  }, 300_000);

  it('leaves no container, volume or network behind after docker compose down -v', () => {
    compose(['down', '-v', '--remove-orphans', '--timeout', '30'], 300);
    tornDown = true;
    const label = `label=com.docker.compose.project=${PROJECT}`;
    const left = (kind: string[]) => run('docker', [...kind, '--filter', label], { env, timeoutS: 60, quiet: true }).stdout.trim();
    expect(left(['ps', '-aq'])).toBe('');
    expect(left(['volume', 'ls', '-q'])).toBe('');
    expect(left(['network', 'ls', '-q'])).toBe('');
    expect(readdirSync(join(engine!.dataRoot, 'volumes')).filter((v) => v.startsWith(`${PROJECT}_`))).toEqual([]);
  }, 400_000);
});
