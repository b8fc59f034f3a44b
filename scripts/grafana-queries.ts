// The queries of the provisioned Grafana dashboards, made runnable outside Grafana (which
// cannot run here). Grafana rewrites a query before it sends it to the datasource; this does
// the same, so the e2e test and `pnpm check:dashboards` (scripts/check-dashboards.ts) can run
// every panel's and every variable's query against real servers:
//   - Flux (InfluxDB): Grafana defines a record `v` (time range, window period) and
//     substitutes template variables (${window}, ${district:regex});
//   - PromQL (Prometheus): Grafana substitutes its interval macros ($__interval,
//     $__rate_interval, $__range) and template variables (${service}); a variable's
//     `label_values(match, label)` is Grafana's, answered by Prometheus' label-values API.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const DASHBOARDS = new URL('../infra/grafana/dashboards/', import.meta.url).pathname;

export interface DashboardQuery {
  dashboard: string;
  /** Panel title, or `variable <name>` for a template variable's query. */
  title: string;
  flux: string;
}

export interface DashboardPromQuery {
  dashboard: string;
  /** Panel title and the target's refId (`… [B]`), or `variable <name>`. */
  title: string;
  expr: string;
  /** Grafana sends `instant: true` targets as instant queries (/api/v1/query), others as range queries. */
  instant: boolean;
}

interface Target {
  refId?: string;
  query?: string;
  expr?: string;
  instant?: boolean;
  range?: boolean;
  datasource?: { uid?: string };
}
interface Panel {
  title: string;
  type: string;
  datasource?: { uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  query?: string | { query?: string };
  datasource?: { uid?: string };
}
interface Dashboard {
  title: string;
  panels: Panel[];
  templating?: { list: Variable[] };
}

function dashboards(): Array<{ file: string; dashboard: Dashboard }> {
  return readdirSync(DASHBOARDS)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, dashboard: JSON.parse(readFileSync(join(DASHBOARDS, file), 'utf8')) as Dashboard }));
}

/** Every target of every panel (rows' nested panels included) with the datasource uid it uses. */
function targets(dashboard: Dashboard): Array<{ panel: Panel; target: Target; uid: string | undefined }> {
  return dashboard.panels
    .flatMap((p) => [p, ...(p.panels ?? [])])
    .flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel, target, uid: target.datasource?.uid ?? panel.datasource?.uid })));
}

const variableQuery = (v: Variable): string | undefined => (typeof v.query === 'string' ? v.query : v.query?.query);

/** Every InfluxDB (Flux) query of every provisioned dashboard, panels and variables. */
export function dashboardQueries(): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const { file, dashboard } of dashboards()) {
    for (const variable of dashboard.templating?.list ?? []) {
      const query = variableQuery(variable);
      if (variable.datasource?.uid === 'influxdb' && query) out.push({ dashboard: file, title: `variable ${variable.name}`, flux: query });
    }
    for (const { panel, target, uid } of targets(dashboard)) {
      if (uid === 'influxdb' && target.query) out.push({ dashboard: file, title: panel.title, flux: target.query });
    }
  }
  return out;
}

/** Every Prometheus (PromQL) query of every provisioned dashboard, panels and variables. */
export function dashboardPromQueries(): DashboardPromQuery[] {
  const out: DashboardPromQuery[] = [];
  for (const { file, dashboard } of dashboards()) {
    for (const variable of dashboard.templating?.list ?? []) {
      const query = variableQuery(variable);
      if (variable.datasource?.uid === 'prometheus' && query) out.push({ dashboard: file, title: `variable ${variable.name}`, expr: query, instant: true });
    }
    for (const { panel, target, uid } of targets(dashboard)) {
      if (uid !== 'prometheus' || !target.expr) continue;
      const several = (panel.targets?.length ?? 0) > 1;
      out.push({
        dashboard: file,
        title: several ? `${panel.title} [${target.refId ?? '?'}]` : panel.title,
        expr: target.expr,
        instant: target.instant === true && target.range !== true,
      });
    }
  }
  return out;
}

export interface QueryContext {
  start: Date;
  stop: Date;
  windowPeriod: string;
  variables: Record<string, string>;
}

function substituteVariables(query: string, variables: Record<string, string>): string {
  // ${name}, ${name:format} and $name; Grafana's own $__macros are handled before this.
  return query.replace(
    /\$\{(\w+)(?::(\w+))?\}|\$([A-Za-z]\w*)/g,
    (whole, braced: string | undefined, _format: string | undefined, bare: string | undefined) => {
      const name = braced ?? bare!;
      const value = variables[name];
      if (value === undefined) throw new Error(`dashboard query uses \${${name}}, which the caller does not define: ${whole}`);
      return value;
    },
  );
}

/** The Flux query as Grafana would send it: `v` defined, template variables substituted. */
export function asGrafanaSendsIt(flux: string, { start, stop, windowPeriod, variables }: QueryContext): string {
  const substituted = substituteVariables(flux, variables);
  // Imports must come first in Flux; `v` goes after them.
  const lines = substituted.split('\n');
  const imports = lines.filter((l) => l.trim().startsWith('import '));
  const body = lines.filter((l) => !l.trim().startsWith('import '));
  const v = `v = {timeRangeStart: ${start.toISOString()}, timeRangeStop: ${stop.toISOString()}, windowPeriod: ${windowPeriod}}`;
  return [...imports, v, ...body].join('\n');
}

export interface PromQueryContext {
  start: Date;
  stop: Date;
  /** $__interval: the step Grafana chose for the panel (range / max data points, at least the scrape interval). */
  intervalSeconds: number;
  /** The datasource's scrape interval (its `timeInterval`); $__rate_interval is derived from it. */
  scrapeIntervalSeconds: number;
  variables: Record<string, string>;
}

/** Grafana's $__rate_interval: max($__interval + scrape interval, 4 × scrape interval). */
export function rateIntervalSeconds({ intervalSeconds, scrapeIntervalSeconds }: Pick<PromQueryContext, 'intervalSeconds' | 'scrapeIntervalSeconds'>): number {
  return Math.max(intervalSeconds + scrapeIntervalSeconds, 4 * scrapeIntervalSeconds);
}

/** The PromQL query as Grafana would send it: interval macros and template variables substituted. */
export function asGrafanaSendsPromQL(expr: string, context: PromQueryContext): string {
  const range = Math.round((context.stop.getTime() - context.start.getTime()) / 1000);
  const macros: Record<string, string> = {
    __rate_interval: `${rateIntervalSeconds(context)}s`,
    __interval_ms: String(context.intervalSeconds * 1000),
    __interval: `${context.intervalSeconds}s`,
    __range_ms: String(range * 1000),
    __range_s: String(range),
    __range: `${range}s`,
  };
  // The name match is greedy, so $__interval_ms is not read as $__interval followed by "_ms".
  const withMacros = expr.replace(/\$\{?(__[a-z_]+)\}?/g, (whole, name: string) => {
    const value = macros[name];
    if (value === undefined) throw new Error(`dashboard query uses Grafana macro ${whole}, which is not supported here`);
    return value;
  });
  return substituteVariables(withMacros, context.variables);
}

/**
 * A Prometheus variable query of Grafana's `label_values(label)` / `label_values(match, label)`
 * form, as the label and series selector Prometheus' /api/v1/label/<label>/values takes.
 */
export function labelValuesQuery(query: string): { label: string; match?: string } | undefined {
  const m = /^\s*label_values\(\s*(?:(.+?)\s*,\s*)?(\w+)\s*\)\s*$/.exec(query);
  if (!m) return undefined;
  return m[1] === undefined ? { label: m[2]! } : { label: m[2]!, match: m[1] };
}
