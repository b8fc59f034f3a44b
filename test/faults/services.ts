// Lethe's services as child processes that the fault suite can kill, restart, pause and resume.
// Every incarnation's output is kept (joined in order) for the post-mortem log files.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startService, type RunningService } from '../support/services.ts';

export interface ManagedService {
  readonly name: string;
  /** The live incarnation: its HTTP port changes on every restart. */
  current(): RunningService;
  pid(): number;
  kill(): Promise<void>;
  /** Starts a new incarnation and waits for its /readyz; resolves with the milliseconds that took. */
  restart(): Promise<number>;
  stop(): Promise<void>;
  /** Writes every incarnation's output to `<dir>/<label>.log`. */
  saveLog(dir: string): void;
}

export async function startManaged(name: string, env: Record<string, string>, label = name): Promise<ManagedService> {
  const incarnations: RunningService[] = [await startService(name, env)];
  const current = () => incarnations.at(-1)!;
  return {
    name,
    current,
    pid: () => current().process.pid!,
    async kill() {
      const child = current().process;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
    },
    async restart() {
      const t = performance.now();
      incarnations.push(await startService(name, env));
      return performance.now() - t;
    },
    stop: () => current().stop(),
    saveLog(dir) {
      const text = incarnations.map((s, i) => `===== ${label} incarnation ${i + 1} =====\n${s.output()}`).join('\n');
      writeFileSync(join(dir, `${label}.log`), text);
    },
  };
}
