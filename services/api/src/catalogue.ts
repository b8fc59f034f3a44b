// What the open data holds, derived from the policy and the fleet: every measurement, the
// fields and tags it can have, the districts and devices. Query parameters are checked against
// it, so every value the api passes on (to InfluxDB, the audit log, a metric) is one of a
// closed set and never text a caller made up.
import { readFileSync } from 'node:fs';
import { DWELL_BUCKETS, OPEN_DATA_MEASUREMENTS, snakeCase, type OpenDataMeasurement, type Policy } from '@lethe/privacy';
import type { DeviceKind, Fleet } from '@lethe/schemas';
import { z } from 'zod';

export interface MeasurementInfo {
  name: OpenDataMeasurement;
  kind: DeviceKind;
  personDerived: boolean;
  /** Allowed values of the `scope` tag; empty when the measurement has none (travel times). */
  scopes: readonly string[];
  /** Tag columns, in the order rows are sorted by. */
  tags: readonly string[];
  fields: readonly string[];
  /** The policy's window for the kind (ms): the resolution figures are stored at. */
  windowMs: number;
}

export interface District {
  id: string;
  name: string;
}

export interface Catalogue {
  measurements: Readonly<Record<OpenDataMeasurement, MeasurementInfo>>;
  districts: readonly District[];
  devices: ReadonlyMap<string, { kind: DeviceKind; district: string }>;
  /** Aggregates retention (ms), the longest range worth asking for. */
  retentionMs: number;
}

const PERSON_FIELDS: Record<string, readonly string[]> = {
  pedestrians: ['people'],
  vehicles: ['people', 'speed_mean_kmh', 'speed_p85_kmh'],
  travel_times: ['trips', 'median_s'],
  dwell: DWELL_BUCKETS.map((b) => b.field),
};

/**
 * Fields of a kind's own readings as the aggregator names them: `readings`, and per numeric
 * field its policy aggregates (default mean and max), `count_true` for booleans. The policy
 * does not say which fields are boolean, so every field gets the boolean name too: a name that
 * is never written simply has no rows.
 */
function readingFields(policy: Policy, kind: DeviceKind): string[] {
  const names = ['readings'];
  for (const [name, field] of Object.entries(policy.kinds[kind].fields)) {
    if (
      name.includes('.') ||
      field.treatment !== 'keep' ||
      (field.class !== 'environmental' && field.class !== 'presence-dependent' && field.class !== 'person-derived')
    )
      continue;
    // A presence-dependent field is published as a noisy district mean only.
    const how =
      field.class === 'presence-dependent' ? ['mean'] : (field.aggregate ?? (field.class === 'person-derived' ? ['sum'] : ['mean', 'max', 'count_true']));
    for (const h of how) names.push(`${snakeCase(name)}_${h}`);
  }
  return names;
}

const DistrictsFileSchema = z.object({ districts: z.array(z.object({ id: z.string(), name: z.string() })).min(1) });

export const DEFAULT_DISTRICTS_PATH = new URL('../../../seeds/districts.json', import.meta.url).pathname;

export function loadDistricts(path: string): District[] {
  const parsed = DistrictsFileSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) throw new Error(`Invalid districts file ${path}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data.districts.map(({ id, name }) => ({ id, name }));
}

export function buildCatalogue(policy: Policy, fleet: Fleet, districts: readonly District[]): Catalogue {
  const measurements = {} as Record<OpenDataMeasurement, MeasurementInfo>;
  for (const [name, info] of Object.entries(OPEN_DATA_MEASUREMENTS) as Array<[OpenDataMeasurement, (typeof OPEN_DATA_MEASUREMENTS)[OpenDataMeasurement]]>) {
    const scopes = !info.personDerived ? ['device', 'district'] : name === 'travel_times' ? [] : name === 'dwell' ? ['cell'] : ['cell', 'district'];
    measurements[name] = {
      name,
      kind: info.kind,
      personDerived: info.personDerived,
      scopes,
      tags: name === 'travel_times' ? ['from', 'from_district', 'to', 'to_district'] : ['scope', 'district', 'device'],
      fields: info.personDerived ? PERSON_FIELDS[name]! : readingFields(policy, info.kind),
      windowMs: policy.kinds[info.kind].window,
    };
  }
  const known = new Set(districts.map((d) => d.id));
  // Districts with devices that the districts file does not name still get figures: list them by id.
  const extra = [...new Set(fleet.devices.map((d) => d.district))].filter((id) => !known.has(id)).map((id) => ({ id, name: id }));
  return {
    measurements,
    districts: [...districts, ...extra],
    devices: new Map(fleet.devices.map((d) => [d.id, { kind: d.kind, district: d.district }])),
    retentionMs: policy.aggregates.retention,
  };
}
