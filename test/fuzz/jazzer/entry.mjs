// The module Jazzer.js loads: it imports fuzz targets only from .js/.mjs files, and ours are
// TypeScript (test/fuzz/targets.ts, type-stripped by strip-types-hooks.mjs). The target is
// chosen by LETHE_FUZZ_TARGET.
const { FUZZ_TARGETS } = await import('../targets.ts');
const name = process.env.LETHE_FUZZ_TARGET ?? '';
if (!Object.hasOwn(FUZZ_TARGETS, name)) throw new Error(`LETHE_FUZZ_TARGET must be one of ${Object.keys(FUZZ_TARGETS).join(', ')} (got "${name}")`);

export const fuzz = FUZZ_TARGETS[name];
