// The bench's own servers and services. Mosquitto, Kafka and InfluxDB come from
// infra/local/up.sh, on a dedicated run directory and ports (.local-bench, 21883/29092/28086 by
// default) so the bench never shares a broker with the tests or a developer's stack; the
// gateway, processor and writer are started here as child processes with the env each stage
// needs (topic prefix, consumer groups, policy), the same variables pipeline.sh passes.
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { readEnvFile, runLocalScript, startNativeServers } from '../test/support/native-servers.ts';
import { startService as launch } from '../test/support/services.ts';

export const ROOT = new URL('../', import.meta.url).pathname.replace(/\/$/, '');

/** Ports and run directory of the bench's own servers; each overridable by the same variable as infra/local. */
export const BENCH_SERVER_ENV: Record<string, string> = {
  LETHE_LOCAL_DIR: join(ROOT, '.local-bench'),
  LETHE_MQTT_PORT: '21883',
  LETHE_KAFKA_PORT: '29092',
  LETHE_KAFKA_CONTROLLER_PORT: '29093',
  LETHE_INFLUX_PORT: '28086',
  LETHE_GATEWAY_PORT: '29464',
  LETHE_PROCESSOR_PORT: '29465',
  LETHE_WRITER_PORT: '29466',
  LETHE_API_PORT: '28080',
};

export function serverEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(BENCH_SERVER_ENV).map(([k, v]) => [k, process.env[k] || v]));
}

export interface Servers {
  localDir: string;
  mqttUrl: string;
  kafkaBrokers: string[];
  influx: { url: string; org: string; bucket: string; readerToken: string };
  secrets: string;
  fleetSecret: string;
  gatewayPassword: string;
  /** Broker pids, for CPU and RSS. */
  pids: { mosquitto: number; kafka: number; influxdb: number };
  /** True if this run started them (and so stops them at the end). */
  startedHere: boolean;
  ports: { gateway: number; processor: number; writer: number };
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** Starts (idempotently) Mosquitto, Kafka and InfluxDB with up.sh and the InfluxDB tokens with influx-init. */
export async function ensureServers(log: (line: string) => void): Promise<Servers> {
  const env = serverEnv();
  const ports = [env.LETHE_MQTT_PORT, env.LETHE_KAFKA_PORT, env.LETHE_INFLUX_PORT].map(Number);
  const wasUp = (await Promise.all(ports.map(portOpen))).every(Boolean);
  log(
    `servers: ${wasUp ? 'already running' : 'starting'} in ${env.LETHE_LOCAL_DIR} (infra/local/up.sh; MQTT ${env.LETHE_MQTT_PORT}, Kafka ${env.LETHE_KAFKA_PORT}, InfluxDB ${env.LETHE_INFLUX_PORT})`,
  );
  // Servers this run starts begin empty: every run's topics stay on disk otherwise, and a Kafka
  // sorting through earlier runs' segments at start-up missed up.sh's 90 s (seen here, 390 MB).
  const native = await startNativeServers({ env, fresh: !wasUp });
  const { localDir, secretsDir: secrets, endpoints, influx } = native;
  // Least-privilege tokens (writer: write only; bench: the api's read-only one), as pipeline.sh makes them.
  execFileSync(process.execPath, [join(ROOT, 'scripts/influx-init.ts'), '--out', secrets], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      INFLUX_URL: influx.INFLUX_URL,
      INFLUX_ORG: influx.INFLUX_ORG,
      INFLUX_BUCKET: influx.INFLUX_BUCKET,
      INFLUX_ADMIN_TOKEN: influx.INFLUX_ADMIN_TOKEN,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const read = (name: string) => readFileSync(join(secrets, name), 'utf8').trim();
  return {
    localDir,
    mqttUrl: endpoints.MQTT_URL!,
    kafkaBrokers: endpoints.KAFKA_BROKERS!.split(','),
    influx: { url: influx.INFLUX_URL!, org: influx.INFLUX_ORG!, bucket: influx.INFLUX_BUCKET!, readerToken: read('influxdb-reader-token') },
    secrets,
    fleetSecret: read('fleet-secret'),
    gatewayPassword: read('mqtt-gateway-password'),
    pids: { mosquitto: native.pid('mosquitto'), kafka: native.pid('kafka'), influxdb: native.pid('influxdb') },
    startedHere: !wasUp,
    ports: { gateway: Number(env.LETHE_GATEWAY_PORT), processor: Number(env.LETHE_PROCESSOR_PORT), writer: Number(env.LETHE_WRITER_PORT) },
  };
}

export async function stopServers(): Promise<void> {
  await runLocalScript('down.sh', [], serverEnv());
}

export type ServiceName = 'gateway' | 'processor' | 'writer';

/** Every child process the bench started and has not stopped, so an interrupted run can end them. */
export const running = new Set<ChildProcess>();

/** Kills what the bench started (services, load generators), for SIGINT/SIGTERM. */
export function killChildren(): void {
  for (const child of running) child.kill('SIGKILL');
}

export interface Service {
  name: ServiceName;
  pid: number;
  port: number;
  log: string;
  process: ChildProcess;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

/** Env every service of a stage gets from the servers: endpoints and *_FILE secrets. */
export function serviceEnv(s: Servers, name: ServiceName): Record<string, string> {
  const secret = (f: string) => join(s.secrets, f);
  switch (name) {
    case 'gateway':
      return {
        MQTT_URL: s.mqttUrl,
        MQTT_USERNAME: 'lethe-gateway',
        MQTT_PASSWORD_FILE: secret('mqtt-gateway-password'),
        KAFKA_BROKERS: s.kafkaBrokers.join(','),
      };
    case 'processor':
      return { KAFKA_BROKERS: s.kafkaBrokers.join(','), NOISE_KEY_FILE: secret('processor-noise-key') };
    case 'writer':
      return {
        KAFKA_BROKERS: s.kafkaBrokers.join(','),
        INFLUX_URL: s.influx.url,
        INFLUX_ORG: s.influx.org,
        INFLUX_BUCKET: s.influx.bucket,
        INFLUX_TOKEN_FILE: secret('influxdb-writer-token'),
      };
  }
}

/** Starts a service as a child process (its log in the run directory) on the stage's port and waits for /readyz. */
export async function startService(s: Servers, name: ServiceName, tag: string, env: Record<string, string>, cpuProfDir?: string): Promise<Service> {
  mkdirSync(join(s.localDir, 'logs'), { recursive: true });
  const log = join(s.localDir, 'logs', `bench-${tag}-${name}.log`);
  const service = await launch(
    name,
    { ...serviceEnv(s, name), ...env },
    {
      port: s.ports[name],
      logFile: log,
      nodeArgs: cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, `--cpu-prof-name=${tag}-${name}.cpuprofile`] : [],
      onSpawn: (child) => (running.add(child), child.once('exit', () => running.delete(child))),
    },
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n(another bench on the same ports? set LETHE_${name.toUpperCase()}_PORT)`, { cause: err });
  });
  return {
    name,
    pid: service.process.pid!,
    port: service.port,
    log,
    process: service.process,
    metrics: async () => (await fetch(`http://127.0.0.1:${service.port}/metrics`)).text(),
    stop: service.stop,
  };
}

/**
 * Removes persistent MQTT sessions: connecting with clean=true discards a session's subscriptions
 * and queue. The gateway's sessions outlive it (so nothing is lost while it restarts); left over
 * between stages they would keep receiving and queueing a share of every later stage's readings.
 */
export async function wipeMqttSessions(s: Servers, clientIds: string[]): Promise<void> {
  await Promise.all(
    clientIds.map(async (clientId) => {
      const c = await connectAsync(s.mqttUrl, {
        clientId,
        username: 'lethe-gateway',
        password: s.gatewayPassword,
        clean: true,
        protocolVersion: 4,
        reconnectPeriod: 0,
      });
      await c.endAsync();
    }),
  );
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  ramGiB: number;
  os: string;
  kernel: string;
  node: string;
  kafka: string;
  kafkajs: string;
  mosquitto: string;
  influxdb: string;
  gitCommit: string;
  gitDirty: boolean;
}

export async function machineInfo(s: Servers): Promise<MachineInfo> {
  // stdout and stderr together: `java -version` and `mosquitto -h` print to stderr or exit non-zero.
  const tryRun = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  };
  const osRelease = existsSync('/etc/os-release') ? readEnvFile('/etc/os-release') : {};
  const kafkaLibs = join(process.env.LETHE_CACHE ?? join(process.env.HOME ?? '', '.cache/lethe'), 'kafka');
  const kafkaVersion = existsSync(kafkaLibs)
    ? readdirSync(kafkaLibs)
        .filter((d) => /^\d/.test(d))
        .join(', ')
    : 'unknown';
  let influx = 'unknown';
  try {
    influx = ((await (await fetch(new URL('/health', s.influx.url))).json()) as { version?: string }).version ?? 'unknown';
  } catch {
    // reported as unknown
  }
  const mosquittoBin = existsSync('/usr/sbin/mosquitto') ? '/usr/sbin/mosquitto' : 'mosquitto';
  const kafkajsPkg = JSON.parse(readFileSync(join(ROOT, 'bench/node_modules/kafkajs/package.json'), 'utf8')) as { version: string };
  return {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    ramGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: osRelease.PRETTY_NAME ?? 'Linux',
    kernel: release(),
    node: process.version,
    kafka: `${kafkaVersion} (KRaft, Java ${tryRun('java', ['-version']).split('\n')[0] || 'unknown'})`.replace(/\s+/g, ' '),
    kafkajs: kafkajsPkg.version,
    mosquitto: (tryRun(mosquittoBin, ['-h']).split('\n')[0] ?? 'unknown').replace(/^mosquitto version /, ''),
    influxdb: influx,
    gitCommit: tryRun('git', ['-C', ROOT, 'rev-parse', '--short=12', 'HEAD']) || 'unknown',
    gitDirty: tryRun('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no']).length > 0,
  };
}
