import { describe, expect, it } from 'vitest';
import { chargeScrapesToBench, countScrapes, measureScrapeCost } from '../scrape-cost.ts';

const usage = (cpu: Record<string, number>) => Object.entries(cpu).map(([name, cpuSeconds], pid) => ({ name, pid, cpuSeconds, peakRssMb: 100, hwmMb: 100 }));

describe("the bench's /metrics scrapes, charged to the bench", () => {
  it('moves scrapes × cost from each service to the bench, and the total CPU stays the same', () => {
    const out = chargeScrapesToBench(
      usage({ gateway: 10, processor: 4, kafka: 2, bench: 1 }),
      { gateway: 120, processor: 20 },
      { gateway: 0.002, processor: 0.001 },
    );
    const cpu = Object.fromEntries(out.map((u) => [u.name, u.cpuSeconds]));
    expect(cpu.gateway).toBeCloseTo(9.76);
    expect(cpu.processor).toBeCloseTo(3.98);
    expect(cpu.kafka).toBe(2);
    expect(cpu.bench).toBeCloseTo(1.26);
    expect(out.reduce((n, u) => n + u.cpuSeconds, 0)).toBeCloseTo(17);
  });

  it('never charges a service below zero', () => {
    const out = chargeScrapesToBench(usage({ writer: 0.01, bench: 1 }), { writer: 100 }, { writer: 0.001 });
    expect(out.find((u) => u.name === 'writer')!.cpuSeconds).toBe(0);
    expect(out.find((u) => u.name === 'bench')!.cpuSeconds).toBeCloseTo(1.01);
  });

  it('counts every scrape of a wrapped service', async () => {
    const counts = new Map<string, number>();
    const s = countScrapes({ name: 'gateway', pid: 1, metrics: async () => 'x 1' }, counts);
    await s.metrics();
    await s.metrics();
    expect(counts.get('gateway')).toBe(2);
  });

  it('measures the CPU per scrape net of what the service spends idle', async () => {
    // A fake CPU clock: 0.1 ms of CPU per ms idle, and 2 ms more per scrape.
    let extra = 0;
    const start = performance.now();
    const cpu = () => ((performance.now() - start) * 0.1) / 1000 + extra;
    const s = { name: 'gateway', pid: 1, metrics: async () => ((extra += 0.002), '') };
    const cost = await measureScrapeCost([s], cpu, { n: 20, idleMs: 100 });
    expect(cost.gateway).toBeGreaterThan(0.0018);
    expect(cost.gateway).toBeLessThan(0.0022);
  });
});
