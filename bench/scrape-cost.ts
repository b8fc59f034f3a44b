// The bench's own reading of the services' /metrics (the gateway's counters every 500 ms to stop
// an overloaded step, its histogram per step, the processor's outcomes) costs each service CPU
// that it would not spend in production. The issue asks for the measurement's cost to be charged
// to the bench: each service's CPU per scrape is measured once, while the pipeline is idle
// before the first step (scrapes back to back, less the service's CPU over as long idle), and
// every step moves its scrapes × that cost from the service to the bench.
import type { ProcUsage } from './proc.ts';

/** Scrapes per service in the calibration: /proc counts CPU in 10 ms ticks, so enough for many of them. */
export const CALIBRATION_SCRAPES = 50;

/** A service whose /metrics the bench reads, with its scrapes counted. */
export interface Scraped {
  name: string;
  pid: number;
  metrics(): Promise<string>;
}

/** Wraps `metrics` so that every call is counted in `counts` under `name`. */
export function countScrapes<T extends Scraped>(service: T, counts: Map<string, number>): T {
  const fetchMetrics = service.metrics.bind(service);
  service.metrics = () => {
    counts.set(service.name, (counts.get(service.name) ?? 0) + 1);
    return fetchMetrics();
  };
  return service;
}

/**
 * CPU seconds per scrape of each service: `n` scrapes back to back, less what the service spends
 * idle over as long (measured over `idleMs` just before). Never below 0 (noise).
 */
export async function measureScrapeCost(
  services: readonly Scraped[],
  cpuSeconds: (pid: number) => number,
  { n = CALIBRATION_SCRAPES, idleMs = 2000 }: { n?: number; idleMs?: number } = {},
): Promise<Record<string, number>> {
  const cost: Record<string, number> = {};
  for (const s of services) {
    const c0 = cpuSeconds(s.pid);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, idleMs));
    const idlePerMs = (cpuSeconds(s.pid) - c0) / (performance.now() - t0);
    const c1 = cpuSeconds(s.pid);
    const t1 = performance.now();
    for (let i = 0; i < n; i++) await s.metrics();
    const busy = cpuSeconds(s.pid) - c1 - idlePerMs * (performance.now() - t1);
    cost[s.name] = Number.isFinite(busy) ? Math.max(0, busy / n) : 0;
  }
  return cost;
}

/**
 * A step's usage with each service's scrapes (`scrapes`, during the step) × `costSeconds` moved
 * to the bench's own process. A service is never charged below zero.
 */
export function chargeScrapesToBench(
  usage: readonly ProcUsage[],
  scrapes: Readonly<Record<string, number>>,
  costSeconds: Readonly<Record<string, number>>,
  bench = 'bench',
): ProcUsage[] {
  let moved = 0;
  const out = usage.map((u) => {
    const charge = Math.min(Math.max(0, u.cpuSeconds), (scrapes[u.name] ?? 0) * (costSeconds[u.name] ?? 0));
    if (!(charge > 0)) return { ...u };
    moved += charge;
    return { ...u, cpuSeconds: u.cpuSeconds - charge };
  });
  return out.map((u) => (u.name === bench ? { ...u, cpuSeconds: u.cpuSeconds + moved } : u));
}
