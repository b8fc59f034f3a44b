// Closes every vitest run with a plain "vitest: N passed, N failed, N skipped" line, the form CI
// log readers count whatever the runner, and, when LETHE_TEST_TALLY names a file, appends the
// three numbers to it so .ci/run can close with the total of all its runs.
import { appendFileSync } from 'node:fs';
import type { Reporter, SerializedError, TestModule } from 'vitest/node';

export default class TallyReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const module of modules) {
      const tests = [...module.children.allTests()];
      for (const test of tests) {
        const state = test.result().state;
        if (state === 'passed') passed += 1;
        else if (state === 'failed') failed += 1;
        else skipped += 1;
      }
      // A file that fails to load or in a hook outside every test has no failed test to show.
      if (module.state() === 'failed' && !tests.some((t) => t.result().state === 'failed')) failed += 1;
    }
    failed += unhandledErrors.length;
    console.log(`vitest: ${passed} passed, ${failed} failed, ${skipped} skipped`);
    const tally = process.env.LETHE_TEST_TALLY;
    if (tally) appendFileSync(tally, `${passed} ${failed} ${skipped}\n`);
  }
}
