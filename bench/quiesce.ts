// Before each stage: wait (≤ 30 s) until the servers are idle, so a stage does not pay for the
// previous one's background work (Kafka flushing, InfluxDB compacting, Mosquitto persisting).
// What else runs on the machine is not ours to wait for; each row reports it as "other cores".
import { sleep, type BenchContext } from './context.ts';
import { cpuSeconds } from './proc.ts';

const IDLE_CORES = 0.1;
const TIMEOUT_MS = 30_000;

export async function quiesce(ctx: BenchContext): Promise<void> {
  const pids = Object.values(ctx.servers.pids);
  const started = Date.now();
  for (;;) {
    const before = pids.reduce((n, pid) => n + cpuSeconds(pid), 0);
    await sleep(1000);
    const cores = pids.reduce((n, pid) => n + cpuSeconds(pid), 0) - before;
    if (cores < IDLE_CORES) return;
    if (Date.now() - started > TIMEOUT_MS) {
      ctx.progress('quiesce', `the servers still use ${cores.toFixed(2)} cores after ${TIMEOUT_MS / 1000} s; going on`);
      return;
    }
  }
}
