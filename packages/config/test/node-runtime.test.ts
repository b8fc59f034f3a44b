import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeRuntimeEnv } from '../src/node-runtime.ts';

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

  it('refuses a line that sh would read differently', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lethe-runtime-'));
    const file = join(dir, 'bad.env');
    writeFileSync(file, '# fine\nNODE_OPTIONS="--a --b"\n');
    expect(() => nodeRuntimeEnv(file)).toThrow(/bad\.env:2: expected KEY=value/);
  });
});
