// Where the api reads anonymous aggregates from. Two implementations with one contract:
// InfluxDB (the real store, queried with Flux through the client's `flux` template, which
// escapes every value so a parameter can never become Flux code) and memory (unit tests and a
// one-process demo without servers, fed the same AggregateRecords the writer turns into points).
import { flux, fluxDateTime, fluxDuration, fluxExpression, fluxInteger, fluxString, type ParameterizedQuery, type QueryApi } from '@influxdata/influxdb-client';
import type { OpenDataMeasurement } from '@lethe/privacy';
import type { AggregateRecord } from '@lethe/schemas';

export const WINDOW_AGGREGATES = ['mean', 'max', 'min', 'sum'] as const;
export type WindowAggregate = (typeof WINDOW_AGGREGATES)[number];

/** A validated query (see aggregates-query.ts): every value is from the catalogue. */
export interface AggregateQuery {
  measurement: OpenDataMeasurement;
  /** Tag columns of the measurement, in sort order. */
  tags: readonly string[];
  scope?: string;
  district?: string;
  device?: string;
  field?: string;
  start: Date;
  stop: Date;
  /** Re-aggregation into longer windows: `text` like `1h`, applied with `aggregate`. */
  window?: { text: string; ms: number };
  aggregate: WindowAggregate;
  limit: number;
  offset: number;
}

export interface AggregateRow {
  /** Start of the row's window. */
  time: string;
  measurement: string;
  field: string;
  value: number;
  /** Length of the row's window, e.g. `60s` or `1h`. */
  window: string;
  tags: Record<string, string>;
}

export interface EpsilonFigure {
  stream: string;
  spentToday: number;
  budgetToday: number;
  /** Start of the window of the latest release counted. */
  asOf: string;
}

export interface AggregateStore {
  /** Rows in a stable order (time, tags, field); `more` when rows follow after `limit`. */
  query(q: AggregateQuery): Promise<{ rows: AggregateRow[]; more: boolean }>;
  /** The latest ε figures of each person-derived stream for the UTC day of `now`. */
  epsilonToday(now: Date): Promise<EpsilonFigure[]>;
}

const dayStart = (now: Date) => new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));

function districtFilter(q: AggregateQuery): ParameterizedQuery | undefined {
  if (!q.district) return undefined;
  return q.measurement === 'travel_times'
    ? flux`|> filter(fn: (r) => r.from_district == ${q.district} or r.to_district == ${q.district})`
    : flux`|> filter(fn: (r) => r.district == ${q.district})`;
}

/** The Flux of a query (exported for tests of the escaping). */
export function aggregatesFlux(bucket: string, q: AggregateQuery): string {
  const steps: Array<ParameterizedQuery | undefined> = [
    flux`from(bucket: ${fluxString(bucket)})`,
    flux`|> range(start: ${fluxDateTime(q.start.toISOString())}, stop: ${fluxDateTime(q.stop.toISOString())})`,
    flux`|> filter(fn: (r) => r._measurement == ${q.measurement})`,
    q.scope ? flux`|> filter(fn: (r) => r.scope == ${q.scope})` : undefined,
    districtFilter(q),
    q.device ? flux`|> filter(fn: (r) => r.device == ${q.device})` : undefined,
    q.field ? flux`|> filter(fn: (r) => r._field == ${q.field})` : undefined,
    q.window
      ? flux`|> aggregateWindow(every: ${fluxDuration(q.window.text)}, fn: ${fluxExpression(q.aggregate)}, createEmpty: false, timeSrc: "_start")
  |> set(key: "window", value: ${q.window.text})`
      : undefined,
    flux`|> group()`,
    flux`|> sort(columns: ${fluxExpression(JSON.stringify(['_time', ...q.tags, '_field']))})`,
    flux`|> limit(n: ${fluxInteger(q.limit + 1)}, offset: ${fluxInteger(q.offset)})`,
  ];
  return steps
    .filter((s): s is ParameterizedQuery => s !== undefined)
    .map((s) => s.toString())
    .join('\n  ');
}

export function createInfluxAggregateStore(queryApi: QueryApi, bucket: string): AggregateStore {
  return {
    async query(q) {
      const raw = await queryApi.collectRows<Record<string, unknown>>(aggregatesFlux(bucket, q));
      const rows = raw.slice(0, q.limit).map((r) => ({
        time: new Date(String(r._time)).toISOString(),
        measurement: String(r._measurement),
        field: String(r._field),
        value: Number(r._value),
        window: String(r.window ?? ''),
        tags: Object.fromEntries(q.tags.filter((t) => typeof r[t] === 'string' && r[t] !== '').map((t) => [t, String(r[t])])),
      }));
      return { rows, more: raw.length > q.limit };
    },
    async epsilonToday(now) {
      const query = flux`from(bucket: ${fluxString(bucket)})
  |> range(start: ${fluxDateTime(dayStart(now).toISOString())}, stop: ${fluxDateTime(new Date(now.getTime() + 1).toISOString())})
  |> filter(fn: (r) => r._measurement == "privacy" and (r._field == "epsilon_spent_today" or r._field == "epsilon_budget_today"))
  |> group(columns: ["stream", "_field"])
  |> last()`;
      const raw = await queryApi.collectRows<Record<string, unknown>>(query);
      return toEpsilonFigures(raw.map((r) => ({ stream: String(r.stream), field: String(r._field), value: Number(r._value), time: String(r._time) })));
    },
  };
}

function toEpsilonFigures(points: ReadonlyArray<{ stream: string; field: string; value: number; time: string }>): EpsilonFigure[] {
  const byStream = new Map<string, EpsilonFigure>();
  for (const p of points) {
    let f = byStream.get(p.stream);
    if (!f) byStream.set(p.stream, (f = { stream: p.stream, spentToday: 0, budgetToday: 0, asOf: p.time }));
    if (p.field === 'epsilon_spent_today') f.spentToday = p.value;
    else f.budgetToday = p.value;
    if (new Date(p.time) > new Date(f.asOf)) f.asOf = new Date(p.time).toISOString();
  }
  return [...byStream.values()].map((f) => ({ ...f, asOf: new Date(f.asOf).toISOString() })).sort((a, b) => (a.stream < b.stream ? -1 : 1));
}

export interface MemoryAggregateStore extends AggregateStore {
  /** Stores records as the writer would: one point per record, identity = measurement + tags + window start. */
  add(records: readonly AggregateRecord[]): void;
}

interface Point {
  measurement: string;
  time: number;
  tags: Record<string, string>;
  fields: Record<string, number>;
}

const REDUCERS: Record<WindowAggregate, (values: number[]) => number> = {
  mean: (v) => v.reduce((a, b) => a + b, 0) / v.length,
  max: (v) => Math.max(...v),
  min: (v) => Math.min(...v),
  sum: (v) => v.reduce((a, b) => a + b, 0),
};

/** An in-memory store with InfluxDB's semantics for what the api asks of it. */
export function createMemoryAggregateStore(records: readonly AggregateRecord[] = []): MemoryAggregateStore {
  const points = new Map<string, Point>();
  const cmp = (a: string | undefined, b: string | undefined) => ((a ?? '') < (b ?? '') ? -1 : (a ?? '') > (b ?? '') ? 1 : 0);

  const store: MemoryAggregateStore = {
    add(list) {
      for (const r of list) {
        const tags = { ...r.tags, window: `${(r.windowEnd - r.windowStart) / 1000}s` };
        const id = `${r.measurement}|${Object.entries(tags)
          .sort(([a], [b]) => cmp(a, b))
          .map(([k, v]) => `${k}=${v}`)
          .join(',')}|${r.windowStart}`;
        const existing = points.get(id);
        // Fields of the same point merge, a field written again is overwritten (as in InfluxDB).
        points.set(id, { measurement: r.measurement, time: r.windowStart, tags, fields: { ...existing?.fields, ...r.fields } });
      }
    },
    async query(q) {
      const start = q.start.getTime();
      const stop = q.stop.getTime();
      let rows: AggregateRow[] = [];
      for (const p of points.values()) {
        if (p.measurement !== q.measurement || p.time < start || p.time >= stop) continue;
        if (q.scope && p.tags.scope !== q.scope) continue;
        if (
          q.district &&
          (q.measurement === 'travel_times' ? p.tags.from_district !== q.district && p.tags.to_district !== q.district : p.tags.district !== q.district)
        )
          continue;
        if (q.device && p.tags.device !== q.device) continue;
        for (const [field, value] of Object.entries(p.fields)) {
          if (q.field && field !== q.field) continue;
          const tags = Object.fromEntries(q.tags.filter((t) => p.tags[t] !== undefined).map((t) => [t, p.tags[t]!]));
          rows.push({ time: new Date(p.time).toISOString(), measurement: p.measurement, field, value, window: p.tags.window!, tags });
        }
      }
      if (q.window) {
        // aggregateWindow: per series and field, windows aligned to the epoch, stamped with their start.
        const groups = new Map<string, { row: AggregateRow; values: number[] }>();
        for (const row of rows) {
          const t = Math.floor(Date.parse(row.time) / q.window.ms) * q.window.ms;
          const key = `${JSON.stringify(row.tags)}|${row.field}|${t}`;
          let g = groups.get(key);
          if (!g) groups.set(key, (g = { row: { ...row, time: new Date(t).toISOString(), window: q.window.text }, values: [] }));
          g.values.push(row.value);
        }
        rows = [...groups.values()].map((g) => ({ ...g.row, value: REDUCERS[q.aggregate](g.values) }));
      }
      rows.sort((a, b) => cmp(a.time, b.time) || q.tags.reduce((c, t) => c || cmp(a.tags[t], b.tags[t]), 0) || cmp(a.field, b.field));
      const page = rows.slice(q.offset, q.offset + q.limit + 1);
      return { rows: page.slice(0, q.limit), more: page.length > q.limit };
    },
    async epsilonToday(now) {
      const from = dayStart(now).getTime();
      const latest = new Map<string, Point>();
      for (const p of points.values()) {
        if (p.measurement !== 'privacy' || p.time < from || p.time > now.getTime()) continue;
        const stream = p.tags.stream ?? '';
        const current = latest.get(stream);
        if (!current || p.time > current.time) latest.set(stream, p);
      }
      return toEpsilonFigures(
        [...latest.entries()].flatMap(([stream, p]) =>
          ['epsilon_spent_today', 'epsilon_budget_today']
            .filter((f) => p.fields[f] !== undefined)
            .map((field) => ({ stream, field, value: p.fields[field]!, time: new Date(p.time).toISOString() })),
        ),
      );
    },
  };
  store.add(records);
  return store;
}
