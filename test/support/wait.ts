// Waiting for a condition, for the tests and the fault suite: one poll loop, so every wait has
// a deadline, says what it waited for, and reports the check's last error when it gives up.

export interface WaitOptions {
  /** Between checks (default 250 ms). */
  everyMs?: number;
  /** More for the timeout message, e.g. the last lines a service printed. */
  context?: () => string;
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
  { everyMs = 250, context }: WaitOptions = {},
): Promise<number> {
  const started = performance.now();
  let lastError: unknown;
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
    await sleep(everyMs);
  }
}
