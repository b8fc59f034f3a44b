// The fault suite's own Mosquitto, Kafka and InfluxDB: a dedicated native instance of
// infra/local (its own directory and ports), because the suite kills and pauses them, which the
// servers shared by the other suites must never see. Each run starts from empty data, so the
// topics, consumer groups and bucket hold this run's records only.
import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv, promisify } from 'node:util';
import { initInflux } from '../../scripts/influx-init.ts';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;

export type ServerName = 'mosquitto' | 'kafka' | 'influxdb';

export interface FaultServers {
  mqttUrl: string;
  kafkaBrokers: string[];
  influx: { url: string; org: string; bucket: string; adminToken: string; writerToken: string; readerToken: string };
  fleetSecret: string;
  gatewayPassword: string;
  /** The server's current pid (from its pid file). */
  pid(name: ServerName): number;
  /** Starts a server that was killed (its script waits until it answers); resolves with the milliseconds that took. */
  start(name: ServerName): Promise<number>;
  /** Stops all three and keeps their data for a post-mortem (the next run wipes it). */
  down(): Promise<void>;
}

/** Ports and directory, overridable so two copies of the suite (or CI beside a developer) can coexist. */
export function faultServerEnv(): Record<string, string> {
  const env = process.env;
  return {
    LETHE_LOCAL_DIR: env.LETHE_FAULTS_LOCAL_DIR ?? join(ROOT, '.local-faults'),
    LETHE_MQTT_PORT: env.LETHE_FAULTS_MQTT_PORT ?? '31883',
    LETHE_KAFKA_PORT: env.LETHE_FAULTS_KAFKA_PORT ?? '39092',
    LETHE_KAFKA_CONTROLLER_PORT: env.LETHE_FAULTS_KAFKA_CONTROLLER_PORT ?? '39093',
    LETHE_INFLUX_PORT: env.LETHE_FAULTS_INFLUX_PORT ?? '38086',
  };
}

/** A KEY=value file (dotenv syntax, Node's own parser). */
const readEnvFile = (path: string) => parseEnv(readFileSync(path, 'utf8')) as Record<string, string>;

async function script(name: string, args: string[], serverEnv: Record<string, string>): Promise<void> {
  try {
    await run('bash', [join(ROOT, 'infra/local', name), ...args], { env: { ...process.env, ...serverEnv }, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(
      `infra/local/${name} ${args.join(' ')} failed: ${e.message}\n${(e.stderr ?? '').slice(-3000)}\n` +
        'The fault suite needs the native servers of infra/local (Mosquitto from Debian, Kafka from Maven Central, InfluxDB built from the Go proxy); run `bash infra/local/up.sh` once to see what is missing.',
      { cause: err },
    );
  }
}

export async function startFaultServers(log: (line: string) => void): Promise<FaultServers> {
  const serverEnv = faultServerEnv();
  const dir = serverEnv.LETHE_LOCAL_DIR!;
  const started = performance.now();
  log(`fresh native servers in ${dir} (mqtt :${serverEnv.LETHE_MQTT_PORT}, kafka :${serverEnv.LETHE_KAFKA_PORT}, influxdb :${serverEnv.LETHE_INFLUX_PORT})`);
  await script('down.sh', [], serverEnv);
  rmSync(dir, { recursive: true, force: true });
  await script('up.sh', [], serverEnv);
  const endpoints = readEnvFile(join(dir, 'endpoints.env'));
  const influxEnv = readEnvFile(join(dir, 'secrets/influxdb.env'));
  const org = 'lethe';
  const bucket = 'aggregates';
  const tokens = await initInflux({ url: influxEnv.INFLUX_URL!, adminToken: influxEnv.INFLUX_ADMIN_TOKEN!, org, bucket });
  const secret = (name: string) => readFileSync(join(dir, 'secrets', name), 'utf8').trim();
  log(`servers up in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return {
    mqttUrl: endpoints.MQTT_URL!,
    kafkaBrokers: endpoints.KAFKA_BROKERS!.split(','),
    influx: {
      url: influxEnv.INFLUX_URL!,
      org,
      bucket,
      adminToken: influxEnv.INFLUX_ADMIN_TOKEN!,
      writerToken: tokens.writerToken,
      readerToken: tokens.readerToken,
    },
    fleetSecret: secret('fleet-secret'),
    gatewayPassword: secret('mqtt-gateway-password'),
    pid(name) {
      const pid = Number(readFileSync(join(dir, 'pids', `${name}.pid`), 'utf8').trim());
      if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no pid for ${name} in ${dir}/pids`);
      return pid;
    },
    async start(name) {
      const t = performance.now();
      await script(`${name}.sh`, ['start'], serverEnv);
      return performance.now() - t;
    },
    async down() {
      await script('down.sh', [], serverEnv);
    },
  };
}
