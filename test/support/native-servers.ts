// The one way the tests, the fault suite and the bench bring up the native Mosquitto, Kafka and
// InfluxDB of infra/local: its up.sh (which installs what is missing into the cache and waits
// until each server answers), with the instance's run directory and ports given as the same
// LETHE_* variables a user sets. Each caller picks its own directory and ports, so the suites
// that kill servers (faults) or need other listeners (security) never touch the shared ones.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';

const ROOT = new URL('../../', import.meta.url).pathname;

export type ServerName = 'mosquitto' | 'kafka' | 'influxdb';

/** What every failure of a server script adds: where the servers come from, and how to see what is missing. */
const HOW_TO_GET_THEM =
  'The native servers come from infra/local (Mosquitto from Debian, Kafka from Maven Central, InfluxDB built from the Go proxy and crates.io); ' +
  'run `bash infra/local/up.sh` once to see what is missing.';

/** A KEY=value file (dotenv syntax, Node's own parser). */
export const readEnvFile = (path: string): Record<string, string> => parseEnv(readFileSync(path, 'utf8')) as Record<string, string>;

export interface ScriptOptions {
  /** `inherit` shows the script's progress (long installs on a fresh machine); `capture` keeps it for the error only. */
  output?: 'inherit' | 'capture';
}

/** Runs infra/local/<name> with the instance's LETHE_* variables; rejects with the script's last output and how to get the servers. */
export function runLocalScript(name: string, args: string[], serverEnv: Record<string, string>, options: ScriptOptions = {}): Promise<string> {
  const inherit = options.output === 'inherit';
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(ROOT, 'infra/local', name), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...serverEnv },
      stdio: ['ignore', inherit ? 'inherit' : 'pipe', inherit ? 'inherit' : 'pipe'],
    });
    let output = '';
    // Only the end matters for an error; a fresh install prints a lot.
    const keep = (d: Buffer) => (output = (output + d.toString()).slice(-16_000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) return resolve(output);
      const tail = inherit ? '(its output is above)' : output.slice(-4000);
      reject(new Error(`infra/local/${name} ${args.join(' ')} ${signal ? `was killed by ${signal}` : `exited with ${code}`}:\n${tail}\n${HOW_TO_GET_THEM}`));
    });
  });
}

export interface NativeServerOptions {
  /** The instance's LETHE_LOCAL_DIR and ports (LETHE_MQTT_PORT, …); unset ones take infra/local's defaults. */
  env?: Record<string, string>;
  /** Which servers; all three by default. */
  services?: ServerName[];
  /** Stop whatever runs on this directory and start from empty data (topics, sessions, buckets of earlier runs gone). */
  fresh?: boolean;
  output?: ScriptOptions['output'];
}

export interface NativeServers {
  localDir: string;
  secretsDir: string;
  /** The LETHE_* variables of this instance, for anything else that runs infra/local scripts on it. */
  env: Record<string, string>;
  /** endpoints.env as up.sh wrote it (MQTT_URL, KAFKA_BROKERS, and MQTT_TLS_URL, KAFKA_SASL_BROKERS when enabled). */
  endpoints: Record<string, string>;
  /** secrets/influxdb.env (INFLUX_URL, INFLUX_ORG, INFLUX_BUCKET, INFLUX_ADMIN_TOKEN), when InfluxDB is one of them. */
  influx: Record<string, string>;
  /** A generated secret's value (fleet-secret, mqtt-gateway-password, …). */
  secret(name: string): string;
  /** The server's current pid from its pid file; throws if it is not running. */
  pid(name: ServerName): number;
  /** Starts a server that was stopped or killed (up to when it answers); resolves with the milliseconds that took. */
  start(name: ServerName): Promise<number>;
  /** Stops this instance's servers, keeping their data. */
  down(): Promise<void>;
}

export async function startNativeServers(options: NativeServerOptions = {}): Promise<NativeServers> {
  const env = { ...options.env };
  const localDir = env.LETHE_LOCAL_DIR ?? process.env.LETHE_LOCAL_DIR ?? join(ROOT, '.local');
  env.LETHE_LOCAL_DIR = localDir;
  const services = options.services ?? [];
  const scriptOptions = { output: options.output ?? 'capture' };
  if (options.fresh) {
    await runLocalScript('down.sh', services, env, scriptOptions);
    rmSync(localDir, { recursive: true, force: true });
  }
  await runLocalScript('up.sh', services, env, scriptOptions);
  const secretsDir = join(localDir, 'secrets');
  const influxFile = join(secretsDir, 'influxdb.env');
  return {
    localDir,
    secretsDir,
    env,
    endpoints: readEnvFile(join(localDir, 'endpoints.env')),
    influx: existsSync(influxFile) ? readEnvFile(influxFile) : {},
    secret: (name) => readFileSync(join(secretsDir, name), 'utf8').trim(),
    pid(name) {
      const file = join(localDir, 'pids', `${name}.pid`);
      const pid = existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : NaN;
      if (!Number.isInteger(pid) || pid <= 0 || !existsSync(`/proc/${pid}`)) throw new Error(`${name} is not running (pid file ${file})`);
      return pid;
    },
    async start(name) {
      const t = performance.now();
      await runLocalScript(`${name}.sh`, ['start'], env, scriptOptions);
      return performance.now() - t;
    },
    async down() {
      await runLocalScript('down.sh', services, env, scriptOptions);
    },
  };
}
