// The api's public outputs as comparable fields, for the P9 attack tests that tell a world with
// one more person from one without (test/privacy/p9-register-presence.test.ts and its demo
// variant): every output other than the noised aggregates is fetched and flattened, what is
// pure wall clock is removed, times are made relative to the world's start and counters
// relative to the world's first snapshot, so two worlds on the same schedule compare equal
// unless something in them depends on who was there.
import { readFileSync } from 'node:fs';
import { readingTopic, type LamppostReadingInput, type TrafficLightReadingInput } from '@lethe/schemas';
import type { FleetPublisher } from '@lethe/simulator';

/**
 * One second of the worlds' background, the same in both: a traffic light and a lamppost with
 * nobody about; the traffic light carries the plates given (one world's car, once).
 */
export async function publishBackground(
  publisher: Pick<FleetPublisher, 'publish'>,
  seq: number,
  ts: string,
  plateReads: TrafficLightReadingInput['plateReads'] = [],
): Promise<void> {
  const light: TrafficLightReadingInput = {
    deviceId: 'TL-0001',
    seq,
    ts,
    phase: 'red',
    vehicleCount: 0,
    occupancyPct: 0,
    queueLength: 0,
    meanSpeedKmh: 0,
    plateReads,
  };
  const lamp: LamppostReadingInput = {
    deviceId: 'LP-0001',
    seq,
    ts,
    pm25: 10,
    pm10: 20,
    no2: 30,
    noiseDba: 40,
    lux: 5,
    temperatureC: 18,
    humidityPct: 70,
    dimmingPct: 0,
    energyWh: 0,
    wifiProbes: [],
  };
  await Promise.all([
    publisher.publish(light.deviceId, readingTopic('traffic-light', light.deviceId), light),
    publisher.publish(lamp.deviceId, readingTopic('lamppost', lamp.deviceId), lamp),
  ]);
}

/** ISO 8601 times and the page's "2026-12-03 08:15 UTC" form. */
export const TIME = /\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?Z?(?: UTC)?/g;
export const timeValue = (text: string) => {
  const iso = text.replace(' UTC', '').replace(' ', 'T');
  return Date.parse(iso.endsWith('Z') ? iso : `${iso}Z`);
};

/** Field path → value, with times relative to the world's start. */
export type Flat = Map<string, string | number | boolean | null>;

export function flattenJson(value: unknown, t0: number, path = '', out: Flat = new Map()): Flat {
  if (Array.isArray(value)) value.forEach((v, i) => flattenJson(v, t0, `${path}[${i}]`, out));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) flattenJson(v, t0, path ? `${path}.${k}` : k, out);
  else if (typeof value === 'string' && new RegExp(`^${TIME.source}$`).test(value))
    out.set(path, `t0${timeValue(value) - t0 >= 0 ? '+' : ''}${timeValue(value) - t0}`);
  else out.set(path, value as string | number | boolean | null);
  return out;
}

/** A text (HTML, Prometheus) as a template plus its times (relative) and numbers, by position. */
export function flattenText(text: string, t0: number, prefix: string): Flat {
  const out: Flat = new Map();
  let i = 0;
  const timesOut = text.replace(TIME, (m) => {
    out.set(`${prefix}time#${i++}`, `t0+${timeValue(m) - t0}`);
    return '\u0001';
  });
  let j = 0;
  const template = timesOut.replace(/-?\d+(?:\.\d+)?(?:e[+-]?\d+)?/g, (m) => {
    out.set(`${prefix}number#${j++}`, Number(m));
    return '\u0002';
  });
  out.set(`${prefix}template`, template);
  return out;
}

/** Pure wall clock: when the response was made, and the hash over every event's clock time. */
export const WALL_CLOCK = [/^live\.at$/, /^generatedAt$/, /^head$/, /^head\.hash$/, /^audit\.head\.hash$/];

export function stripPage(html: string): string {
  // The old page printed the snapshot's own time as "As of <time id=live-at>…": wall clock.
  return html.replace(/<time datetime="[^"]*" id="live-at">[^<]*<\/time>/g, '');
}

/**
 * A service's own metrics, as Prometheus and Grafana show them to operators: everything named
 * lethe_<service>_ except what measures time (durations, latencies, lags, `_seconds`) and how
 * far the work has got at the instant of the scrape (windows open or pending), which differ
 * between two runs with nobody in them. Not the process's (memory, CPU).
 */
export function operatorMetrics(text: string, service: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(lethe_[a-z_]+)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!m || !m[1]!.startsWith(`lethe_${service}_`) || /_seconds|lag|pending|open_windows/.test(m[1]!)) continue;
    out[`${m[1]}${(m[2] ?? '').replace(/,?service="[^"]*"/, '')}`] = Number(m[3]);
  }
  return out;
}

export interface Snapshot {
  offset: number;
  fields: Flat;
}

export async function snapshot(apiUrl: string, t0: number, offset: number): Promise<Snapshot> {
  const get = async (path: string) => {
    const res = await fetch(`${apiUrl}${path}`);
    return res.text();
  };
  const [register, page, day, month, year, verify] = await Promise.all([
    get('/v1/register'),
    get('/register'),
    get('/v1/transparency-report?period=day'),
    get('/v1/transparency-report?period=month'),
    get('/v1/transparency-report?period=year'),
    get('/v1/audit/verify'),
  ]);
  // After the others, so its request counters count them in both worlds alike.
  const metrics = await get('/metrics');
  const fields: Flat = new Map();
  const add = (name: string, flat: Flat) => {
    for (const [k, v] of flat) if (!WALL_CLOCK.some((re) => re.test(k))) fields.set(`${name} ${k}`, v);
  };
  add('GET /v1/register', flattenJson(JSON.parse(register), t0));
  add('GET /register', flattenText(stripPage(page), t0, ''));
  add('GET /v1/transparency-report?period=day', flattenJson(JSON.parse(day), t0));
  add('GET /v1/transparency-report?period=month', flattenJson(JSON.parse(month), t0));
  add('GET /v1/transparency-report?period=year', flattenJson(JSON.parse(year), t0));
  add('GET /v1/audit/verify', flattenJson(JSON.parse(verify), t0));
  // The api's own figures (not request durations), and in `pnpm demo` the pipeline's (lethe_demo_*) on the same public port.
  add('GET /metrics', flattenJson({ ...operatorMetrics(metrics, 'api'), ...operatorMetrics(metrics, 'demo') }, t0));
  return { offset, fields };
}

/** Numbers relative to the world's first snapshot (counters grow with time, in both worlds alike). */
export function relative(snapshots: Snapshot[]): Snapshot[] {
  const first = snapshots[0]!.fields;
  return snapshots.map((s) => ({
    offset: s.offset,
    fields: new Map([...s.fields].map(([k, v]) => [k, typeof v === 'number' && typeof first.get(k) === 'number' ? v - (first.get(k) as number) : v])),
  }));
}

/** Paths whose values differ in some pair of snapshots at the same offset (or exist in one world only). */
export function differingFields(a: Snapshot[], b: Snapshot[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const [x, y] = [a[i]!.fields, b[i]!.fields];
    for (const key of new Set([...x.keys(), ...y.keys()])) {
      if (out.has(key) || x.get(key) === y.get(key)) continue;
      const show = (v: unknown) => (typeof v === 'string' && v.length > 80 ? `${v.length} characters` : JSON.stringify(v));
      out.set(key, `at +${a[i]!.offset / 1000} s: no car ${show(x.get(key))}, one car ${show(y.get(key))}`);
    }
  }
  return out;
}

/** The records of an audit log file stamped in [t0, t0 + span), as a public copy of the log would show them. */
export function auditRecords(file: string, t0: number, span: number): Flat {
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const records = lines
    .map((l) => JSON.parse(l) as { type: string; actor: string; at: number; data: Record<string, unknown> })
    .filter((r) => r.at >= t0 && r.at < t0 + span)
    .map((r) => {
      // The Kafka position only numbers the records; the epoch number is a clock time in epochs,
      // and its start (made relative) says the same.
      const { source: _source, epoch: _epoch, ...data } = r.data;
      return JSON.stringify([r.type, r.actor, Object.fromEntries(flattenJson(data, t0))]);
    })
    .sort();
  return flattenJson(records, t0);
}

/** Prints the figure and returns the differing fields' names. */
export function reportDifferences(name: string, none: Snapshot[], one: Snapshot[]): string[] {
  const differing = differingFields(none, one);
  const total = one.at(-1)!.fields.size;
  const byOutput = new Map<string, number>();
  for (const key of differing.keys()) {
    const output = key.split(' ').slice(0, 2).join(' ');
    byOutput.set(output, (byOutput.get(output) ?? 0) + 1);
  }
  console.log(
    `${name}: ${differing.size} of ${total} public output fields differ between a world with one car and one without ` +
      `(${none.length} paired snapshots; distinguishing advantage ${differing.size > 0 ? '1/2 (certain)' : '0'})` +
      (differing.size > 0
        ? `\n  by output: ${[...byOutput].map(([o, n]) => `${o} ${n}`).join(', ')}\n  ${[...differing]
            .slice(0, 40)
            .map(([k, v]) => `${k}: ${v}`)
            .join('\n  ')}`
        : ''),
  );
  return [...differing.keys()];
}
