// CPU and memory of the processes under test, read from /proc: CPU time (utime + stime of all
// threads, so the JVM's and libuv's threads count) and resident memory. A sampler records RSS
// over time so a run reports its peak and its trend, not only the kernel's high-water mark.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** Pseudo-process in usage lists: the whole machine (cpuSeconds busy, wallSeconds elapsed). */
export const MACHINE = '(machine)';

export interface Proc {
  name: string;
  pid: number;
}

/** Seconds of CPU the process has used so far (user + system), or NaN if it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** VmRSS and VmHWM in MiB, or NaN if the process is gone. */
export function memory(pid: number): { rssMb: number; hwmMb: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
  } catch {
    return { rssMb: NaN, hwmMb: NaN };
  }
}

/** CPU seconds the whole machine has been busy (all cores, from /proc/stat), for what the watched processes do not explain. */
export function machineBusySeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return (user + nice + system + irq + softirq + steal) / CLK_TCK;
}

export interface ProcUsage {
  name: string;
  pid: number;
  cpuSeconds: number;
  /** Largest VmRSS sampled during the window. */
  peakRssMb: number;
  /** VmHWM at the end (peak over the process's whole life). */
  hwmMb: number;
  /** Only on the MACHINE entry: seconds since start(). */
  wallSeconds?: number;
}

export interface RssSample {
  /** Seconds since the sampler started. */
  t: number;
  rss: Record<string, number>;
}

/**
 * Watches a set of processes from start() to stop(): CPU used in between, and RSS sampled every
 * `intervalMs`. Processes can be added while it runs (their CPU counts from when added).
 */
export class ProcWatch {
  private readonly startCpu = new Map<string, number>();
  private readonly procs = new Map<string, Proc>();
  private readonly peak = new Map<string, number>();
  /** Last CPU reading per process, for one that exits before stop() (a CLI tool run to completion). */
  private readonly lastCpu = new Map<string, number>();
  readonly samples: RssSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private t0 = 0;

  private readonly intervalMs: number;

  constructor(procs: Proc[], intervalMs = 1000) {
    this.intervalMs = intervalMs;
    for (const p of procs) this.add(p);
  }

  add(p: Proc): void {
    this.procs.set(p.name, p);
    // A process started just now has used ~0 so far; a NaN (not yet visible) counts from 0.
    const cpu = cpuSeconds(p.pid);
    this.startCpu.set(p.name, Number.isNaN(cpu) ? 0 : cpu);
  }

  start(): this {
    this.t0 = performance.now();
    this.wallStart = this.t0;
    this.machineStart = machineBusySeconds();
    for (const p of this.procs.values()) this.add(p);
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    return this;
  }

  private sample(): void {
    const rss: Record<string, number> = {};
    for (const p of this.procs.values()) {
      const m = memory(p.pid).rssMb;
      const cpu = cpuSeconds(p.pid);
      if (!Number.isNaN(cpu)) this.lastCpu.set(p.name, cpu);
      if (Number.isNaN(m)) continue;
      rss[p.name] = Math.round(m * 10) / 10;
      this.peak.set(p.name, Math.max(this.peak.get(p.name) ?? 0, m));
    }
    this.samples.push({ t: Math.round((performance.now() - this.t0) / 100) / 10, rss });
  }

  private machineStart = 0;
  private wallStart = 0;

  /** Usage since start() (or since added), without stopping. */
  snapshot(): ProcUsage[] {
    this.sample();
    const usage: ProcUsage[] = [...this.procs.values()].map((p) => ({
      name: p.name,
      pid: p.pid,
      cpuSeconds: (Number.isNaN(cpuSeconds(p.pid)) ? (this.lastCpu.get(p.name) ?? NaN) : cpuSeconds(p.pid)) - (this.startCpu.get(p.name) ?? NaN),
      peakRssMb: this.peak.get(p.name) ?? NaN,
      hwmMb: memory(p.pid).hwmMb,
    }));
    usage.push({
      name: MACHINE,
      pid: 0,
      cpuSeconds: machineBusySeconds() - this.machineStart,
      peakRssMb: NaN,
      hwmMb: NaN,
      wallSeconds: (performance.now() - this.wallStart) / 1000,
    });
    return usage;
  }

  /**
   * Average cores used between two snapshots by everything but the watched processes: another
   * test suite on the same machine, the kernel's own work. Large values mean the stage did not
   * have the machine to itself.
   */
  otherCores(before: ProcUsage[], after: ProcUsage[]): number {
    const at = (u: ProcUsage[], name: string) => u.find((x) => x.name === name);
    const wall = (at(after, MACHINE)?.wallSeconds ?? 0) - (at(before, MACHINE)?.wallSeconds ?? 0);
    const machine = (at(after, MACHINE)?.cpuSeconds ?? 0) - (at(before, MACHINE)?.cpuSeconds ?? 0);
    const ours = after
      .filter((u) => u.name !== MACHINE && Number.isFinite(u.cpuSeconds))
      .reduce((n, u) => n + u.cpuSeconds - (at(before, u.name)?.cpuSeconds ?? 0), 0);
    return wall > 0 ? Math.max(0, (machine - ours) / wall) : NaN;
  }

  /** Seconds since start(), on the samples' time axis. */
  elapsed(): number {
    return (performance.now() - this.t0) / 1000;
  }

  /** Stops sampling; returns usage of the watched processes, plus the machine's under MACHINE. */
  stop(): ProcUsage[] {
    const usage = this.snapshot();
    clearInterval(this.timer);
    return usage;
  }
}

/** Largest sampled RSS per process between two sampler times (seconds since start). */
export function peakBetween(samples: RssSample[], from: number, to: number): Record<string, number> {
  const peak: Record<string, number> = {};
  for (const s of samples) {
    if (s.t < from || s.t > to) continue;
    for (const [name, mb] of Object.entries(s.rss)) peak[name] = Math.max(peak[name] ?? 0, mb);
  }
  return peak;
}
