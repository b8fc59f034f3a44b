// The runtime settings every Lethe Node service is started with (V8 and C library, not the
// service's own configuration): infra/node-runtime.env, which explains each one. Launchers
// written in TypeScript (the test suites, the bench) put these into a service's environment;
// the Dockerfile and infra/local/pipeline.sh source the same file.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const NODE_RUNTIME_ENV_PATH = fileURLToPath(new URL('../../../infra/node-runtime.env', import.meta.url));

export function nodeRuntimeEnv(path = NODE_RUNTIME_ENV_PATH): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [n, raw] of readFileSync(path, 'utf8').split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Z][A-Z0-9_]*)=(\S*)$/.exec(line);
    // Plain assignments only: the file is also sourced by sh, and a quote or a space would mean different things there.
    if (!m) throw new Error(`${path}:${n + 1}: expected KEY=value without spaces or quotes`);
    env[m[1]!] = m[2]!;
  }
  return env;
}
