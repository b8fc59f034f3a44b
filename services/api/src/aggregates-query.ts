// Open-data query of anonymous aggregates. Parameters are validated here and passed to Flux
// through the client's `flux` template, which escapes them, so a query string can never
// become Flux code.
import { flux, fluxDateTime, fluxString, type QueryApi } from '@influxdata/influxdb-client';
import { z } from 'zod';

export const MEASUREMENTS = ['lamppost', 'traffic_light', 'sewer', 'pedestrians', 'vehicles'] as const;

export const AggregatesQuerySchema = z
  .object({
    measurement: z.enum(MEASUREMENTS),
    district: z.string().regex(/^[a-z-]{1,40}$/, 'must be a district id like wan-chai').optional(),
    field: z.string().regex(/^[a-z0-9_]{1,60}$/, 'must be a field name like pm25_mean').optional(),
    start: z.iso.datetime({ offset: true }).optional(),
    stop: z.iso.datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  })
  .strict();
export type AggregatesQuery = z.infer<typeof AggregatesQuerySchema>;

export interface AggregateRow {
  time: string;
  measurement: string;
  field: string;
  value: number;
  district: string;
  device: string;
  window: string;
}

export async function queryAggregates(queryApi: QueryApi, bucket: string, q: AggregatesQuery, now = new Date()): Promise<AggregateRow[]> {
  const start = q.start ?? new Date(now.getTime() - 3_600_000).toISOString();
  const stop = q.stop ?? now.toISOString();
  let query = flux`from(bucket: ${fluxString(bucket)})
  |> range(start: ${fluxDateTime(start)}, stop: ${fluxDateTime(stop)})
  |> filter(fn: (r) => r._measurement == ${q.measurement})`;
  if (q.district) query = flux`${query}
  |> filter(fn: (r) => r.district == ${q.district})`;
  if (q.field) query = flux`${query}
  |> filter(fn: (r) => r._field == ${q.field})`;
  query = flux`${query}
  |> group()
  |> sort(columns: ["_time"])
  |> limit(n: ${q.limit})`;
  const rows = await queryApi.collectRows<Record<string, unknown>>(query);
  return rows.map((r) => ({
    time: String(r._time),
    measurement: String(r._measurement),
    field: String(r._field),
    value: Number(r._value),
    district: String(r.district ?? ''),
    device: String(r.device ?? ''),
    window: String(r.window ?? ''),
  }));
}
