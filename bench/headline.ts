// The figures a run is summed up by (issue 13's `headline`), from the rows and the pipeline's
// steps: the maximum zero-loss rate (the median of the repeats at the maximum the search found),
// raw Mosquitto's rate in the same run with the same publisher, the services' CPU at the
// maximum, publish → Kafka at half of it, window close → visible in InfluxDB, and peak RSS.
import type { Row } from './context.ts';
import { Histogram } from './histogram.ts';
import { kept, type PipelineResult, type StepResult } from './stage-pipeline.ts';
import { WINDOW_TO_INFLUX_P99_MS, windowLatency } from './window-visibility.ts';

/** Lethe's own services: what the CPU target is about. */
export const SERVICES = ['gateway', 'processor', 'writer'] as const;

export interface Headline {
  /** The median of the last repeats (at the search's maximum, or below it), if every one was sustained; else the best sustained step. Null: none was. */
  maxZeroLossReadingsPerSecond: number | null;
  /** Where that figure comes from, and the repeats' spread. */
  maxZeroLossBasis: string;
  maxZeroLossRepeats: number[];
  rawMosquittoMessagesPerSecond: number | null;
  ratioToRawMosquitto: number | null;
  /** Gateway + processor + writer CPU µs per reading, the median over the steps the maximum comes from. */
  servicesCpuUsPerReading: number | null;
  servicesCpuUsPerReadingByService: Record<string, number>;
  /** p99 of device publish → readings record in Kafka, at the step at half the maximum. */
  publishToKafkaP99Ms: number | null;
  /** p99 of window close → all its devices' reading counts visible in InfluxDB, over the sustained steps. */
  windowToInfluxP99Ms: number | null;
  /** Acknowledged readings neither refused nor dropped by a service and not counted in InfluxDB, over the whole stage. */
  endToEndMissing: number | null;
  /** Peak RSS per service over the whole stage, MiB. */
  peakRssMb: Record<string, number>;
}

/**
 * Sustained, what the maximum is made of: the step kept up (stage-pipeline.ts: kept), and, audited
 * after the run, every acknowledged reading is in Kafka and counted in InfluxDB, and its windows
 * were visible within the latency target. The search and the repeats steer by `kept` and the
 * windows as far as the run could tell them at each step's end (stage-pipeline.ts: keptUp).
 */
export function sustained(steps: readonly StepResult[]): StepResult[] {
  return steps.filter(
    (s) => kept(s) && s.loss !== undefined && s.loss.missing === 0 && s.loss.uncountedInInflux === 0 && !(windowLatency(s).p99 >= WINDOW_TO_INFLUX_P99_MS),
  );
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round1 = (x: number) => Math.round(x * 10) / 10;
const orNull = (x: number) => (Number.isFinite(x) ? x : null);

export function headline(rows: readonly Row[], p: PipelineResult | undefined): Headline {
  const raw = rows.find((r) => r.id === '1')?.rate;
  const steps = p?.steps ?? [];
  const rowOf = (s: StepResult) => rows.find((r) => r.id === `7 ${s.label}`);
  const ok = sustained(steps);
  // The repeats end at one rate: the search's maximum, or a step below it where a repeat fell behind (rate-search.ts, nextRepeatRate).
  const allRepeats = steps.filter((s) => s.role === 'max');
  const finalRate = allRepeats.at(-1)?.targetRate;
  const repeats = allRepeats.filter((s) => s.targetRate === finalRate);
  const found = allRepeats[0]?.targetRate;
  let basis: StepResult[];
  let why: string;
  if (repeats.length > 0 && repeats.every((s) => ok.includes(s))) {
    basis = repeats;
    const where =
      finalRate === found
        ? `the maximum the search found (${finalRate} readings/s)`
        : `${finalRate} readings/s, ${Math.round((1 - finalRate! / found!) * 100)} % below the search's maximum (${found}), where a repeat fell behind`;
    why = `the median of ${repeats.length} measured step(s) at ${where}, every one sustained (no loss, no backlog, windows visible in InfluxDB within 2 s at p99)`;
  } else {
    const best = [...ok].sort((a, b) => b.achievedRate - a.achievedRate)[0];
    basis = best ? [best] : [];
    why = best
      ? `the best sustained step (${best.label}: no loss, no backlog, windows visible within 2 s at p99)${allRepeats.length > 0 ? `: of the repeats at the maximum the search found and below it, ${allRepeats.filter((s) => !ok.includes(s)).length} of ${allRepeats.length} lost readings, fell behind or showed windows late` : ''}`
      : 'no step was sustained';
  }
  const max = median(basis.map((s) => s.achievedRate));
  const cpu = Object.fromEntries(SERVICES.map((name) => [name, round1(median(basis.map((s) => rowOf(s)?.cpuUsPerMsg[name] ?? NaN)))]));
  const half = steps.find((s) => s.role === 'half') ?? steps.find((s) => s.role === 'fixed' && s.percent === 50);
  const visible = new Histogram();
  for (const s of ok) for (const w of s.windows) visible.record((w.completeAt - w.closesAt) * 1000);
  const peak: Record<string, number> = {};
  for (const s of steps) for (const name of SERVICES) peak[name] = Math.max(peak[name] ?? 0, s.peakRssMb[name] ?? 0);
  return {
    maxZeroLossReadingsPerSecond: orNull(Math.round(max)),
    maxZeroLossBasis: why,
    maxZeroLossRepeats: (basis === repeats ? repeats : allRepeats).map((s) => Math.round(s.achievedRate)),
    rawMosquittoMessagesPerSecond: raw ?? null,
    ratioToRawMosquitto: raw && Number.isFinite(max) ? Math.round((max / raw) * 1000) / 1000 : null,
    servicesCpuUsPerReading: orNull(round1(SERVICES.reduce((n, name) => n + cpu[name]!, 0))),
    servicesCpuUsPerReadingByService: cpu,
    publishToKafkaP99Ms: half?.publishToKafka ? half.publishToKafka.p99 : null,
    windowToInfluxP99Ms: visible.n > 0 ? visible.summaryMs().p99 : null,
    endToEndMissing: p ? p.endToEnd.missing : null,
    peakRssMb: Object.fromEntries(Object.entries(peak).map(([k, v]) => [k, Math.round(v)])),
  };
}
