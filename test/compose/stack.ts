// A Lethe stack brought up with `docker compose up --build --wait` on the test's engine, and what
// the compose tests do to it as a user would: compose commands against its files, readings
// published through its MQTT port with `lethe publish`, figures read back from its api. Shared by
// stack.test.ts (docker-compose.yml alone) and cluster.test.ts (with docker-compose.cluster.yml).
import { randomInt } from 'node:crypto';
import { freePort } from '../support/services.ts';
import { type Engine, progress, run, type Run, waitFor } from './docker.ts';

/** docker-compose.yml's `name:`: the project every compose file here runs as. */
export const PROJECT = 'lethe';
/** A release takes one 60 s window plus the processor's lateness; sized for a machine 3x slower. */
export const AGGREGATE_WAIT_S = 360;

export interface Stack {
  env: NodeJS.ProcessEnv;
  apiPort: number;
  mqttPort: number;
  /** The services brought up (every service of the files but those left out). */
  services: string[];
  /** `docker compose` with the stack's files; throws on failure unless `allowFail`. */
  compose(args: readonly string[], timeoutS: number, allowFail?: boolean): Run;
  /** `lethe publish` through the published MQTT port, as a device outside the compose network. */
  publish(device: string, fields: readonly string[], file?: object): void;
  /** The stored figure's values through the api (the last 30 minutes). */
  apiValue(measurement: string, device: string, field: string): Promise<number[]>;
  /** Publishes a sewer reading with a level of its own and waits until the api serves it; returns the level. */
  publishAndFind(device: string, what: string): Promise<number>;
}

/** A sewer level no simulated sewer reaches, so its window's maximum is the reading published with it. */
export function distinctLevel(): number {
  return 900 + randomInt(0, 990) / 10;
}

export interface StackOptions {
  /** Compose files (default: docker-compose.yml alone). */
  files?: readonly string[];
  /** Services not brought up (default: grafana, whose image cannot be had here: docs/compose-stand-ins.md). */
  leaveOut?: readonly string[];
  /** Replicas per service (`up --scale service=n`). */
  scale?: Readonly<Record<string, number>>;
}

/**
 * Builds the images (infra/docker/build-images.sh), removes a stack an interrupted run left (with
 * its volumes), and brings up every service but those left out, with the api and MQTT ports
 * published on free loopback ports. When `up` fails it takes the stack down and throws with `ps`
 * and the logs' tails.
 */
export async function startStack(engine: Engine, { files = [], leaveOut = ['grafana'], scale = {} }: StackOptions = {}): Promise<Stack> {
  run('bash', ['infra/docker/build-images.sh'], { env: engine.env, timeoutS: 1800 });
  const apiPort = await freePort();
  const mqttPort = await freePort();
  const env: NodeJS.ProcessEnv = { ...engine.env, API_PORT: String(apiPort), MQTT_PORT: String(mqttPort) };
  const fileArgs = files.flatMap((f) => ['-f', f]);
  const compose = (args: readonly string[], timeoutS: number, allowFail = false) =>
    run('docker', ['compose', ...fileArgs, ...args], { env, timeoutS, allowFail });

  compose(['down', '-v', '--remove-orphans', '--timeout', '30'], 300);
  const services = compose(['config', '--services'], 60)
    .stdout.split('\n')
    .filter((s) => s !== '' && !leaveOut.includes(s));
  progress(`services: ${services.join(' ')} (left out: ${leaveOut.join(', ') || 'none'})`);
  const scaled = Object.entries(scale).flatMap(([service, n]) => ['--scale', `${service}=${n}`]);
  const up = compose(['up', '--build', '--wait', '--wait-timeout', '900', ...scaled, ...services], 1500, true);
  if (up.status !== 0) {
    const ps = compose(['ps', '-a'], 60, true).stdout;
    const logs = compose(['logs', '--no-color', '--tail', '30'], 120, true).stdout;
    compose(['down', '-v', '--remove-orphans', '--timeout', '30'], 300, true);
    throw new Error(`docker compose up --build --wait failed (exit ${up.status}):\n${up.stderr.split('\n').slice(-30).join('\n')}\n${ps}\n${logs}`);
  }
  progress(`stack up in ${up.seconds.toFixed(0)}s (api 127.0.0.1:${apiPort}, mqtt 127.0.0.1:${mqttPort})`);

  const publish = (device: string, fields: readonly string[], file?: object) => {
    const args = ['services/cli/src/main.ts', 'publish', device, ...fields, '--url', `mqtt://127.0.0.1:${mqttPort}`];
    args.push('--fleet-secret-file', 'secrets/fleet-secret', '--timeout', '30');
    if (file) args.push('--file', '-');
    run(process.execPath, args, { timeoutS: 60, input: file ? JSON.stringify(file) : undefined });
  };
  const apiValue = async (measurement: string, device: string, field: string) => {
    const url = `http://127.0.0.1:${apiPort}/v1/aggregates?measurement=${measurement}&scope=device&device=${device}&field=${field}&start=-30m`;
    const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
    if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { data: Array<{ value: number }> };
    return body.data.map((row) => row.value);
  };
  const publishAndFind = async (device: string, what: string) => {
    const level = distinctLevel();
    publish(device, [`levelCm=${level}`, 'flowLps=160', 'h2sPpm=1.2', 'temperatureC=22.4', 'overflow=false']);
    await waitFor(
      `${what}: ${device}'s level_cm_max ${level} in the api`,
      AGGREGATE_WAIT_S,
      async () => ((await apiValue('sewer', device, 'level_cm_max')).includes(level) ? true : undefined),
      10,
    );
    return level;
  };
  return { env, apiPort, mqttPort, services, compose, publish, apiValue, publishAndFind };
}

/** Runs `docker compose down -v` and checks that no container, volume or network of the project is left. */
export function downLeavesNothing(stack: Stack, engine: Engine): { containers: string; volumes: string; networks: string } {
  stack.compose(['down', '-v', '--remove-orphans', '--timeout', '30'], 300);
  const label = `label=com.docker.compose.project=${PROJECT}`;
  const left = (kind: string[]) => run('docker', [...kind, '--filter', label], { env: engine.env, timeoutS: 60, quiet: true }).stdout.trim();
  return { containers: left(['ps', '-aq']), volumes: left(['volume', 'ls', '-q']), networks: left(['network', 'ls', '-q']) };
}
