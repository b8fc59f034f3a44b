// What every stage gets: options, servers, payloads, a run id for unique names, a progress
// logger, and the row type each stage returns for the results table.
import type { Kafka } from '@lethe/kafka';
import type { Logger } from '@lethe/observability';
import type { Servers } from './infra.ts';
import type { BenchOptions } from './options.ts';
import type { PayloadSet } from './payloads.ts';
import { MACHINE, type ProcUsage } from './proc.ts';

export interface BenchContext {
  opts: BenchOptions;
  servers: Servers;
  payloads: PayloadSet;
  /** Unique per run: topic prefixes and consumer groups carry it, so runs never share state. */
  run: string;
  /** The shipped policy with BENCH_WINDOW_SECONDS windows (window close → InfluxDB is then seen many times per step; policy.ts). */
  policyFile: string;
  kafka: Kafka;
  logger: Logger;
  progress(stage: string, message: string): void;
}

export interface Latency {
  /** What was timed, from where to where. */
  what: string;
  p50Ms: number;
  p99Ms: number;
  maxMs?: number;
  samples?: number;
}

export interface Row {
  id: string;
  title: string;
  /** Messages per second through the stage. */
  rate: number;
  unit: string;
  latency: Latency[];
  /** CPU µs per message, per process. */
  cpuUsPerMsg: Record<string, number>;
  /** Peak RSS (sampled VmRSS) in MiB, per process. */
  peakRssMb: Record<string, number>;
  /** Cores busy with processes the stage does not watch (another user of the machine, the kernel), on average. */
  otherCores: number;
  method: string;
  notes: string[];
  /** Stage-specific figures for the JSON (and some for the text). */
  extra: Record<string, unknown>;
}

export function cpuAndRss(usage: ProcUsage[], messages: number): Pick<Row, 'cpuUsPerMsg' | 'peakRssMb' | 'otherCores'> {
  const procs = usage.filter((u) => u.name !== MACHINE);
  const machine = usage.find((u) => u.name === MACHINE);
  const ours = procs.filter((u) => Number.isFinite(u.cpuSeconds)).reduce((n, u) => n + u.cpuSeconds, 0);
  return {
    cpuUsPerMsg: Object.fromEntries(procs.map((u) => [u.name, round((u.cpuSeconds * 1e6) / messages, 1)])),
    peakRssMb: Object.fromEntries(procs.map((u) => [u.name, round(u.peakRssMb, 0)])),
    otherCores: machine?.wallSeconds ? round(Math.max(0, (machine.cpuSeconds - ours) / machine.wallSeconds), 2) : NaN,
  };
}

export function round(x: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export { sleep } from '../test/support/wait.ts';
