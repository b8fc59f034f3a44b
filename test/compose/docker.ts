// The engine `pnpm test:compose` runs on, and bounded, logged commands against it: the test
// installs Docker Engine when missing (infra/docker/install-engine.sh), starts a dockerd of its
// own (infra/docker/dockerd.sh: own socket and data root), builds the stand-ins for the
// third-party images (infra/docker/build-images.sh) and stops the engine at the end if it
// started it. Every command has a time limit and prints what it does and how long it took.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { waitFor as waitUntil } from '../support/wait.ts';

export const ROOT = join(import.meta.dirname, '../..');

const t0 = Date.now();
/** Progress on stderr, with the seconds since the test started. */
export function progress(message: string): void {
  process.stderr.write(`[compose ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${message}\n`);
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs a command from the repository root; throws (with its output's tail) unless it exits 0 or `allowFail`. */
export function run(
  cmd: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutS: number; allowFail?: boolean; quiet?: boolean; input?: string },
): Run {
  const start = Date.now();
  if (!opts.quiet) progress(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, {
    cwd: ROOT,
    env: opts.env ?? process.env,
    encoding: 'utf8',
    timeout: opts.timeoutS * 1000,
    maxBuffer: 64 * 1024 * 1024,
    input: opts.input,
  });
  const result: Run = { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', seconds: (Date.now() - start) / 1000 };
  if (!opts.quiet) progress(`  exit ${r.status ?? r.signal} in ${result.seconds.toFixed(1)}s`);
  if (r.error || (r.status !== 0 && !opts.allowFail)) {
    const tail = (result.stderr + result.stdout).split('\n').slice(-40).join('\n');
    throw new Error(`${cmd} ${args.join(' ')}: ${r.error ? r.error.message : `exit ${r.status}`} after ${result.seconds.toFixed(0)}s\n${tail}`);
  }
  return result;
}

export interface Engine {
  env: NodeJS.ProcessEnv;
  /** Whether this run started the engine (then it stops it at the end). */
  started: boolean;
  dataRoot: string;
}

/** Installs the engine when missing and starts ours (or finds it running). */
export function startEngine(): Engine {
  run('bash', ['infra/docker/install-engine.sh'], { timeoutS: 900 });
  const wasRunning = run('bash', ['infra/docker/dockerd.sh', 'status'], { timeoutS: 30, allowFail: true, quiet: true }).status === 0;
  run('bash', ['infra/docker/dockerd.sh', 'start'], { timeoutS: 300 });
  const envLine = run('bash', ['infra/docker/dockerd.sh', 'env'], { timeoutS: 30, quiet: true }).stdout;
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const m of envLine.matchAll(/(DOCKER_[A-Z]+)="([^"]*)"/g)) env[m[1]!] = m[2]!;
  if (!env.DOCKER_HOST?.startsWith('unix://')) throw new Error(`dockerd.sh env printed no DOCKER_HOST: ${envLine}`);
  const info = run('docker', ['info', '--format', '{{.DockerRootDir}}'], { env, timeoutS: 60, quiet: true });
  return { env, started: !wasRunning, dataRoot: info.stdout.trim() };
}

export function stopEngine(engine: Engine): void {
  if (engine.started) run('bash', ['infra/docker/dockerd.sh', 'stop'], { timeoutS: 180, allowFail: true });
}

/**
 * Polls `check` every `everyS` seconds until it returns a value (test/support/wait.ts's loop, in
 * seconds, with progress every 30 s for the long waits of a compose stack); throws after `timeoutS`.
 */
export async function waitFor<T>(what: string, timeoutS: number, check: () => Promise<T | undefined> | T | undefined, everyS = 5): Promise<T> {
  let value: T | undefined;
  const ms = await waitUntil(what, async () => (value = await check()) !== undefined, timeoutS * 1000, {
    everyMs: everyS * 1000,
    stillWaiting: (elapsedMs) => progress(`  still waiting for ${what} (${(elapsedMs / 1000).toFixed(0)}s of ${timeoutS}s)`),
  });
  progress(`  ${what}: after ${(ms / 1000).toFixed(0)}s`);
  return value!;
}
