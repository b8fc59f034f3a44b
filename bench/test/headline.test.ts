import { describe, expect, it } from 'vitest';
import type { Row } from '../context.ts';
import { headline } from '../headline.ts';
import type { PipelineResult, StepResult, StepRole } from '../stage-pipeline.ts';

function step(label: string, role: StepRole, achievedRate: number, { missing = 0, stoppedEarly = false } = {}): StepResult {
  return {
    label,
    role,
    percent: 50,
    targetRate: Math.round(achievedRate),
    seconds: 60,
    published: { stoppedEarly, behindTicks: 0, failed: [] } as unknown as StepResult['published'],
    forwarded: 0,
    drainSeconds: 0.5,
    achievedRate,
    usage: [],
    scrapes: {},
    peakRssMb: { gateway: 100, processor: 150, writer: 90 },
    gatewayAck: { buckets: [], count: 0, sum: 0 } as unknown as StepResult['gatewayAck'],
    startMs: 0,
    endMs: 0,
    watchFrom: 0,
    watchTo: 60,
    loss: { expected: 1000, found: 1000 - missing, missing, duplicates: 0, uncountedInInflux: 0 },
    publishToKafka: { n: 1000, p50: 5, p99: role === 'half' ? 42 : 300, max: 400, mean: 10 },
    windows: [],
    windowsAfterInput: [],
    windowsNeverSeen: 0,
    windowsInTime: true,
    otherCores: 0,
  };
}

const row = (s: StepResult, cpu: Record<string, number>): Row => ({
  id: `7 ${s.label}`,
  title: s.label,
  rate: s.achievedRate,
  unit: 'readings/s',
  latency: [],
  cpuUsPerMsg: cpu,
  peakRssMb: {},
  otherCores: 0,
  method: '',
  notes: [],
  extra: {},
});

function pipeline(steps: StepResult[]): PipelineResult {
  const endToEnd = { acknowledged: 10, refusedByGateway: 0, droppedByProcessor: {}, countedInInflux: 10, missing: 0, settledAfterSeconds: 1 };
  return {
    steps,
    rows: [],
    baseRate: 8000,
    basis: '',
    rss: { seconds: 0, span: { what: 'soak', from: 0, to: 0 }, trends: [], samples: [], heap: [] },
    scrapeCpuUs: {},
    endToEnd,
  };
}

const raw: Row = { ...row(step('x', 'fixed', 0), {}), id: '1', rate: 20_000 };

describe('the headline figures', () => {
  it('take the median of the repeats at the maximum, with the services CPU there and publish → Kafka at half', () => {
    const steps = [
      step('search 1', 'search', 4000),
      { ...step('max 1/3', 'max', 4100), targetRate: 4000 },
      { ...step('max 2/3', 'max', 3900), targetRate: 4000 },
      { ...step('max 3/3', 'max', 4020), targetRate: 4000 },
      step('half', 'half', 2000),
    ];
    const cpu: Array<Record<string, number>> = [
      {},
      { gateway: 100, processor: 40, writer: 10 },
      { gateway: 110, processor: 50, writer: 10 },
      { gateway: 90, processor: 45, writer: 12 },
      {},
    ];
    const h = headline([raw, ...steps.map((s, i) => row(s, cpu[i]!))], pipeline(steps));
    expect(h.maxZeroLossReadingsPerSecond).toBe(4020);
    expect(h.maxZeroLossRepeats).toEqual([4100, 3900, 4020]);
    expect(h.ratioToRawMosquitto).toBe(0.201);
    expect(h.servicesCpuUsPerReadingByService).toEqual({ gateway: 100, processor: 45, writer: 10 });
    expect(h.servicesCpuUsPerReading).toBe(155);
    expect(h.publishToKafkaP99Ms).toBe(42);
    expect(h.peakRssMb).toEqual({ gateway: 100, processor: 150, writer: 90 });
  });

  it('fall back to the best sustained step, and say so, when a repeat at the maximum lost readings', () => {
    const steps = [
      step('search 1', 'search', 3500),
      step('search 2', 'search', 4400, { stoppedEarly: true }),
      step('max 1/2', 'max', 4000),
      { ...step('max 2/2', 'max', 3990, { missing: 3 }), targetRate: 4000 },
    ];
    const h = headline([raw, ...steps.map((s) => row(s, { gateway: 1, processor: 1, writer: 1 }))], pipeline(steps));
    expect(h.maxZeroLossReadingsPerSecond).toBe(4000);
    expect(h.maxZeroLossBasis).toMatch(/best sustained step \(max 1\/2.*1 of 2/);
  });

  it('take the median of the last repeats when they were made below the search’s maximum, and say how far below', () => {
    const steps = [
      step('search 1', 'search', 4000),
      { ...step('max 1/3', 'max', 3990, { stoppedEarly: true }), targetRate: 4000 },
      { ...step('max 1/3 at −5 %', 'max', 3800), targetRate: 3800 },
      { ...step('max 2/3 at −5 %', 'max', 3790), targetRate: 3800 },
      { ...step('max 3/3 at −5 %', 'max', 3801), targetRate: 3800 },
    ];
    const h = headline([raw, ...steps.map((s) => row(s, { gateway: 1, processor: 1, writer: 1 }))], pipeline(steps));
    expect(h.maxZeroLossReadingsPerSecond).toBe(3800);
    expect(h.maxZeroLossRepeats).toEqual([3800, 3790, 3801]);
    expect(h.maxZeroLossBasis).toMatch(/median of 3 measured step\(s\) at 3800 readings\/s, 5 % below the search's maximum \(4000\)/);
  });

  it('have no maximum when no step was sustained', () => {
    const h = headline([raw], pipeline([step('search 1', 'search', 4000, { missing: 1 })]));
    expect(h.maxZeroLossReadingsPerSecond).toBeNull();
    expect(h.ratioToRawMosquitto).toBeNull();
  });

  it('count no step whose windows were visible in InfluxDB later than the target, however fast it was', () => {
    const slow = {
      ...step('search 2', 'search', 5000),
      windows: [{ windowStart: 0, closesAt: 10_000, firstSeenAt: 11_000, completeAt: 12_500, fieldValues: 1 }],
    };
    const quick = {
      ...step('search 1', 'search', 4000),
      windows: [{ windowStart: 0, closesAt: 10_000, firstSeenAt: 10_500, completeAt: 11_000, fieldValues: 1 }],
    };
    const h = headline([raw], pipeline([quick, slow]));
    expect(h.maxZeroLossReadingsPerSecond).toBe(4000);
  });
});
