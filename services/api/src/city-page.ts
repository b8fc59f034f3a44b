// The live city page: the latest district figures (pedestrians, air quality, traffic, sewer
// levels) from the open data, refreshed by a small plain script that calls /v1/aggregates like
// any other client would. Elements carry stable ids and data attributes for browser tests:
//   #city-table[data-refresh-seconds][data-range]   the table and its settings
//   #<metric>-<district>[data-value][data-time]     a figure (metric: pedestrians, pm25, vehicles, sewer-level)
//   #city-status[data-state=loading|ok|error]       the state of the last refresh
//   #city-updated                                   when it last succeeded
import { html, page } from './html.ts';
import type { District } from './catalogue.ts';

export interface CityMetric {
  id: string;
  label: string;
  unit: string;
  /** Query of /v1/aggregates (without start/limit) whose rows carry a `district` tag. */
  query: Record<string, string>;
  decimals: number;
}

// Counts of people are queried at every scope: a district total is published only when its
// suppressed cells add at least k people (P9), and where there is none the page shows the sum of
// the district's published cells.
export const CITY_METRICS: readonly CityMetric[] = [
  { id: 'pedestrians', label: 'Pedestrians', unit: 'people per window', query: { measurement: 'pedestrians', field: 'people' }, decimals: 0 },
  { id: 'pm25', label: 'Air quality (PM2.5)', unit: 'µg/m³', query: { measurement: 'lamppost', field: 'pm25_mean', scope: 'district' }, decimals: 1 },
  { id: 'vehicles', label: 'Traffic', unit: 'vehicles per window', query: { measurement: 'vehicles', field: 'people' }, decimals: 0 },
  { id: 'sewer-level', label: 'Sewer level (max)', unit: 'cm', query: { measurement: 'sewer', field: 'level_cm_max', scope: 'district' }, decimals: 1 },
];

export interface CityPageOptions {
  refreshSeconds: number;
  /** How far back to look for the latest figure, e.g. `-10m`. */
  range: string;
}

export function cityPage(districts: readonly District[], { refreshSeconds, range }: CityPageOptions): string {
  const body = html`<h1>The city, live</h1>
<p class="lead">The latest anonymous figures per district, as published in the open data. Counts of people are withheld when fewer than the policy's minimum, and carry random noise; nothing here can be traced to a person.</p>
<p id="city-status" data-state="loading" role="status" aria-live="polite">Loading…</p>
<p class="muted">Last updated: <time id="city-updated">never</time>. Refreshes every ${refreshSeconds} seconds.</p>
<table id="city-table" data-refresh-seconds="${refreshSeconds}" data-range="${range}">
<caption>Latest figure per district (— : no figure published in the last ${range.replace('-', '')})</caption>
<thead><tr><th scope="col">District</th>${CITY_METRICS.map(
    (m) =>
      html`<th scope="col" class="num" data-metric="${m.id}" data-query="${new URLSearchParams(m.query).toString()}" data-decimals="${m.decimals}">${m.label}<br><span class="muted">${m.unit}</span></th>`,
  )}</tr></thead>
<tbody>
${districts.map(
  (d) =>
    html`<tr id="district-${d.id}" data-district="${d.id}"><th scope="row">${d.name}</th>${CITY_METRICS.map(
      (m) => html`<td class="num" id="${m.id}-${d.id}" data-district="${d.id}" data-metric="${m.id}" data-state="no-data">—</td>`,
    )}</tr>`,
)}
</tbody>
</table>
<p class="muted">Source: <code>GET /v1/aggregates</code>. See <a href="/register">the register</a> for what is measured and how people are protected.</p>`;
  return page({ title: 'Live city', body, scripts: ['/assets/city.js'] });
}
