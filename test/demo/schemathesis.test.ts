// Schemathesis — a schema-driven API fuzzer that no one here wrote (from PyPI, pinned and
// installed by infra/local/install-schemathesis.sh) — against `pnpm demo`, with docs/openapi.yaml:
// every operation, every check (server errors, status codes, content types, headers, response
// schemas, schema-valid requests accepted, invalid ones rejected, 405 with Allow for undeclared
// methods, authentication), positive and negative cases. Any failure fails the test and its
// report is printed. Bounded: at most SCHEMATHESIS_MAX_EXAMPLES cases per operation and phase
// (about 1,300 cases in all, ~25 s here), a fixed seed so a failure is reproducible (change it
// with SCHEMATHESIS_SEED), and a hard time limit sized for a machine 3x slower.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type DemoProcess } from '../support/demo-process.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const MAX_EXAMPLES = process.env.SCHEMATHESIS_MAX_EXAMPLES ?? '150';
const SEED = process.env.SCHEMATHESIS_SEED ?? '5';
const RUN_LIMIT_MS = 300_000;

let demo: DemoProcess;
let schemathesis: string;
// Schemathesis and Hypothesis keep caches in the working directory (.schemathesis, .hypothesis):
// a fresh one per run, so runs are independent and the work tree stays clean.
const work = mkdtempSync(join(tmpdir(), 'lethe-schemathesis-'));

beforeAll(async () => {
  // Idempotent: a no-op when the pinned version is cached (CI installs it in .ci/run).
  const install = spawnSync('bash', [`${ROOT}infra/local/install-schemathesis.sh`], { encoding: 'utf8', timeout: 300_000 });
  expect(install.status, `install-schemathesis.sh failed:\n${install.stderr}`).toBe(0);
  schemathesis = install.stdout.trim().split('\n').at(-1)!;
  demo = await startDemo({ SCENARIO: 'rush-hour', STATUS_SECONDS: '0' });
}, 420_000);
afterAll(async () => {
  await demo?.stop();
  rmSync(work, { recursive: true, force: true });
});

function run(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(schemathesis, args, { cwd: work, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`schemathesis did not finish within ${RUN_LIMIT_MS} ms:\n${out.slice(-4000)}`));
    }, RUN_LIMIT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('Schemathesis against pnpm demo with docs/openapi.yaml', () => {
  it('finds no failure in any operation, with every check on', async () => {
    const token = readFileSync(demo.tokenFile('hk-police-force'), 'utf8').trim();
    const { code, out } = await run([
      'run',
      `${ROOT}docs/openapi.yaml`,
      '--url',
      demo.httpUrl,
      '--header',
      `Authorization: Bearer ${token}`,
      '--checks',
      'all',
      '--mode',
      'all',
      '--max-examples',
      MAX_EXAMPLES,
      '--seed',
      SEED,
      '--workers',
      '1',
      '--request-timeout',
      '30',
    ]);
    const generated = /(\d+) generated/.exec(out)?.[1];
    // A clean run's summary has no failure line; its exit code says it.
    const failures = /(\d+) unique failures?/.exec(out)?.[1] ?? (code === 0 ? '0' : undefined);
    const warnings = /(\d+) warnings?/.exec(out)?.[1] ?? '0';
    // Schemathesis's own closing line ("=== 1 warning in 16.21s ===") is not echoed: it has the
    // form of pytest's, and a CI log reader took it for a pytest run that executed no test.
    console.log(
      `schemathesis ${schemathesis.split('/').at(-3)}: ${generated ?? '?'} cases, ${failures ?? '?'} unique failures, ${warnings} warning${warnings === '1' ? '' : 's'} (seed ${SEED}, at most ${MAX_EXAMPLES} examples per operation and phase)`,
    );
    expect(generated, `schemathesis printed no summary:\n${out.slice(-4000)}`).toBeDefined();
    expect(Number(generated)).toBeGreaterThan(100);
    expect(code, out).toBe(0);
    expect(failures).toBe('0');
  });
});
