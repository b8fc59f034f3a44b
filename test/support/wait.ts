// Waiting for a condition, for the tests, the fault suite, the compose suite and the bench: one poll loop, so every wait has
// a deadline, says what it waited for, and reports the check's last error when it gives up.

export interface WaitOptions {
  /** Between checks (default 250 ms). */
  everyMs?: number;
  /** More for the timeout message, e.g. the last lines a service printed. */
  context?: () => string;
  /** Called about every 30 s while it still waits, for progress on long waits. */
  stillWaiting?: (elapsedMs: number) => void;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Checks until `check` holds and resolves with the milliseconds that took; rejects after
 * `timeoutMs`. A check that throws counts as "not yet" (a server still starting refuses
 * connections): its last error is in the timeout message.
 */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  { everyMs = 250, context, stillWaiting }: WaitOptions = {},
): Promise<number> {
  const started = performance.now();
  let lastError: unknown;
  let told = 0;
  for (;;) {
    try {
      if (await check()) return performance.now() - started;
    } catch (err) {
      lastError = err;
    }
    if (performance.now() - started > timeoutMs) {
      const cause = lastError === undefined ? '' : ` (the last check failed: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
      const more = context?.() ?? '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}${more ? `\n${more}` : ''}`);
    }
    const elapsed = performance.now() - started;
    if (stillWaiting && elapsed - told >= 30_000) {
      stillWaiting(elapsed);
      told = elapsed;
    }
    await sleep(everyMs);
  }
}
