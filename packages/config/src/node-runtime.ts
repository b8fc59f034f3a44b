// The runtime settings every Lethe Node service is started with (V8 and C library, not the
// service's own configuration): infra/node-runtime.env, which explains each one. Launchers
// written in TypeScript (the test suites, the bench) put these into a service's environment;
// the Dockerfile and infra/local/pipeline.sh source the same file.
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';

export const NODE_RUNTIME_ENV_PATH = fileURLToPath(new URL('../../../infra/node-runtime.env', import.meta.url));

export function nodeRuntimeEnv(path = NODE_RUNTIME_ENV_PATH): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [n, raw] of readFileSync(path, 'utf8').split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    // Plain assignments, or one double-quoted value without anything sh would expand: the file
    // is also sourced by sh, and must mean the same thing there.
    const m = /^([A-Z][A-Z0-9_]*)=(?:([^\s"'`$\\]*)|"([^"'`$\\]*)")$/.exec(line);
    if (!m) throw new Error(`${path}:${n + 1}: expected KEY=value or KEY="value", without quotes, $ or backslashes inside`);
    env[m[1]!] = m[2] ?? m[3]!;
  }
  return env;
}

/**
 * Sets the V8 flags of LETHE_V8_FLAGS (space-separated, each `--name=value`), which every service
 * calls first thing (runService). Node refuses most V8 flags in NODE_OPTIONS, and a flag on the
 * command line would have to be repeated by every launcher; the heuristics set here are read by
 * V8 each time it uses them, so setting them at start-up, before the service allocates, is as
 * good as the command line. Returns the flags set.
 */
export function applyV8Flags(env: Record<string, string | undefined> = process.env): string[] {
  const flags = (env.LETHE_V8_FLAGS ?? '').split(/\s+/).filter(Boolean);
  const bad = flags.find((flag) => !/^--[a-z0-9-]+(=[a-z0-9.]+)?$/i.test(flag));
  if (bad !== undefined) throw new Error(`LETHE_V8_FLAGS: ${JSON.stringify(bad)} is not a V8 flag (expected --name or --name=value)`);
  for (const flag of flags) setFlagsFromString(flag);
  return flags;
}

/**
 * Lowers this process's CPU priority to nice `niceness` (0–19; a process already nicer keeps its
 * own), for every thread it has and will have. Linux keeps a nice value per thread, V8's worker
 * threads (parallel garbage collection, compilation) exist before any of our code runs, and a
 * thread started later takes the value of the thread that starts it. Lowering one's own priority
 * needs no privilege, so this works in an unprivileged container too. Returns the niceness of
 * the calling thread afterwards.
 */
export function lowerCpuPriority(niceness: number): number {
  let threads = [0];
  try {
    threads = readdirSync('/proc/self/task').map(Number);
  } catch {
    // Not Linux: the nice value is the process's.
  }
  for (const thread of threads) {
    try {
      if (getPriority(thread) < niceness) setPriority(thread, niceness);
    } catch (err) {
      // A thread that ended since the listing; anything else is a real failure.
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
  return getPriority();
}
