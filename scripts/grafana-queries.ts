// The Flux queries of the provisioned Grafana dashboards, made runnable outside Grafana:
// Grafana injects a record `v` (time range, window period) and substitutes template
// variables (${window}, ${district:regex}) before sending a query to InfluxDB; this does the
// same, so the e2e test and `pnpm check:dashboards` (scripts/check-dashboards.ts) can run
// every panel's and every variable's query against a real InfluxDB.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const DASHBOARDS = new URL('../infra/grafana/dashboards/', import.meta.url).pathname;

export interface DashboardQuery {
  dashboard: string;
  /** Panel title, or `variable <name>` for a template variable's query. */
  title: string;
  flux: string;
}

interface Target {
  query?: string;
  datasource?: { uid?: string };
}
interface Panel {
  title: string;
  type: string;
  datasource?: { uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  title: string;
  panels: Panel[];
  templating?: { list: Array<{ name: string; query?: string; datasource?: { uid?: string } }> };
}

/** Every InfluxDB (Flux) query of every provisioned dashboard, panels and variables. */
export function dashboardQueries(): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const file of readdirSync(DASHBOARDS).filter((f) => f.endsWith('.json')).sort()) {
    const dashboard = JSON.parse(readFileSync(join(DASHBOARDS, file), 'utf8')) as Dashboard;
    for (const variable of dashboard.templating?.list ?? []) {
      if (variable.datasource?.uid === 'influxdb' && variable.query) out.push({ dashboard: file, title: `variable ${variable.name}`, flux: variable.query });
    }
    const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
    for (const panel of panels) {
      for (const target of panel.targets ?? []) {
        const uid = target.datasource?.uid ?? panel.datasource?.uid;
        if (uid === 'influxdb' && target.query) out.push({ dashboard: file, title: panel.title, flux: target.query });
      }
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

/** The query as Grafana would send it: `v` defined, template variables substituted. */
export function asGrafanaSendsIt(flux: string, { start, stop, windowPeriod, variables }: QueryContext): string {
  const substituted = flux.replace(/\$\{(\w+)(?::(\w+))?\}/g, (whole, name: string) => {
    const value = variables[name];
    if (value === undefined) throw new Error(`dashboard query uses \${${name}}, which the caller does not define: ${whole}`);
    return value;
  });
  // Imports must come first in Flux; `v` goes after them.
  const lines = substituted.split('\n');
  const imports = lines.filter((l) => l.trim().startsWith('import '));
  const body = lines.filter((l) => !l.trim().startsWith('import '));
  const v = `v = {timeRangeStart: ${start.toISOString()}, timeRangeStop: ${stop.toISOString()}, windowPeriod: ${windowPeriod}}`;
  return [...imports, v, ...body].join('\n');
}
