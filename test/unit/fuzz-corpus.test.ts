// Replays the committed fuzz corpus (test/fuzz/corpus/<target>/, grown by `pnpm fuzz`) through
// its target: every input the fuzzer ever kept must still pass every invariant of the target
// (no crash, no leak, no record the next stage cannot use). Also checks that the corpus stays
// small and that the fuzzer itself can run here (Jazzer.js's native addon loads).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadableJazzerAddon } from '../fuzz/jazzer/patch-addon.ts';
import { CORPUS_DIR, MAX_CORPUS_BYTES, MAX_CORPUS_FILES, MAX_INPUT_BYTES } from '../fuzz/run.ts';
import { FUZZ_TARGET_NAMES, FUZZ_TARGETS } from '../fuzz/targets.ts';

describe('the fuzz corpus', () => {
  describe.each(FUZZ_TARGET_NAMES)('%s', (target) => {
    const dir = join(CORPUS_DIR, target);
    const files = readdirSync(dir).filter((f) => !f.startsWith('.'));

    it('replays every input without a finding', async () => {
      expect(files.length).toBeGreaterThan(0);
      const failures: string[] = [];
      for (const file of files) {
        try {
          await FUZZ_TARGETS[target](readFileSync(join(dir, file)));
        } catch (err) {
          failures.push(`${file}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      expect(failures).toEqual([]);
    });

    it(`stays small: inputs up to ${MAX_INPUT_BYTES / 1024} KiB, ${MAX_CORPUS_BYTES / 1024} KiB and ${MAX_CORPUS_FILES} files in all`, () => {
      expect(files.length).toBeLessThanOrEqual(MAX_CORPUS_FILES);
      const sizes = files.map((f) => statSync(join(dir, f)).size);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_INPUT_BYTES);
      expect(sizes.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(MAX_CORPUS_BYTES);
    });
  });

  it("can be grown here: Jazzer.js's native addon loads (patched when glibc is older than 2.38)", () => {
    expect(() => loadableJazzerAddon()).not.toThrow();
  });
});
