// Reconciliation after a fault run, from what the devices had acknowledged by the broker to
// what InfluxDB holds:
//   1. per-device sequence numbers: every acknowledged reading is on the readings topic (lost =
//      acknowledged but absent), and how many copies of each (redeliveries are expected: the
//      gateway is at-least-once, the processor de-duplicates by device and sequence number);
//      every probe or plate read of a reading that arrived is in a sighting record: one per
//      identifier, device and slot (the gateway folds later sightings of a slot into the first);
//   2. aggregates: the faulty run's records equal a fault-free replay's key by key, and a
//      record released twice was released with identical values;
//   3. every device's `readings` count per window equals its distinct sequence numbers in that
//      window (an independent check for double counting: the replay saw the same duplicates);
//   4. InfluxDB holds exactly the aggregates, value for value.
// And per fault (tallyByFault): what of the above happened during it, by event time.
import { createHash } from 'node:crypto';
import { normalizeIdentifier, SIGHTING_FIELDS, sightingSlot, slotStart, SOURCE_KIND, type Policy } from '@lethe/privacy';
import { AggregateRecordSchema, ReadingRecordSchema, sightingsOf, SightingsTopicRecordSchema, type AggregateRecord } from '@lethe/schemas';
import type { DumpedRecord } from './topic-dump.ts';

export interface Published {
  deviceId: string;
  seq: number;
  ts: number;
  /** Per probe or plate read in the payload, the sighting record it belongs to (`sightingKeys`); equal keys are one record. */
  sightings: readonly string[];
}

/**
 * The sighting records a published reading should give: one per identifier, device and slot. The
 * identifier is hashed, so the test's own memory holds no raw MAC or plate in these keys.
 */
export function sightingKeys(policy: Policy, deviceId: string, payload: Record<string, unknown>): string[] {
  const ts = Date.parse(String(payload.ts));
  return Object.entries(SIGHTING_FIELDS).flatMap(([field, { source, identifier }]) => {
    const items = payload[field];
    if (!Array.isArray(items)) return [];
    const slot = slotStart(ts, sightingSlot(source, policy.kinds[SOURCE_KIND[source]].window));
    return items.map((item: Record<string, unknown>) => {
      const id = createHash('sha256')
        .update(normalizeIdentifier(source, String(item[identifier])))
        .digest('base64url');
      return `${source}|${deviceId}|${id}|${slot}`;
    });
  });
}

const readingId = (deviceId: string, seq: number) => `${deviceId}#${seq}`;

export interface SequenceReport {
  acknowledged: number;
  onTopic: number;
  lost: Published[];
  /** Copies beyond the first (redeliveries absorbed downstream). */
  duplicates: number;
  /** Each reading on the topic more than once, with its copies beyond the first. */
  redelivered: Array<{ deviceId: string; seq: number; ts: number; copies: number }>;
  /** On the topic though never acknowledged to the device (its publish was cut by a fault). */
  unacknowledged: number;
  /** Distinct sighting records (identifier, device, slot) the readings that arrived should give. */
  sightingsExpected: number;
  /** Distinct sighting records (pseudonym, device, slot) on the topic. */
  sightingsOnTopic: number;
  sightingDuplicates: number;
}

export function reconcileSequences(published: Iterable<Published>, readings: DumpedRecord[], sightings: DumpedRecord[]): SequenceReport {
  const acked = new Map<string, Published>();
  for (const p of published) acked.set(readingId(p.deviceId, p.seq), p);
  const copies = new Map<string, number>();
  const seen = new Map<string, { deviceId: string; seq: number; ts: number }>();
  for (const r of readings) {
    const rec = ReadingRecordSchema.parse(JSON.parse(r.value));
    const id = readingId(rec.deviceId, rec.seq);
    copies.set(id, (copies.get(id) ?? 0) + 1);
    seen.set(id, { deviceId: rec.deviceId, seq: rec.seq, ts: rec.ts });
  }
  const sightingCopies = new Map<string, number>();
  for (const s of sightings) {
    for (const rec of sightingsOf(SightingsTopicRecordSchema.parse(JSON.parse(s.value)))) {
      const id = `${rec.source}|${rec.deviceId}|${rec.pseudonym}|${rec.ts}`;
      sightingCopies.set(id, (sightingCopies.get(id) ?? 0) + 1);
    }
  }
  const expected = new Set<string>();
  for (const [id, p] of acked) if (copies.has(id)) for (const key of p.sightings) expected.add(key);
  const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  return {
    acknowledged: acked.size,
    onTopic: copies.size,
    lost: [...acked].filter(([id]) => !copies.has(id)).map(([, p]) => p),
    duplicates: sum(copies) - copies.size,
    redelivered: [...copies].filter(([, n]) => n > 1).map(([id, n]) => ({ ...seen.get(id)!, copies: n - 1 })),
    unacknowledged: [...copies.keys()].filter((id) => !acked.has(id)).length,
    sightingsExpected: expected.size,
    sightingsOnTopic: sightingCopies.size,
    sightingDuplicates: sum(sightingCopies) - sightingCopies.size,
  };
}

/** An aggregate's identity: its key plus field names (a device's person-derived count shares its series with its environmental record). */
export function aggregateIdentity(key: string, record: AggregateRecord): string {
  return `${key}|${Object.keys(record.fields).sort().join(',')}`;
}

export interface AggregateSet {
  records: Map<string, AggregateRecord>;
  copies: number;
  /** Identities released more than once with different values: a double count or a changed figure. */
  conflicting: string[];
}

export function collectAggregates(dumped: DumpedRecord[]): AggregateSet {
  const records = new Map<string, AggregateRecord>();
  const conflicting: string[] = [];
  for (const d of dumped) {
    const record = AggregateRecordSchema.parse(JSON.parse(d.value));
    const id = aggregateIdentity(d.key, record);
    const first = records.get(id);
    if (!first) records.set(id, record);
    else if (JSON.stringify(first) !== JSON.stringify(record)) conflicting.push(id);
  }
  return { records, copies: dumped.length - records.size, conflicting };
}

/**
 * Live `privacy` records of windows before the first one the replay released of that stream. The
 * live processor runs before the devices publish and releases every window, empty ones too (P9),
 * while the replay starts at the first reading on the input topics: it cannot release those
 * windows. They are set apart, not excused: the caller checks that each released no figure.
 */
export function beforeReplay(
  live: Map<string, AggregateRecord>,
  replay: Map<string, AggregateRecord>,
): { compared: Map<string, AggregateRecord>; before: AggregateRecord[] } {
  const first = new Map<string, number>();
  for (const r of replay.values()) if (r.measurement === 'privacy') first.set(r.tags.stream!, Math.min(first.get(r.tags.stream!) ?? Infinity, r.windowStart));
  const compared = new Map<string, AggregateRecord>();
  const before: AggregateRecord[] = [];
  for (const [id, r] of live) {
    if (r.measurement === 'privacy' && r.windowStart < (first.get(r.tags.stream!) ?? -Infinity)) before.push(r);
    else compared.set(id, r);
  }
  return { compared, before };
}

/**
 * Records of windows that start after the last reading. Every releaser releases those empty
 * windows by the clock (P9), so how many of them a set holds says when it was read, not what was
 * computed. They are set apart, not excused: the caller checks that none of them holds a figure.
 */
export function afterData(records: Map<string, AggregateRecord>, lastTs: number): { compared: Map<string, AggregateRecord>; after: AggregateRecord[] } {
  const compared = new Map<string, AggregateRecord>();
  const after: AggregateRecord[] = [];
  for (const [id, r] of records) {
    if (r.windowStart > lastTs) after.push(r);
    else compared.set(id, r);
  }
  return { compared, after };
}

/** Differences between two aggregate sets, as readable lines (at most `limit`). */
export function diffAggregates(expected: Map<string, AggregateRecord>, actual: Map<string, AggregateRecord>, limit = 20): string[] {
  const lines: string[] = [];
  for (const [id, e] of expected) {
    const a = actual.get(id);
    if (!a) lines.push(`missing ${id}`);
    else if (JSON.stringify(a) !== JSON.stringify(e)) lines.push(`differs ${id}: expected ${JSON.stringify(e.fields)}, got ${JSON.stringify(a.fields)}`);
  }
  for (const id of actual.keys()) if (!expected.has(id)) lines.push(`extra ${id}`);
  return lines.slice(0, limit).concat(lines.length > limit ? [`… and ${lines.length - limit} more`] : []);
}

/** Identities of the records that differ between two aggregate sets (missing, different or extra), with their window start. */
export function differingRecords(expected: Map<string, AggregateRecord>, actual: Map<string, AggregateRecord>): Array<{ id: string; windowStart: number }> {
  const out: Array<{ id: string; windowStart: number }> = [];
  for (const [id, e] of expected) {
    const a = actual.get(id);
    if (!a || JSON.stringify(a) !== JSON.stringify(e)) out.push({ id, windowStart: e.windowStart });
  }
  for (const [id, a] of actual) if (!expected.has(id)) out.push({ id, windowStart: a.windowStart });
  return out;
}

export interface ReadingCountMismatch {
  id: string;
  windowStart: number;
  /** The device's `readings` figure for the window. */
  readings: number;
  /** Its distinct sequence numbers on the readings topic in that window. */
  distinct: number;
}

/** Device-scope environmental records whose `readings` differ from the distinct sequence numbers the topic holds for that device and window. */
export function readingCountMismatches(aggregates: Map<string, AggregateRecord>, readings: DumpedRecord[]): ReadingCountMismatch[] {
  // Per device, each distinct sequence number's event time.
  const seqs = new Map<string, Map<number, number>>();
  for (const r of readings) {
    const rec = ReadingRecordSchema.parse(JSON.parse(r.value));
    (seqs.get(rec.deviceId) ?? seqs.set(rec.deviceId, new Map()).get(rec.deviceId)!).set(rec.seq, rec.ts);
  }
  const mismatches: ReadingCountMismatch[] = [];
  for (const [id, a] of aggregates) {
    const device = a.tags.device;
    if (a.tags.scope !== 'device' || device === undefined || a.fields.readings === undefined) continue;
    let distinct = 0;
    for (const ts of seqs.get(device)?.values() ?? []) if (ts >= a.windowStart && ts < a.windowEnd) distinct++;
    if (distinct !== a.fields.readings) mismatches.push({ id, windowStart: a.windowStart, readings: a.fields.readings, distinct });
  }
  return mismatches;
}

/** What the reconciliation found in one stretch of the run. */
export interface FaultTally {
  /** Acknowledged readings missing from the readings topic. */
  lost: number;
  /** Readings counted beyond their distinct sequence numbers (a device's `readings` figure above them). */
  countedTwice: number;
  /** Aggregate records that differ from the fault-free replay (missing, different or extra). */
  differing: number;
  /** Copies beyond the first on the readings topic: redeliveries, absorbed by the processor. */
  copies: number;
}

export interface Findings {
  /** When each lost reading was acknowledged to its device. */
  lost: number[];
  countedTwice: ReadingCountMismatch[];
  differing: Array<{ windowStart: number }>;
  /** When each reading written more than once was acknowledged to its device (its time if it never was), and its copies beyond the first. */
  redelivered: Array<{ at: number; copies: number }>;
}

/**
 * The findings per fault: each belongs to the last fault whose span had begun when Mosquitto
 * acknowledged its reading to the device (about when it was taken, unless Mosquitto was down), or
 * when its window began. `spanStarts` (ascending) is when each fault's span begins: its injection, or
 * earlier where a fault is allowed to take what came before it (Mosquitto's save window). What
 * comes before the first span is `before`.
 */
export function tallyByFault(spanStarts: readonly number[], findings: Findings): { byFault: FaultTally[]; before: FaultTally } {
  const empty = (): FaultTally => ({ lost: 0, countedTwice: 0, differing: 0, copies: 0 });
  const byFault = spanStarts.map(empty);
  const before = empty();
  const at = (ts: number) => {
    let i = spanStarts.length - 1;
    while (i >= 0 && spanStarts[i]! > ts) i--;
    return i < 0 ? before : byFault[i]!;
  };
  for (const ts of findings.lost) at(ts).lost++;
  for (const m of findings.countedTwice) if (m.readings > m.distinct) at(m.windowStart).countedTwice += m.readings - m.distinct;
  for (const d of findings.differing) at(d.windowStart).differing++;
  for (const r of findings.redelivered) at(r.at).copies += r.copies;
  return { byFault, before };
}

/** What InfluxDB should hold for a set of aggregates: one value per measurement, tag set, time and field (points.ts). */
export function expectedPoints(aggregates: Iterable<AggregateRecord>): Map<string, number> {
  const points = new Map<string, number>();
  for (const a of aggregates) {
    const tags = { ...a.tags, window: `${(a.windowEnd - a.windowStart) / 1000}s` };
    for (const [field, value] of Object.entries(a.fields)) points.set(pointKey(a.measurement, tags, a.windowStart, field), value);
  }
  return points;
}

export function pointKey(measurement: string, tags: Record<string, string>, timeMs: number, field: string): string {
  const t = Object.entries(tags)
    .sort(([x], [y]) => (x < y ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return `${measurement},${t} ${field} @${timeMs}`;
}
