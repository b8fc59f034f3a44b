import { setImmediate as tick } from 'node:timers/promises';
import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLifecycle, type Lifecycle } from '../src/lifecycle.ts';

interface LogLine {
  msg: string;
  reason?: string;
  step?: string;
  err?: { message: string };
}

/** A logger whose lines are parsed into `lines` as they are written (pino writes synchronously). */
function captureLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { logger, lines };
}

/** A promise with its resolve and reject exposed, to hold a hook open for as long as a test needs. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (err: Error) => void } {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets pending promise callbacks run (several turns of the event loop). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await tick();
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('the lifecycle: readiness', () => {
  it('is not ready and not shutting down until markReady()', () => {
    const lifecycle = createLifecycle({ logger: captureLogger().logger });
    expect(lifecycle.ready).toBe(false);
    expect(lifecycle.shuttingDown).toBe(false);
    lifecycle.markReady();
    expect(lifecycle.ready).toBe(true);
    expect(lifecycle.shuttingDown).toBe(false);
  });

  it('is not ready from the moment shutdown() is called, before any hook has finished', async () => {
    const { logger } = captureLogger();
    const lifecycle = createLifecycle({ logger });
    const held = deferred();
    const seenByHook: Array<{ ready: boolean; shuttingDown: boolean }> = [];
    lifecycle.onShutdown('stop input', () => {
      seenByHook.push({ ready: lifecycle.ready, shuttingDown: lifecycle.shuttingDown });
      return held.promise;
    });
    lifecycle.markReady();

    const done = lifecycle.shutdown('test');
    expect(lifecycle.ready).toBe(false);
    expect(lifecycle.shuttingDown).toBe(true);

    await settle();
    expect(seenByHook).toEqual([{ ready: false, shuttingDown: true }]);
    expect(lifecycle.ready).toBe(false);

    held.resolve();
    await done;
    expect(lifecycle.ready).toBe(false);
    expect(lifecycle.shuttingDown).toBe(true);
  });

  it('stays not ready when markReady() comes after shutdown has begun', async () => {
    const lifecycle = createLifecycle({ logger: captureLogger().logger });
    await lifecycle.shutdown('early stop');
    lifecycle.markReady();
    expect(lifecycle.ready).toBe(false);
    expect(lifecycle.shuttingDown).toBe(true);
  });

  it('logs "ready" when marked ready', () => {
    const { logger, lines } = captureLogger();
    createLifecycle({ logger }).markReady();
    expect(lines.map((l) => l.msg)).toEqual(['ready']);
  });
});

describe('the lifecycle: shutdown hooks', () => {
  it('runs the hooks once each, in the order they were added, and logs the reason and each step', async () => {
    const { logger, lines } = captureLogger();
    const lifecycle = createLifecycle({ logger });
    const order: string[] = [];
    lifecycle.onShutdown('stop input', () => void order.push('stop input'));
    lifecycle.onShutdown('flush output', async () => {
      await tick();
      order.push('flush output');
    });
    lifecycle.onShutdown('close http', () => void order.push('close http'));

    await lifecycle.shutdown('deploy');

    expect(order).toEqual(['stop input', 'flush output', 'close http']);
    expect(lines).toEqual([
      expect.objectContaining({ msg: 'shutting down', reason: 'deploy' }),
      expect.objectContaining({ msg: 'shutdown step done', step: 'stop input' }),
      expect.objectContaining({ msg: 'shutdown step done', step: 'flush output' }),
      expect.objectContaining({ msg: 'shutdown step done', step: 'close http' }),
    ]);
  });

  it('waits for an async hook to finish before starting the next one', async () => {
    const lifecycle = createLifecycle({ logger: captureLogger().logger, hookTimeoutMs: 60_000 });
    const held = deferred();
    const events: string[] = [];
    lifecycle.onShutdown('first', async () => {
      events.push('first started');
      await held.promise;
      events.push('first finished');
    });
    lifecycle.onShutdown('second', () => void events.push('second started'));

    let finished = false;
    const done = lifecycle.shutdown('test').then(() => {
      finished = true;
    });
    await settle();
    expect(events).toEqual(['first started']);
    expect(finished).toBe(false);

    held.resolve();
    await done;
    expect(events).toEqual(['first started', 'first finished', 'second started']);
  });

  it('runs the hooks only once when shutdown() is called again, and returns the same promise', async () => {
    const { logger, lines } = captureLogger();
    const lifecycle = createLifecycle({ logger });
    const hook = vi.fn();
    lifecycle.onShutdown('only', hook);

    const first = lifecycle.shutdown('SIGTERM');
    const second = lifecycle.shutdown('SIGINT');
    expect(second).toBe(first);
    await Promise.all([first, second]);
    await lifecycle.shutdown('again');

    expect(hook).toHaveBeenCalledTimes(1);
    expect(lines.filter((l) => l.msg === 'shutting down')).toEqual([expect.objectContaining({ reason: 'SIGTERM' })]);
  });

  it('resolves with no hooks added', async () => {
    const { logger, lines } = captureLogger();
    const lifecycle = createLifecycle({ logger });
    await expect(lifecycle.shutdown('nothing to do')).resolves.toBeUndefined();
    expect(lines).toEqual([expect.objectContaining({ msg: 'shutting down', reason: 'nothing to do' })]);
  });

  it('logs a hook that throws or rejects as failed, and still runs the hooks after it', async () => {
    const { logger, lines } = captureLogger();
    const lifecycle = createLifecycle({ logger });
    const order: string[] = [];
    lifecycle.onShutdown('throws', () => {
      order.push('throws');
      throw new Error('sync boom');
    });
    lifecycle.onShutdown('rejects', async () => {
      order.push('rejects');
      await tick();
      throw new Error('async boom');
    });
    lifecycle.onShutdown('last', () => void order.push('last'));

    await expect(lifecycle.shutdown('test')).resolves.toBeUndefined();

    expect(order).toEqual(['throws', 'rejects', 'last']);
    expect(lines.slice(1)).toEqual([
      expect.objectContaining({ msg: 'shutdown step failed', step: 'throws', err: expect.objectContaining({ message: 'sync boom' }) }),
      expect.objectContaining({ msg: 'shutdown step failed', step: 'rejects', err: expect.objectContaining({ message: 'async boom' }) }),
      expect.objectContaining({ msg: 'shutdown step done', step: 'last' }),
    ]);
  });

  it('abandons a hook that exceeds hookTimeoutMs exactly when it elapses, and moves on to the next', async () => {
    vi.useFakeTimers();
    const { logger, lines } = captureLogger();
    const lifecycle = createLifecycle({ logger, hookTimeoutMs: 5_000 });
    const order: string[] = [];
    lifecycle.onShutdown('hangs', () => {
      order.push('hangs');
      return new Promise<void>(() => {});
    });
    lifecycle.onShutdown('next', () => void order.push('next'));

    let finished = false;
    const done = lifecycle.shutdown('test').then(() => {
      finished = true;
    });

    await vi.advanceTimersByTimeAsync(4_999);
    expect(order).toEqual(['hangs']);
    expect(finished).toBe(false);

    await vi.advanceTimersByTimeAsync(1);
    await done;
    expect(order).toEqual(['hangs', 'next']);
    expect(lines.slice(1)).toEqual([
      expect.objectContaining({ msg: 'shutdown step failed', step: 'hangs', err: expect.objectContaining({ message: 'timed out after 5000 ms' }) }),
      expect.objectContaining({ msg: 'shutdown step done', step: 'next' }),
    ]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('gives each hook 15 s by default', async () => {
    vi.useFakeTimers();
    const { logger, lines } = captureLogger();
    const lifecycle = createLifecycle({ logger });
    lifecycle.onShutdown('hangs', () => new Promise<void>(() => {}));

    let finished = false;
    const done = lifecycle.shutdown('test').then(() => {
      finished = true;
    });
    await vi.advanceTimersByTimeAsync(14_999);
    expect(finished).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await done;
    expect(lines.at(-1)).toEqual(expect.objectContaining({ step: 'hangs', err: expect.objectContaining({ message: 'timed out after 15000 ms' }) }));
  });

  it('measures the timeout per hook, not for the whole shutdown', async () => {
    vi.useFakeTimers();
    const { logger, lines } = captureLogger();
    const lifecycle = createLifecycle({ logger, hookTimeoutMs: 1_000 });
    const slow = (ms: number) => () => new Promise<void>((resolve) => setTimeout(resolve, ms));
    lifecycle.onShutdown('a', slow(900));
    lifecycle.onShutdown('b', slow(900));
    lifecycle.onShutdown('c', slow(900));

    const done = lifecycle.shutdown('test');
    await vi.advanceTimersByTimeAsync(2_700);
    await done;
    expect(lines.slice(1).map((l) => [l.msg, l.step])).toEqual([
      ['shutdown step done', 'a'],
      ['shutdown step done', 'b'],
      ['shutdown step done', 'c'],
    ]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('clears the timeout of a hook that finishes in time, leaving no timer behind', async () => {
    vi.useFakeTimers();
    const lifecycle = createLifecycle({ logger: captureLogger().logger, hookTimeoutMs: 60_000 });
    lifecycle.onShutdown('quick', () => {});
    lifecycle.onShutdown('quick async', async () => {});
    const done = lifecycle.shutdown('test');
    expect(vi.getTimerCount()).toBeGreaterThan(0);
    await done;
    expect(vi.getTimerCount()).toBe(0);
  });

  it('ignores an abandoned hook that fails later: no unhandled rejection, no second log line', async () => {
    vi.useFakeTimers();
    const { logger, lines } = captureLogger();
    const lifecycle = createLifecycle({ logger, hookTimeoutMs: 1_000 });
    lifecycle.onShutdown('late failure', () => new Promise<void>((_, reject) => setTimeout(() => reject(new Error('too late')), 3_000)));

    const done = lifecycle.shutdown('test');
    await vi.advanceTimersByTimeAsync(1_000);
    await done;
    await vi.advanceTimersByTimeAsync(5_000);
    vi.useRealTimers();
    await settle();

    expect(lines.slice(1)).toEqual([expect.objectContaining({ step: 'late failure', err: expect.objectContaining({ message: 'timed out after 1000 ms' }) })]);
  });
});

// No real signal is sent: the listeners that handleSignals() adds are found by comparing
// process.rawListeners() before and after, and called directly, with process.exit stubbed.
describe('the lifecycle: handleSignals', () => {
  const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
  type Signal = (typeof SIGNALS)[number];
  type Listener = (signal: Signal) => void;

  function withSignalHandlers(lifecycle: Lifecycle): { added: Record<Signal, Listener[]>; remove: () => void } {
    const before = { SIGTERM: process.rawListeners('SIGTERM'), SIGINT: process.rawListeners('SIGINT') };
    lifecycle.handleSignals();
    const added = {
      SIGTERM: process.rawListeners('SIGTERM').filter((l) => !before.SIGTERM.includes(l)) as Listener[],
      SIGINT: process.rawListeners('SIGINT').filter((l) => !before.SIGINT.includes(l)) as Listener[],
    };
    const remove = () => {
      for (const signal of SIGNALS) for (const l of added[signal]) process.removeListener(signal, l);
    };
    return { added, remove };
  }

  it('adds exactly one listener for each of SIGTERM and SIGINT', () => {
    const counts = () => SIGNALS.map((s) => process.listenerCount(s));
    const before = counts();
    const { added, remove } = withSignalHandlers(createLifecycle({ logger: captureLogger().logger }));
    try {
      expect(added.SIGTERM).toHaveLength(1);
      expect(added.SIGINT).toHaveLength(1);
      expect(counts()).toEqual(before.map((n) => n + 1));
    } finally {
      remove();
    }
    expect(counts()).toEqual(before);
  });

  it.each(SIGNALS)('on %s runs the hooks with the signal as reason, then exits with code 0, and listens only once', async (signal) => {
    const { logger, lines } = captureLogger();
    const lifecycle = createLifecycle({ logger });
    const events: string[] = [];
    const held = deferred();
    lifecycle.onShutdown('stop input', async () => {
      events.push('hook started');
      await held.promise;
      events.push('hook finished');
    });
    lifecycle.markReady();
    const exit = vi.spyOn(process, 'exit').mockImplementation((code) => {
      events.push(`exit ${String(code)}`);
      return undefined as never;
    });
    const countBefore = process.listenerCount(signal);
    const { added, remove } = withSignalHandlers(lifecycle);
    try {
      const listener = added[signal][0];
      if (listener === undefined) throw new Error(`no ${signal} listener was added`);
      listener(signal);

      expect(process.listenerCount(signal), 'a once-listener removes itself').toBe(countBefore);
      expect(lifecycle.ready).toBe(false);
      expect(lifecycle.shuttingDown).toBe(true);
      await settle();
      expect(events).toEqual(['hook started']);
      expect(exit).not.toHaveBeenCalled();

      held.resolve();
      await vi.waitFor(() => expect(exit).toHaveBeenCalledTimes(1), { timeout: 10_000 });
      expect(exit).toHaveBeenCalledWith(0);
      expect(events).toEqual(['hook started', 'hook finished', 'exit 0']);
      expect(lines).toContainEqual(expect.objectContaining({ msg: 'shutting down', reason: signal }));
    } finally {
      remove();
    }
    expect(process.listenerCount(signal)).toBe(countBefore);
  });

  it('exits with code 1 when a shutdown step failed, so an unclean stop is not reported as a clean one', async () => {
    const lifecycle = createLifecycle({ logger: captureLogger().logger });
    lifecycle.onShutdown('flush', () => {
      throw new Error('the broker is gone');
    });
    lifecycle.onShutdown('close HTTP', () => {});
    const exit = vi.spyOn(process, 'exit').mockImplementation(() => undefined as never);
    const { added, remove } = withSignalHandlers(lifecycle);
    try {
      added.SIGTERM[0]!('SIGTERM');
      await vi.waitFor(() => expect(exit).toHaveBeenCalledTimes(1), { timeout: 10_000 });
      expect(exit).toHaveBeenCalledWith(1);
      expect(lifecycle.clean).toBe(false);
    } finally {
      remove();
    }
  });
});

describe('the lifecycle: the shutdown deadline', () => {
  it('gives a hook only what is left of the deadline, and skips the hooks after it', async () => {
    vi.useFakeTimers();
    const { logger, lines } = captureLogger();
    const lifecycle = createLifecycle({ logger, hookTimeoutMs: 1_000, deadlineMs: 1_500 });
    const hangs = () => new Promise<void>(() => {});
    lifecycle.onShutdown('a', hangs);
    lifecycle.onShutdown('b', hangs);
    lifecycle.onShutdown('c', () => {});
    const done = lifecycle.shutdown('test');
    await vi.advanceTimersByTimeAsync(1_500);
    await done;
    expect(lines.slice(1).map((l) => [l.msg, l.step, l.err?.message])).toEqual([
      ['shutdown step failed', 'a', 'timed out after 1000 ms'],
      ['shutdown step failed', 'b', 'timed out after 500 ms'],
      ['shutdown step skipped: the shutdown deadline has passed', 'c', undefined],
    ]);
    expect(lifecycle.clean).toBe(false);
  });

  it("ends within 25 s by default, inside compose's 30 s stop_grace_period, however many hooks hang", async () => {
    vi.useFakeTimers();
    const lifecycle = createLifecycle({ logger: captureLogger().logger });
    for (const name of ['stop input', 'flush', 'commit', 'close HTTP']) lifecycle.onShutdown(name, () => new Promise<void>(() => {}));
    let finished = false;
    const done = lifecycle.shutdown('test').then(() => (finished = true));
    await vi.advanceTimersByTimeAsync(24_999);
    expect(finished).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await done;
    expect(finished).toBe(true);
  });

  it('stays clean when every step finishes in time', async () => {
    const lifecycle = createLifecycle({ logger: captureLogger().logger });
    lifecycle.onShutdown('quick', () => {});
    await lifecycle.shutdown('test');
    expect(lifecycle.clean).toBe(true);
  });
});
