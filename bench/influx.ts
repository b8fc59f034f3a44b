// Flux queries with the read-only token (the api's and Grafana's): what a reader of the open
// data can see, which is what "visible in InfluxDB" means here.
import type { Servers } from './infra.ts';

/** Rows of the first table stream of an annotated-CSV answer, as objects keyed by column. */
export async function flux(servers: Servers, query: string): Promise<Array<Record<string, string>>> {
  const { url, org, readerToken } = servers.influx;
  const res = await fetch(new URL(`/api/v2/query?org=${encodeURIComponent(org)}`, url), {
    method: 'POST',
    headers: { authorization: `Token ${readerToken}`, 'content-type': 'application/vnd.flux', accept: 'application/csv' },
    body: query,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`InfluxDB query answered ${res.status}: ${text.slice(0, 300)}`);
  const rows: Array<Record<string, string>> = [];
  let header: string[] | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line === '') {
      header = undefined;
      continue;
    }
    if (line.startsWith('#')) continue;
    const cells = line.split(',');
    if (!header) header = cells;
    else rows.push(Object.fromEntries(header.map((h, i) => [h, cells[i] ?? ''])));
  }
  return rows;
}
