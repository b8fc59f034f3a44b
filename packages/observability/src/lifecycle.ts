// Startup and ordered shutdown. Readiness is false until `markReady()` and false again as
// soon as shutdown begins, so load balancers and compose stop sending work first; then the
// hooks run in the order they were added (stop input → flush output → close HTTP), each within
// its own limit and all within one deadline: compose SIGKILLs a container 30 s after SIGTERM
// (stop_grace_period), and a shutdown cut short there says nothing of what it did not finish.
// A shutdown with a step that failed, timed out or was skipped exits 1, not 0.
import type { Logger } from 'pino';

export interface Lifecycle {
  readonly ready: boolean;
  readonly shuttingDown: boolean;
  markReady(): void;
  onShutdown(name: string, hook: () => Promise<void> | void): void;
  shutdown(reason: string): Promise<void>;
  /** Whether every shutdown step so far finished in time (false once one failed, timed out or was skipped). */
  readonly clean: boolean;
  /** Runs shutdown on SIGTERM and SIGINT, then exits: 0 if every step finished in time, else 1. */
  handleSignals(): void;
}

export interface LifecycleOptions {
  logger: Logger;
  /** Each hook gets this long before it is abandoned. */
  hookTimeoutMs?: number;
  /** The whole shutdown's limit: hooks not started by then are skipped (default 25 s, within compose's 30 s stop_grace_period). */
  deadlineMs?: number;
}

export function createLifecycle({ logger, hookTimeoutMs = 15_000, deadlineMs = 25_000 }: LifecycleOptions): Lifecycle {
  const hooks: Array<{ name: string; hook: () => Promise<void> | void }> = [];
  let ready = false;
  let clean = true;
  let shutdownPromise: Promise<void> | undefined;

  async function runHooks(reason: string): Promise<void> {
    logger.info({ reason }, 'shutting down');
    const deadline = Date.now() + deadlineMs;
    for (const { name, hook } of hooks) {
      const limitMs = Math.min(hookTimeoutMs, deadline - Date.now());
      if (limitMs <= 0) {
        clean = false;
        logger.error({ step: name, deadlineMs }, 'shutdown step skipped: the shutdown deadline has passed');
        continue;
      }
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.resolve().then(hook),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`timed out after ${limitMs} ms`)), limitMs);
          }),
        ]);
        logger.info({ step: name }, 'shutdown step done');
      } catch (err) {
        clean = false;
        logger.error({ step: name, err }, 'shutdown step failed');
      } finally {
        clearTimeout(timer);
      }
    }
  }

  const lifecycle: Lifecycle = {
    get ready() {
      return ready && shutdownPromise === undefined;
    },
    get shuttingDown() {
      return shutdownPromise !== undefined;
    },
    get clean() {
      return clean;
    },
    markReady() {
      ready = true;
      logger.info('ready');
    },
    onShutdown(name, hook) {
      hooks.push({ name, hook });
    },
    shutdown(reason) {
      shutdownPromise ??= runHooks(reason);
      return shutdownPromise;
    },
    handleSignals() {
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        process.once(signal, () => {
          void lifecycle.shutdown(signal).then(() => process.exit(clean ? 0 : 1));
        });
      }
    },
  };
  return lifecycle;
}
