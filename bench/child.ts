// The bench's own helper processes (load generator, MQTT subscriber, kafkajs producer), forked
// with an IPC channel: typed messages in both directions, and their pid for /proc sampling.
import { fork, type ChildProcess } from 'node:child_process';
import { running } from './infra.ts';

export interface Child<In, Out> {
  pid: number;
  process: ChildProcess;
  send(message: In): void;
  /** Resolves with the first message that `match` accepts; rejects on an `error` message or exit. */
  next<T extends Out>(match: (m: Out) => m is T, timeoutMs?: number): Promise<T>;
  on(listener: (m: Out) => void): void;
  off(listener: (m: Out) => void): void;
  /** Waits `graceMs` for the child to exit by itself, then SIGTERM (SIGKILL after 5 s). */
  stop(graceMs?: number): Promise<void>;
}

export function forkChild<In, Out extends { type: string }>(file: string, name: string): Child<In, Out> {
  const child = fork(new URL(file, import.meta.url).pathname, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
  const listeners = new Set<(m: Out) => void>();
  let exited = false;
  running.add(child);
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), running.delete(child), resolve())));
  child.on('message', (m) => listeners.forEach((l) => l(m as Out)));
  return {
    pid: child.pid!,
    process: child,
    send: (m) => void child.send(m as object),
    on: (l) => void listeners.add(l),
    off: (l) => void listeners.delete(l),
    next(match, timeoutMs = 120_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`${name}: no answer within ${timeoutMs / 1000} s`)), timeoutMs);
        const onExit = () => done(new Error(`${name} exited`));
        const listener = (m: Out) => {
          if (m.type === 'error') done(new Error(`${name}: ${(m as unknown as { message: string }).message}`));
          else if (match(m)) done(undefined, m);
        };
        function done(err?: Error, m?: Out) {
          clearTimeout(timer);
          listeners.delete(listener);
          child.off('exit', onExit);
          if (err) reject(err);
          else resolve(m as never);
        }
        listeners.add(listener);
        child.once('exit', onExit);
      });
    },
    async stop(graceMs = 0) {
      if (graceMs > 0) await Promise.race([exit, new Promise((r) => setTimeout(r, graceMs))]);
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(timer);
    },
  };
}
