// Zero loss end to end: every reading Mosquitto acknowledged must be counted in InfluxDB, in the
// `readings` field of its device's point (scope=device) for its window, the figure the open data
// holds. The Kafka audit (readings-audit.ts) proves the gateway's half; this one the processor's
// and the writer's too. Readings refused on the way (by the gateway, or dropped by the processor as
// late, expired or from the future) are counted by the services and reported beside, not as loss.
import type { Servers } from './infra.ts';
import { flux } from './influx.ts';

export interface InfluxAudit {
  /** Readings counted in InfluxDB's device points of the stage's windows. */
  counted: number;
  /** Seconds after the stage's last publish when the count stopped changing (or the wait ended). */
  settledAfterSeconds: number;
}

/** The readings counted in InfluxDB for windows of [fromMs, toMs), once the count has held still for `settleMs` (at most `maxWaitMs`). */
export async function countReadingsInInflux(
  servers: Servers,
  {
    fromMs,
    toMs,
    windowSeconds,
    settleMs = 10_000,
    maxWaitMs = 90_000,
  }: { fromMs: number; toMs: number; windowSeconds: number; settleMs?: number; maxWaitMs?: number },
): Promise<InfluxAudit> {
  const query =
    `from(bucket: "${servers.influx.bucket}") |> range(start: ${new Date(fromMs).toISOString()}, stop: ${new Date(toMs).toISOString()})` +
    ` |> filter(fn: (r) => r.window == "${windowSeconds}s" and r.scope == "device" and r._field == "readings") |> group() |> sum()`;
  const count = async () => Number((await flux(servers, query))[0]?._value ?? 0);
  const started = Date.now();
  let counted = await count();
  let changed = Date.now();
  while (Date.now() - changed < settleMs && Date.now() - started < maxWaitMs) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = await count();
    if (now !== counted) [counted, changed] = [now, Date.now()];
  }
  return { counted, settledAfterSeconds: (changed - started) / 1000 };
}

/** The readings counted in InfluxDB's device points per window start (ms), for windows of [fromMs, toMs). */
export async function readingsPerWindow(
  servers: Servers,
  { fromMs, toMs, windowSeconds }: { fromMs: number; toMs: number; windowSeconds: number },
): Promise<Map<number, number>> {
  const rows = await flux(
    servers,
    `from(bucket: "${servers.influx.bucket}") |> range(start: ${new Date(fromMs).toISOString()}, stop: ${new Date(toMs).toISOString()})` +
      ` |> filter(fn: (r) => r.window == "${windowSeconds}s" and r.scope == "device" and r._field == "readings") |> group(columns: ["_time"]) |> sum() |> group()`,
  );
  return new Map(rows.map((r) => [Date.parse(r._time ?? ''), Number(r._value)]));
}

/** Readings in Kafka but not counted in InfluxDB, over the windows that start in [fromMs, toMs). */
export function uncountedIn(fromMs: number, toMs: number, inKafka: ReadonlyMap<number, number>, inInflux: ReadonlyMap<number, number>): number {
  let n = 0;
  for (const [w, expected] of inKafka) if (w >= fromMs && w < toMs) n += Math.max(0, expected - (inInflux.get(w) ?? 0));
  return n;
}
