// An aggregate becomes exactly one InfluxDB point whose identity (measurement, tags and the
// window-start timestamp) is fixed by the aggregate itself, so writing it twice — after a
// replay or a retry — overwrites instead of double counting.
import { Point } from '@influxdata/influxdb-client';
import type { AggregateRecord } from '@lethe/schemas';

export function toPoint(aggregate: AggregateRecord): Point {
  const point = new Point(aggregate.measurement).timestamp(new Date(aggregate.windowStart));
  for (const [name, value] of Object.entries(aggregate.tags).sort(([a], [b]) => a.localeCompare(b))) point.tag(name, value);
  point.tag('window', `${(aggregate.windowEnd - aggregate.windowStart) / 1000}s`);
  // Every field is a float: InfluxDB fixes a field's type at its first write, and a value that
  // happens to be whole in one window (a mean of 20) is not in the next.
  for (const [name, value] of Object.entries(aggregate.fields)) point.floatField(name, value);
  return point;
}
