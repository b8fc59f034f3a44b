// The parent's side of loadgen.ts: start the devices once, then run as many rate steps as needed.
import { forkChild, type Child } from './child.ts';
import type { FromLoadgen, LoadgenConfig, LoadgenRun, LoadgenSummary, ToLoadgen } from './loadgen.ts';

export interface Loadgen {
  pid: number;
  run(run: LoadgenRun, onProgress?: (p: { published: number; acked: number; failed: number }) => void): Promise<LoadgenSummary>;
  /** Raises the cap on the total published in the current run. */
  allow(total: number): void;
  /** Ends the current run now. */
  stop(): void;
  close(): Promise<void>;
}

export async function startLoadgen(config: LoadgenConfig): Promise<Loadgen> {
  const child: Child<ToLoadgen, FromLoadgen> = forkChild('./loadgen.ts', 'load generator');
  child.send({ type: 'config', config });
  await child.next((m): m is Extract<FromLoadgen, { type: 'connected' }> => m.type === 'connected', 60_000);
  return {
    pid: child.pid,
    async run(run, onProgress) {
      const listener = (m: FromLoadgen) => {
        if (m.type === 'progress') onProgress?.(m);
      };
      child.on(listener);
      child.send({ type: 'run', run });
      try {
        const done = await child.next((m): m is Extract<FromLoadgen, { type: 'done' }> => m.type === 'done', (run.seconds + 90) * 1000);
        return done.summary;
      } finally {
        child.off(listener);
      }
    },
    allow: (total) => child.send({ type: 'allow', total }),
    stop: () => child.send({ type: 'stop' }),
    async close() {
      child.send({ type: 'close' });
      await child.stop(5000);
    },
  };
}
