// A real Prometheus for tests, on a free loopback port, scraping services the test started.
// Its config is infra/prometheus/prometheus.yml (the compose stack's) with the compose
// targets replaced by the test's 127.0.0.1 ports, targets the test did not start left out,
// and a 1 s scrape interval; storage goes to a temporary directory that is removed at stop.
// The binary: $LETHE_PROMETHEUS_BIN, else `prometheus` on PATH or in /usr/bin (installed by
// infra/local/install-prometheus.sh, the Debian package). Without one, start fails and says so.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { freePort } from './services.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const COMPOSE_CONFIG = join(ROOT, 'infra/prometheus/prometheus.yml');

export interface PrometheusOptions {
  /** Service name (the `service` label in prometheus.yml) → its HTTP port on 127.0.0.1. */
  targets: Record<string, number>;
  /** Scrape interval in seconds (default 1). */
  scrapeIntervalSeconds?: number;
  /** How long to wait for the server to be ready (default 30 s). */
  readyTimeoutMs?: number;
}

export interface PromSeries {
  metric: Record<string, string>;
  /** Instant queries. */
  value?: [number, string];
  /** Range queries. */
  values?: Array<[number, string]>;
}

export interface RunningPrometheus {
  url: string;
  scrapeIntervalSeconds: number;
  /** Waits until every configured target has been scraped successfully. */
  waitForTargetsUp(timeoutMs?: number): Promise<void>;
  /** Waits for `n` more successful scrapes of every target. */
  waitForScrapes(n: number, timeoutMs?: number): Promise<void>;
  query(expr: string, time?: Date): Promise<PromSeries[]>;
  queryRange(expr: string, start: Date, end: Date, stepSeconds: number): Promise<PromSeries[]>;
  /** Label values across the series matching `match` (Grafana's label_values(match, label)). */
  labelValues(label: string, match?: string): Promise<string[]>;
  output(): string;
  stop(): Promise<void>;
}

interface StaticConfig {
  targets: string[];
  labels?: Record<string, string>;
}
interface ScrapeConfig {
  job_name: string;
  static_configs?: StaticConfig[];
  dns_sd_configs?: unknown;
  relabel_configs?: unknown;
  [key: string]: unknown;
}

/** prometheus.yml with the compose targets replaced by loopback ports; exported for a unit check. */
export function testPrometheusConfig(composeConfig: string, targets: Record<string, number>, selfPort: number, scrapeIntervalSeconds: number): string {
  const config = parse(composeConfig) as { global?: Record<string, unknown>; scrape_configs: ScrapeConfig[] };
  const wanted = new Set(Object.keys(targets));
  const jobs: ScrapeConfig[] = [];
  for (const { dns_sd_configs: dns, relabel_configs: _relabel, ...job } of config.scrape_configs) {
    const statics: StaticConfig[] = [];
    // Compose finds each service by Docker's DNS (one target per replica); here each service is one process on loopback.
    const names = ((dns ?? []) as Array<{ names: string[] }>).flatMap((d) => d.names);
    for (const service of names) {
      if (!wanted.has(service)) continue;
      statics.push({ targets: [`127.0.0.1:${targets[service]}`], labels: { service } });
      wanted.delete(service);
    }
    for (const s of job.static_configs ?? []) {
      const service = s.labels?.service;
      if (service !== undefined && wanted.has(service)) {
        statics.push({ ...s, targets: [`127.0.0.1:${targets[service]}`] });
        wanted.delete(service);
      } else if (job.job_name === 'prometheus') statics.push({ ...s, targets: [`127.0.0.1:${selfPort}`] });
    }
    if (statics.length > 0) jobs.push({ ...job, static_configs: statics });
  }
  if (wanted.size > 0) throw new Error(`infra/prometheus/prometheus.yml has no scrape target labelled service=${[...wanted].join(', ')}`);
  const interval = `${scrapeIntervalSeconds}s`;
  return stringify({
    ...config,
    global: { ...config.global, scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    scrape_configs: jobs,
  });
}

function findBinary(): string {
  const fromEnv = process.env.LETHE_PROMETHEUS_BIN;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`LETHE_PROMETHEUS_BIN=${fromEnv} does not exist`);
    return fromEnv;
  }
  const which = spawnSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim();
  if (existsSync('/usr/bin/prometheus')) return '/usr/bin/prometheus';
  throw new Error(
    "The dashboards' PromQL queries need a real Prometheus and none was found.\n" +
      'Install it with `bash infra/local/install-prometheus.sh` (Debian package `prometheus`), or set LETHE_PROMETHEUS_BIN to a prometheus 2.40+ binary.',
  );
}

interface ApiAnswer<T> {
  status: 'success' | 'error';
  data: T;
  error?: string;
  errorType?: string;
}

async function api<T>(base: string, path: string, params: Record<string, string>): Promise<T> {
  const res = await fetch(`${base}${path}?${new URLSearchParams(params).toString()}`);
  const answer = (await res.json()) as ApiAnswer<T>;
  if (!res.ok || answer.status !== 'success')
    throw new Error(`Prometheus ${path} answered ${res.status}: ${answer.errorType ?? ''} ${answer.error ?? ''} (${JSON.stringify(params)})`);
  return answer.data;
}

export async function startPrometheus({ targets, scrapeIntervalSeconds = 1, readyTimeoutMs = 30_000 }: PrometheusOptions): Promise<RunningPrometheus> {
  const binary = findBinary();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'lethe-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, testPrometheusConfig(readFileSync(COMPOSE_CONFIG, 'utf8'), targets, port, scrapeIntervalSeconds));
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    binary,
    [`--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited with ${child.exitCode} before it was ready:\n${output.slice(-3000)}`);
    }
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus was not ready within ${readyTimeoutMs} ms:\n${output.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  interface Target {
    labels: Record<string, string>;
    health: 'up' | 'down' | 'unknown';
    lastScrape: string;
    lastError: string;
  }
  const activeTargets = async () => (await api<{ activeTargets: Target[] }>(url, '/api/v1/targets', { state: 'active' })).activeTargets;
  const expected = Object.keys(targets).length + 1; // + Prometheus itself

  return {
    url,
    scrapeIntervalSeconds,
    async waitForTargetsUp(timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const active = await activeTargets();
        if (active.length === expected && active.every((t) => t.health === 'up')) return;
        if (Date.now() > until) {
          const states = active.map((t) => `${t.labels.job}/${t.labels.service ?? t.labels.instance}: ${t.health} ${t.lastError}`);
          throw new Error(`Prometheus targets not all up within ${timeoutMs} ms:\n  ${states.join('\n  ')}`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    async waitForScrapes(n, timeoutMs = 30_000) {
      const after = Date.now();
      const until = after + n * scrapeIntervalSeconds * 1000 + timeoutMs;
      for (;;) {
        // Scrapes are one interval apart and the first one after `after` comes within an
        // interval, so a last scrape n intervals after `after` means at least n scrapes.
        const active = await activeTargets();
        if (active.every((t) => t.health === 'up' && Date.parse(t.lastScrape) >= after + n * scrapeIntervalSeconds * 1000)) return;
        if (Date.now() > until) throw new Error(`Prometheus did not scrape every target ${n} times within ${until - after} ms`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    async query(expr, time = new Date()) {
      const data = await api<{ resultType: string; result: PromSeries[] }>(url, '/api/v1/query', { query: expr, time: String(time.getTime() / 1000) });
      return data.resultType === 'vector' || data.resultType === 'matrix' ? data.result : [];
    },
    async queryRange(expr, start, end, stepSeconds) {
      const data = await api<{ result: PromSeries[] }>(url, '/api/v1/query_range', {
        query: expr,
        start: String(start.getTime() / 1000),
        end: String(end.getTime() / 1000),
        step: String(stepSeconds),
      });
      return data.result;
    },
    async labelValues(label, match) {
      return api<string[]>(url, `/api/v1/label/${encodeURIComponent(label)}/values`, match ? { 'match[]': match } : {});
    },
    output: () => output,
    stop,
  };
}
