// The processor's stage, transport-free: folds minimized readings and pseudonymous sightings
// into tumbling windows and, when a window closes, turns it into anonymous aggregates. All
// per-pseudonym state lives inside a window and is dropped when the window closes; windows
// never span two pseudonym epochs (the policy requires epoch % window == 0).
import type { AggregateRecord, DeviceKind, ReadingRecord, SightingRecord } from '@lethe/schemas';
import { systemClock, type Clock } from './clock.ts';
import type { Policy } from './policy.ts';
import { snakeCase, windowStart } from './windows.ts';

export type AddOutcome = 'accepted' | 'duplicate' | 'late' | 'expired';

interface NumericAcc {
  sum: number;
  min: number;
  max: number;
  n: number;
}

interface DeviceAcc {
  district: string;
  readings: number;
  numeric: Map<string, NumericAcc>;
  trues: Map<string, number>;
}

interface SightingAcc {
  district: string;
  sightings: number;
  pseudonyms: Set<string>;
  speeds: number[];
}

interface WindowState {
  kind: DeviceKind;
  start: number;
  end: number;
  /** deviceId:seq[:index] already counted, so redelivered messages are not counted twice. */
  seen: Set<string>;
  devices: Map<string, DeviceAcc>;
  sightings: Map<string, SightingAcc>;
}

export interface AggregatorOptions {
  policy: Policy;
  clock?: Clock;
  /** How long after its end a window waits for stragglers before it is closed. */
  graceMs?: number;
}

export interface Aggregator {
  addReading(record: ReadingRecord): AddOutcome;
  addSighting(record: SightingRecord): AddOutcome;
  /** Closes every window whose end + grace has passed and returns its aggregates. */
  closeDue(now?: number): AggregateRecord[];
  /** All windows ending at or before this time have been emitted; their records are late. */
  readonly closedUpTo: number;
  /** Used after a restart: windows up to this time were emitted by the previous run. */
  restoreClosedUpTo(ms: number): void;
  openWindows(): number;
  /** Number of pseudonyms held in memory across all open windows. */
  pseudonymsHeld(): number;
}

/** Measurement name of a device kind's own readings (traffic-light → traffic_light). */
export function measurementOf(kind: DeviceKind): string {
  return snakeCase(kind.replace('-', '_'));
}

export const SIGHTING_MEASUREMENTS = { wifi: 'pedestrians', plate: 'vehicles' } as const;

export function createAggregator({ policy, clock = systemClock, graceMs = 5_000 }: AggregatorOptions): Aggregator {
  const windows = new Map<string, WindowState>();
  let closedUpTo = 0;

  function windowFor(kind: DeviceKind, ts: number): WindowState | 'late' {
    const size = policy.kinds[kind].window;
    const start = windowStart(ts, size);
    if (start + size <= closedUpTo) return 'late';
    const id = `${kind}|${start}`;
    let w = windows.get(id);
    if (!w) windows.set(id, (w = { kind, start, end: start + size, seen: new Set(), devices: new Map(), sightings: new Map() }));
    return w;
  }

  function summarize(w: WindowState): AggregateRecord[] {
    const out: AggregateRecord[] = [];
    const fieldsPolicy = policy.kinds[w.kind].fields;
    for (const [deviceId, acc] of w.devices) {
      const fields: Record<string, number> = { readings: acc.readings };
      for (const [name, num] of acc.numeric) {
        for (const how of fieldsPolicy[name]?.aggregate ?? ['mean', 'max']) {
          const value = how === 'mean' ? num.sum / num.n : how === 'max' ? num.max : how === 'min' ? num.min : how === 'sum' ? num.sum : undefined;
          if (value !== undefined) fields[`${snakeCase(name)}_${how}`] = value;
        }
      }
      for (const [name, n] of acc.trues) fields[`${snakeCase(name)}_count_true`] = n;
      out.push(point(measurementOf(w.kind), { district: acc.district, device: deviceId }, fields, w));
    }
    for (const [key, acc] of w.sightings) {
      const [source, deviceId] = key.split('|') as [keyof typeof SIGHTING_MEASUREMENTS, string];
      const fields: Record<string, number> = { distinct: acc.pseudonyms.size, sightings: acc.sightings };
      if (acc.speeds.length > 0) fields.speed_p85_kmh = percentile(acc.speeds, 0.85);
      out.push(point(SIGHTING_MEASUREMENTS[source], { district: acc.district, device: deviceId }, fields, w));
    }
    return out;
  }

  return {
    addReading(record) {
      if (record.ts < clock.now() - policy.rawData.ttl) return 'expired';
      const w = windowFor(record.kind, record.ts);
      if (w === 'late') return 'late';
      const id = `${record.deviceId}:${record.seq}`;
      if (w.seen.has(id)) return 'duplicate';
      w.seen.add(id);
      let acc = w.devices.get(record.deviceId);
      if (!acc) w.devices.set(record.deviceId, (acc = { district: record.district, readings: 0, numeric: new Map(), trues: new Map() }));
      acc.readings++;
      for (const [name, value] of Object.entries(record.values)) {
        if (typeof value === 'number') {
          const num = acc.numeric.get(name);
          if (num) {
            num.sum += value;
            num.n++;
            num.min = Math.min(num.min, value);
            num.max = Math.max(num.max, value);
          } else {
            acc.numeric.set(name, { sum: value, n: 1, min: value, max: value });
          }
        } else if (typeof value === 'boolean') {
          acc.trues.set(name, (acc.trues.get(name) ?? 0) + (value ? 1 : 0));
        }
      }
      return 'accepted';
    },

    addSighting(record) {
      if (record.ts < clock.now() - policy.rawData.ttl) return 'expired';
      const w = windowFor(record.kind, record.ts);
      if (w === 'late') return 'late';
      const id = `${record.deviceId}:${record.seq}:${record.index}`;
      if (w.seen.has(id)) return 'duplicate';
      w.seen.add(id);
      const key = `${record.source}|${record.deviceId}`;
      let acc = w.sightings.get(key);
      if (!acc) w.sightings.set(key, (acc = { district: record.district, sightings: 0, pseudonyms: new Set(), speeds: [] }));
      acc.sightings++;
      acc.pseudonyms.add(record.pseudonym);
      if (record.speedKmh !== undefined) acc.speeds.push(record.speedKmh);
      return 'accepted';
    },

    closeDue(now = clock.now()) {
      const cutoff = now - graceMs;
      const out: AggregateRecord[] = [];
      const due = [...windows.entries()].filter(([, w]) => w.end <= cutoff).sort(([, a], [, b]) => a.end - b.end);
      for (const [id, w] of due) {
        out.push(...summarize(w));
        windows.delete(id);
      }
      closedUpTo = Math.max(closedUpTo, cutoff);
      return out;
    },

    get closedUpTo() {
      return closedUpTo;
    },
    restoreClosedUpTo(ms) {
      closedUpTo = Math.max(closedUpTo, ms);
    },
    openWindows: () => windows.size,
    pseudonymsHeld: () => [...windows.values()].reduce((n, w) => n + [...w.sightings.values()].reduce((m, s) => m + s.pseudonyms.size, 0), 0),
  };
}

function point(measurement: string, tags: Record<string, string>, fields: Record<string, number>, w: WindowState): AggregateRecord {
  return { v: 1, measurement, tags, fields, windowStart: w.start, windowEnd: w.end };
}

/** Nearest-rank percentile. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}
