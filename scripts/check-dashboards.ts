// Checks a running pipeline the way a user would look at it in Grafana (which cannot run
// here): every Flux query of every provisioned dashboard is sent to InfluxDB as Grafana
// sends it, with the READ-ONLY token, over the last N minutes; and the points each device
// kind left in the bucket are counted. Exits 1 if any query returns no rows or a kind has
// no aggregates.
//
//   node scripts/check-dashboards.ts [--minutes 10] [--window 60s]      (pnpm check:dashboards)
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { measurementOf } from '@lethe/privacy';
import { DEVICE_KINDS } from '@lethe/schemas';
import { asGrafanaSendsIt, dashboardQueries } from './grafana-queries.ts';

const ROOT = new URL('..', import.meta.url).pathname;

const HELP = `Usage: node scripts/check-dashboards.ts [options]     (or: pnpm check:dashboards)

Runs every Flux query of every provisioned Grafana dashboard (infra/grafana/dashboards/)
against InfluxDB with the read-only token, for all districts, and counts the points per
measurement. Exits 1 if any query returns no rows or lamppost, traffic_light or sewer has no
aggregates.

Options:
  --minutes <n>   time range: the last n minutes (default 10)
  --window <d>    the dashboards' \${window} variable and Grafana's window period (default 60s)
  -h, --help      this help

Connection (defaults: the native stack in $LETHE_LOCAL_DIR, default <repo>/.local):
  INFLUX_URL, INFLUX_ORG, INFLUX_BUCKET   else read from $LETHE_LOCAL_DIR/secrets/influxdb.env
  INFLUX_TOKEN or INFLUX_TOKEN_FILE       else $LETHE_LOCAL_DIR/secrets/influxdb-reader-token
                                          (written by scripts/influx-init.ts; read-only)

Example:
  infra/local/pipeline.sh start --simulator     # then let it run for five minutes
  pnpm check:dashboards --minutes 5
`;

interface Connection {
  url: string;
  org: string;
  bucket: string;
  token: string;
}

function connection(env: Record<string, string | undefined> = process.env): Connection {
  const localDir = env.LETHE_LOCAL_DIR ?? join(ROOT, '.local');
  const envFile = join(localDir, 'secrets', 'influxdb.env');
  // Only the connection is taken from this file, never its admin token.
  const local: Record<string, string> = {};
  if (existsSync(envFile)) {
    for (const line of readFileSync(envFile, 'utf8').split('\n')) {
      const m = /^(INFLUX_URL|INFLUX_ORG|INFLUX_BUCKET)=(.*)$/.exec(line.trim());
      if (m) local[m[1]!] = m[2]!;
    }
  }
  const tokenFile = env.INFLUX_TOKEN_FILE ?? join(localDir, 'secrets', 'influxdb-reader-token');
  const token = env.INFLUX_TOKEN ?? (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined);
  const url = env.INFLUX_URL ?? local.INFLUX_URL;
  const problems = [
    ...(url ? [] : [`INFLUX_URL is not set and ${envFile} does not exist (start the stack with infra/local/pipeline.sh start)`]),
    ...(token ? [] : [`no read-only token: set INFLUX_TOKEN(_FILE) or run infra/local/pipeline.sh start, which writes ${tokenFile}`]),
  ];
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return { url: url!, org: env.INFLUX_ORG ?? local.INFLUX_ORG ?? 'lethe', bucket: env.INFLUX_BUCKET ?? local.INFLUX_BUCKET ?? 'aggregates', token: token! };
}

/** RFC 4180 records of a CSV text; a blank line is a record with one empty field. */
function* csvRecords(text: string): Generator<string[]> {
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c !== '"') field += c;
      else if (text[i + 1] === '"') field += text[i++];
      else quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\n') {
      record.push(field);
      yield record;
      record = [];
      field = '';
    } else if (c !== '\r') field += c;
  }
  if (field !== '' || record.length > 0) yield [...record, field];
}

/** Rows of InfluxDB's CSV answer (no annotations): tables are separated by blank lines, each with its header. */
function parseFluxCsv(text: string): Array<Record<string, string>> {
  const rows: Array<Record<string, string>> = [];
  let header: string[] | undefined;
  for (const record of csvRecords(text)) {
    if (record.length === 1 && record[0] === '') header = undefined;
    else if (!header) header = record;
    else if (header[0] === 'error') throw new Error(`InfluxDB: ${record[0]}`);
    else rows.push(Object.fromEntries(header.map((name, i) => [name, record[i] ?? ''])));
  }
  return rows;
}

async function query(conn: Connection, flux: string): Promise<Array<Record<string, string>>> {
  const res = await fetch(new URL(`/api/v2/query?org=${encodeURIComponent(conn.org)}`, conn.url), {
    method: 'POST',
    headers: { authorization: `Token ${conn.token}`, 'content-type': 'application/json', accept: 'application/csv' },
    body: JSON.stringify({ query: flux, type: 'flux', dialect: { header: true, annotations: [], delimiter: ',' } }),
  });
  const body = await res.text();
  if (!res.ok) throw new Error(`InfluxDB answered ${res.status}: ${body.slice(0, 300)}`);
  return parseFluxCsv(body);
}

/** Points (a measurement's distinct tag set and time) per measurement: fields pivoted into one row per point. */
function pointsQuery(bucket: string, minutes: number, window: string): string {
  return `from(bucket: ${JSON.stringify(bucket)})
  |> range(start: -${minutes}m)
  |> filter(fn: (r) => r.window == ${JSON.stringify(window)})
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> keep(columns: ["_measurement", "_time"])
  |> group(columns: ["_measurement"])
  |> map(fn: (r) => ({r with _value: 1}))
  |> count()`;
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '10' },
      window: { type: 'string', default: '60s' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  const minutes = Number(values.minutes);
  if (!(Number.isInteger(minutes) && minutes > 0)) throw new Error(`--minutes must be a positive integer, got "${values.minutes}"`);
  const window = values.window!;
  if (!/^\d+[smhd]$/.test(window)) throw new Error(`--window must be a duration like 60s, got "${window}"`);
  const conn = connection();

  const stop = new Date();
  const start = new Date(stop.getTime() - minutes * 60_000);
  const context = { start, stop, windowPeriod: window, variables: { window, district: '.*' } };
  console.log(`InfluxDB ${conn.url}, bucket ${conn.bucket}, read-only token; last ${minutes} min, window ${window}, all districts\n`);

  const failures: string[] = [];
  const panelRows: string[][] = [];
  for (const q of dashboardQueries()) {
    let cell: string;
    try {
      const rows = await query(conn, asGrafanaSendsIt(q.flux, context));
      cell = String(rows.length);
      if (rows.length === 0) failures.push(`${q.dashboard} "${q.title}" returned no rows`);
    } catch (err) {
      cell = `ERROR ${err instanceof Error ? err.message : String(err)}`;
      failures.push(`${q.dashboard} "${q.title}" failed: ${cell}`);
    }
    panelRows.push([q.dashboard, q.title, cell]);
  }
  console.log(table(['dashboard', 'panel', 'rows'], panelRows));

  const kinds = new Set<string>(DEVICE_KINDS.map(measurementOf));
  const points = new Map<string, number>([...kinds].map((m) => [m, 0]));
  for (const row of await query(conn, pointsQuery(conn.bucket, minutes, window))) points.set(row._measurement!, Number(row._value));
  const pointRows = [...points].map(([m, n]) => [m, String(n), kinds.has(m) ? 'device kind' : '']);
  console.log(`\n${table(['measurement', 'points', ''], pointRows)}`);
  for (const kind of kinds) if (points.get(kind) === 0) failures.push(`device kind ${kind} has no aggregates in the last ${minutes} min`);

  if (failures.length > 0) {
    console.log(`\nFAIL:\n${failures.map((f) => `  - ${f}`).join('\n')}`);
    process.exitCode = 1;
  } else {
    console.log(`\nOK: all ${panelRows.length} dashboard queries returned data; ${[...kinds].join(', ')} all have aggregates`);
  }
}

main().catch((err: unknown) => {
  console.error(`check-dashboards: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
