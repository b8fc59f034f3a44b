import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyV8Flags, nodeRuntimeEnv } from '../src/node-runtime.ts';

/**
 * Largest old generation a Node process reaches, in MiB, while a ring of 200,000 objects is
 * rewritten: each object outlives a few scavenges and dies in the old generation, as the
 * gateway's readings do while they wait for Kafka.
 */
function oldGenerationMiB(env: Record<string, string>): number {
  const script = `import { getHeapSpaceStatistics } from 'node:v8';
    import { applyV8Flags } from ${JSON.stringify(new URL('../src/node-runtime.ts', import.meta.url).href)};
    applyV8Flags();
    const ring = new Array(200000); let max = 0;
    for (let i = 0; i < 6e6; i++) { ring[i % ring.length] = { i, s: 'x' + i, a: [i, i + 1] };
      if (i % 20000 === 0) max = Math.max(max, getHeapSpaceStatistics().find((s) => s.space_name === 'old_space').space_size); }
    console.log(max / 2 ** 20);`;
  const argv = ['--max-semi-space-size=8', '--input-type=module', '-e', script];
  return Number(execFileSync(process.execPath, argv, { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' }).trim());
}

/** Largest young generation a Node process reaches while allocating short-lived objects fast, in MiB. */
function youngGenerationMiB(env: Record<string, string>): number {
  const script = `const v8 = require('node:v8'); let keep = []; let max = 0;
    for (let i = 0; i < 2e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 100000) keep = [];
      if (i % 10000 === 0) max = Math.max(max, v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size); }
    console.log(max / 2 ** 20);`;
  return Number(execFileSync(process.execPath, ['-e', script], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' }).trim());
}

describe("the services' Node runtime settings", () => {
  it('reads infra/node-runtime.env, and V8 takes its young-generation bound', () => {
    const env = nodeRuntimeEnv();
    expect(env.NODE_OPTIONS).toMatch(/--max-semi-space-size=\d+/);
    expect(env.MALLOC_ARENA_MAX).toMatch(/^\d+$/);
    const semi = Number(/--max-semi-space-size=(\d+)/.exec(env.NODE_OPTIONS!)![1]);
    // Two semi-spaces and a page or so of rounding.
    expect(youngGenerationMiB(env)).toBeLessThanOrEqual(3 * semi);
  });

  it('reads a double-quoted value as sh does, and refuses a line that sh would read differently', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lethe-runtime-'));
    const file = join(dir, 'bad.env');
    writeFileSync(file, '# fine\nNODE_OPTIONS="--a --b=1"\nB=c\n');
    expect(nodeRuntimeEnv(file)).toEqual({ NODE_OPTIONS: '--a --b=1', B: 'c' });
    const bySh = execFileSync('/bin/sh', ['-c', '. "$0" && printf "%s|%s" "$NODE_OPTIONS" "$B"', file], { encoding: 'utf8' });
    expect(bySh).toBe('--a --b=1|c');
    writeFileSync(file, '# fine\nNODE_OPTIONS="--a --b"\nA=b c\n');
    expect(() => nodeRuntimeEnv(file)).toThrow(/bad\.env:3: expected KEY=value/);
    for (const line of ["A='b'", 'A="$HOME"', 'A=`b`', 'A="b\\"', 'A="b']) {
      writeFileSync(file, `${line}\n`);
      expect(() => nodeRuntimeEnv(file), line).toThrow(/bad\.env:1: expected KEY=value/);
    }
  });

  it('sets the V8 flags of LETHE_V8_FLAGS at start-up, which bound the old generation', () => {
    const flags = nodeRuntimeEnv().LETHE_V8_FLAGS;
    expect(flags).toMatch(/--heap-growing-percent=\d+/);
    const unbounded = oldGenerationMiB({});
    const bounded = oldGenerationMiB({ LETHE_V8_FLAGS: flags! });
    // Measured: about 150 MiB without the flag, 107 with growth by half at most.
    expect(bounded).toBeLessThan(0.85 * unbounded);
  });

  it('refuses what is not a V8 flag, naming it', () => {
    expect(applyV8Flags({})).toEqual([]);
    expect(() => applyV8Flags({ LETHE_V8_FLAGS: '--heap-growing-percent=50 rm' })).toThrow(/LETHE_V8_FLAGS: "rm" is not a V8 flag/);
  });

  it('lowers the CPU priority of every thread of the process, those it starts later included, and never raises it', () => {
    // In a child: the test's own worker keeps its priority.
    const script = `import { readdirSync } from 'node:fs';
      import { getPriority } from 'node:os';
      import { Worker } from 'node:worker_threads';
      import { lowerCpuPriority } from ${JSON.stringify(new URL('../src/node-runtime.ts', import.meta.url).href)};
      const threads = () => readdirSync('/proc/self/task').map((t) => getPriority(Number(t)));
      const before = threads();
      // Relative to how the test was started (say under nice), so that it means the same there.
      const target = Math.min(19, getPriority() + 7);
      const main = lowerCpuPriority(target);
      const after = threads();
      const worker = new Worker('setTimeout(() => {}, 200)', { eval: true });
      await new Promise((resolve) => worker.once('online', resolve));
      const withWorker = threads();
      await worker.terminate();
      console.log(JSON.stringify({ before, main, after, withWorker, again: lowerCpuPriority(target - 4), target }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    const { before, main, after, withWorker, again, target } = JSON.parse(out) as {
      before: number[];
      after: number[];
      withWorker: number[];
      main: number;
      again: number;
      target: number;
    };
    expect(before.length, 'V8 runs helper threads before any code of ours').toBeGreaterThan(1);
    expect(before.every((n) => n < target)).toBe(true);
    expect(main).toBe(target);
    expect(after).toEqual(before.map(() => target));
    expect(withWorker.length).toBeGreaterThan(after.length);
    expect(withWorker.every((n) => n === target)).toBe(true);
    expect(again, 'a lower niceness asked later leaves it as it is').toBe(target);
  });
});
