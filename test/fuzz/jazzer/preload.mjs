// Loaded with --import before Jazzer.js (test/fuzz/run.ts does it):
//   1. registers the type-stripping hooks, so they run after Jazzer.js's instrumenting hook;
//   2. when LETHE_JAZZER_ADDON is set, loads that copy of Jazzer.js's native addon instead of
//      the one in node_modules (a copy patched to load on glibc < 2.38, see patch-addon.ts).
import { register } from 'node:module';

register('./strip-types-hooks.mjs', import.meta.url);

const replacement = process.env.LETHE_JAZZER_ADDON;
if (replacement) {
  const dlopen = process.dlopen.bind(process);
  process.dlopen = (module, filename, ...rest) => dlopen(module, /[/\\]fuzzer-[a-z0-9]+-[a-z0-9]+\.node$/.test(filename) ? replacement : filename, ...rest);
}
