// Startup and ordered shutdown. Readiness is false until `markReady()` and false again as
// soon as shutdown begins, so load balancers and compose stop sending work first; then the
// hooks run in the order they were added (stop input → flush output → close HTTP).
import type { Logger } from 'pino';

export interface Lifecycle {
  readonly ready: boolean;
  readonly shuttingDown: boolean;
  markReady(): void;
  onShutdown(name: string, hook: () => Promise<void> | void): void;
  shutdown(reason: string): Promise<void>;
  /** Runs shutdown on SIGTERM and SIGINT, then exits. */
  handleSignals(): void;
}

export interface LifecycleOptions {
  logger: Logger;
  /** Each hook gets this long before it is abandoned. */
  hookTimeoutMs?: number;
}

export function createLifecycle({ logger, hookTimeoutMs = 15_000 }: LifecycleOptions): Lifecycle {
  const hooks: Array<{ name: string; hook: () => Promise<void> | void }> = [];
  let ready = false;
  let shutdownPromise: Promise<void> | undefined;

  async function runHooks(reason: string): Promise<void> {
    logger.info({ reason }, 'shutting down');
    for (const { name, hook } of hooks) {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.resolve().then(hook),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`timed out after ${hookTimeoutMs} ms`)), hookTimeoutMs);
          }),
        ]);
        logger.info({ step: name }, 'shutdown step done');
      } catch (err) {
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
          void lifecycle.shutdown(signal).then(() => process.exit(0));
        });
      }
    },
  };
  return lifecycle;
}
