// The gateway's stage, transport-free: validate an MQTT message, minimize it as the policy
// says, and replace direct identifiers by epoch pseudonyms. What comes out is either Kafka
// records that hold no raw identifier, or a refusal with a reason and a redacted excerpt.
import { randomInt } from 'node:crypto';
import {
  compileReadingValidators,
  parseReadingTopic,
  READING_FIELDS,
  READING_SCHEMAS,
  TOPICS,
  type DeviceKind,
  type Fleet,
  type ReadingRecord,
  type RejectReason,
  type RejectedRecord,
  type SightingsRecord,
  type SightingSource,
} from '@lethe/schemas';
import { systemClock, type Clock } from './clock.ts';
import type { Policy } from './policy.ts';
import type { Pseudonymizer } from './pseudonymizer.ts';
import { redactedExcerpt } from './redact.ts';
import { sightingSlot, slotStart } from './sighting-time.ts';

/** Array fields whose elements are sightings of a person's device or vehicle. */
export const SIGHTING_FIELDS: Readonly<Record<string, { source: SightingSource; identifier: string }>> = {
  wifiProbes: { source: 'wifi', identifier: 'mac' },
  plateReads: { source: 'plate', identifier: 'plate' },
};

const OPERATIONAL = new Set(['deviceId', 'seq', 'ts']);
/** Throws on invalid UTF-8 instead of replacing it (a leading BOM is skipped). */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export interface IngestOptions {
  policy: Policy;
  fleet: Fleet;
  pseudonymizers: Readonly<Record<DeviceKind, Pseudonymizer>>;
  clock?: Clock;
  /** Largest accepted payload. */
  maxPayloadBytes?: number;
  /** How far ahead of our clock a device's clock may run (default: the policy's `rawData.maxFutureSkew`). */
  maxFutureSkewMs?: number;
  /**
   * The sightings topic's partition for a pseudonym (the gateway: Kafka's default partitioner over
   * the topic's partitions). A reading's sightings are written as one record per partition. Default:
   * one partition, so one record per reading and source.
   */
  sightingsPartition?: (pseudonym: string) => number;
}

export interface OutRecord {
  topic: string;
  key: string;
  value: string;
  /** Event time (ms): Kafka's time-based retention then counts from the measurement. */
  timestamp?: number;
  /** The partition to write to; without it, the key's (Kafka's default partitioner). */
  partition?: number;
}

export type IngestResult =
  | {
      ok: true;
      kind: DeviceKind;
      /** The device and its sequence number (infrastructure facts, never personal), for sequence-gap metrics. */
      deviceId: string;
      seq: number;
      /** When the reading was taken (ms), for the write mix (write-mix.ts). */
      ts: number;
      /** The readings record first, then one sightings record per source and partition. */
      records: OutRecord[];
      /** Sightings written (not records: a sightings record holds all of a reading's for its partition). */
      sightings: number;
      droppedFields: number;
      /** Sightings not kept: stamped before the policy's max lateness, or in an epoch whose key is destroyed. */
      droppedSightings: { late: number; keyDestroyed: number };
      /** Sightings folded into a record this gateway already wrote for the same pseudonym, device and slot. */
      mergedSightings: number;
    }
  | { ok: false; rejected: RejectedRecord; record: OutRecord };

export interface IngestStage {
  ingest(topic: string, payload: Buffer): Promise<IngestResult>;
}

export function createIngestStage({
  policy,
  fleet,
  pseudonymizers,
  clock = systemClock,
  maxPayloadBytes = 64 * 1024,
  maxFutureSkewMs = policy.rawData.maxFutureSkew,
  sightingsPartition = () => 0,
}: IngestOptions): IngestStage {
  const knownKeys = new Set(Object.values(policy.kinds).flatMap((k) => Object.keys(k.fields).flatMap((f) => f.split('.'))));
  const written = createWrittenSlots();
  const validators = compileReadingValidators();

  function reject(reason: RejectReason, detail: string, topic: string, payload: Buffer): IngestResult {
    const receivedAt = clock.now();
    const rejected: RejectedRecord = {
      v: 1,
      reason,
      detail,
      // A topic that is not one of ours is attacker-controlled text: say only how long it was.
      topic: parseReadingTopic(topic) ? topic : `<invalid topic, ${topic.length} chars>`,
      excerpt: reason === 'OVERSIZED' ? `<${payload.length} bytes>` : redactedExcerpt(payload, knownKeys),
      bytes: payload.length,
      receivedAt,
    };
    return { ok: false, rejected, record: { topic: TOPICS.rejected, key: reason, value: JSON.stringify(rejected) } };
  }

  return {
    async ingest(topic, payload) {
      const route = parseReadingTopic(topic);
      if (!route) return reject('INVALID_TOPIC', 'topic must be lethe/v1/<kind>/<deviceId>/reading', topic, payload);
      if (payload.length > maxPayloadBytes) return reject('OVERSIZED', `payload is ${payload.length} bytes, limit ${maxPayloadBytes}`, topic, payload);

      // JSON text is UTF-8 (RFC 8259): invalid bytes are refused, not silently replaced by U+FFFD.
      let text: string;
      try {
        text = strictUtf8.decode(payload);
      } catch {
        return reject('NOT_JSON', 'payload is not valid UTF-8', topic, payload);
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        return reject('NOT_JSON', 'payload is not valid JSON', topic, payload);
      }
      const device = fleet.get(route.deviceId);
      if (!device) return reject('UNKNOWN_DEVICE', 'device is not in the fleet registry', topic, payload);
      if (device.kind !== route.kind) return reject('TOPIC_DEVICE_MISMATCH', `device is a ${device.kind}, topic says ${route.kind}`, topic, payload);

      // Ajv's compiled check on the hot path; zod only for a payload it refuses, for the refusal's
      // detail (and zod decides). Unknown keys are not read below, as zod's parse strips them.
      let reading = json as Record<string, unknown> & { deviceId: string; seq: number; ts: string };
      if (!validators[route.kind](json)) {
        const parsed = READING_SCHEMAS[route.kind].safeParse(json);
        if (!parsed.success) {
          const detail = parsed.error.issues
            .slice(0, 5)
            .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
            .join('; ');
          return reject('SCHEMA_VIOLATION', detail, topic, payload);
        }
        reading = parsed.data as typeof reading;
      }
      if (reading.deviceId !== route.deviceId) return reject('TOPIC_DEVICE_MISMATCH', 'deviceId in the payload differs from the topic', topic, payload);

      const now = clock.now();
      const ts = readingTime(reading.ts);
      // The schema's ISO pattern and Date.parse agree; a NaN must still never reach a record or a Kafka timestamp.
      if (!Number.isFinite(ts)) return reject('SCHEMA_VIOLATION', 'ts: not a valid point in time', topic, payload);
      if (ts > now + maxFutureSkewMs)
        return reject('TIMESTAMP_IN_FUTURE', `timestamp is ${Math.round((ts - now) / 1000)} s ahead of the gateway clock`, topic, payload);
      if (ts < now - policy.rawData.ttl)
        return reject('TIMESTAMP_TOO_OLD', `timestamp is older than the raw-data TTL (${policy.rawData.ttl / 1000} s)`, topic, payload);

      const kindPolicy = policy.kinds[route.kind];
      const values: ReadingRecord['values'] = {};
      const records: OutRecord[] = [];
      let droppedFields = 0;
      let sightings = 0;
      const droppedSightings = { late: 0, keyDestroyed: 0 };
      let mergedSightings = 0;
      written.forgetBefore(now - policy.rawData.maxLateness);
      for (const field of READING_FIELDS[route.kind]) {
        const value = reading[field];
        if (value === undefined || OPERATIONAL.has(field)) continue;
        const sighting = SIGHTING_FIELDS[field];
        if (sighting) {
          const items = value as Array<Record<string, unknown>>;
          if (items.length === 0) continue;
          if (ts < now - policy.rawData.maxLateness) {
            droppedSightings.late += items.length;
            continue;
          }
          const out = await toSightings(route.kind, field, sighting, items, device, reading.seq, ts);
          if (out === 'key-destroyed') {
            droppedSightings.keyDestroyed += items.length;
            continue;
          }
          records.push(...out.records);
          sightings += out.sightings;
          mergedSightings += out.merged;
          continue;
        }
        // Default deny: a field the policy does not name is not forwarded.
        const rule = kindPolicy.fields[field];
        if (rule?.treatment === 'keep' && (rule.class === 'environmental' || rule.class === 'presence-dependent' || rule.class === 'person-derived')) {
          values[field] = value as number | boolean | string;
        } else {
          droppedFields++;
        }
      }
      const record: ReadingRecord = { v: 1, kind: route.kind, deviceId: device.id, district: device.district, seq: reading.seq, ts, values };
      records.unshift({ topic: TOPICS.readings, key: device.id, value: JSON.stringify(record), timestamp: ts });
      return { ok: true, kind: route.kind, deviceId: device.id, seq: reading.seq, ts, records, sightings, droppedFields, droppedSightings, mergedSightings };
    },
  };

  async function toSightings(
    kind: DeviceKind,
    field: string,
    { source, identifier }: { source: SightingSource; identifier: string },
    items: Array<Record<string, unknown>>,
    device: { id: string; district: string },
    seq: number,
    ts: number,
  ): Promise<{ records: OutRecord[]; sightings: number; merged: number } | 'key-destroyed'> {
    const fields = policy.kinds[kind].fields;
    if (fields[`${field}.${identifier}`]?.treatment !== 'pseudonymize') return { records: [], sightings: 0, merged: 0 };
    const result = await pseudonymizers[kind].pseudonymize(
      source,
      ts,
      items.map((item) => String(item[identifier])),
    );
    // The epoch's key is gone: the sightings can no longer be pseudonymized, so they are not kept at all.
    if (!result) return 'key-destroyed';
    // Coarsened time, also as the Kafka timestamp (P9, sighting-time.ts). The slot divides the
    // window, so it lies in the same window and epoch as the exact time the key was chosen by.
    const slotMs = sightingSlot(source, policy.kinds[kind].window);
    const slot = slotStart(ts, slotMs);
    const keepSpeed = fields[`${field}.speedKmh`]?.treatment === 'keep';
    const byPartition = new Map<number, SightingsRecord['sightings']>();
    let sightings = 0;
    let merged = 0;
    const here = new Set<string>();
    const claims = written.slot(slot + slotMs, source, device.id);
    items.forEach((item, index) => {
      const pseudonym = result.pseudonyms[index]!;
      if (here.has(pseudonym) || !claims.claim(pseudonym, seq)) {
        merged++;
        return;
      }
      here.add(pseudonym);
      const partition = sightingsPartition(pseudonym);
      let bundle = byPartition.get(partition);
      if (!bundle) byPartition.set(partition, (bundle = []));
      bundle.push(keepSpeed && typeof item.speedKmh === 'number' ? { pseudonym, speedKmh: item.speedKmh } : { pseudonym });
      sightings++;
    });
    const records: OutRecord[] = [];
    for (const [partition, bundle] of byPartition) {
      // The device lists probes in the order it heard them (the simulator: order of arrival); the
      // record would keep that order.
      const record: SightingsRecord = {
        v: 2,
        source,
        epoch: result.epoch,
        kind,
        deviceId: device.id,
        district: device.district,
        ts: slot,
        sightings: shuffled(bundle),
      };
      records.push({ topic: TOPICS.sightings, key: bundle[0]!.pseudonym, value: JSON.stringify(record), timestamp: slot, partition });
    }
    // Records of one reading for different partitions are independent; their order says nothing, shuffled all the same.
    return { records: shuffled(records), sightings, merged };
  }
}

/**
 * The records this gateway wrote per pseudonym, device and slot, so that later sightings in the
 * slot are folded into the first: a record written at each sighting would say by its offset how
 * long within the slot a person stayed, and when they left. Held for the slot plus the policy's
 * max lateness (a sighting later than that is not kept anyway), so it holds pseudonyms of the
 * last minute or two, never raw identifiers. The reading that wrote a record may write it again:
 * its Kafka send may have failed, and its redelivery must not be folded into a record that never
 * arrived. Another gateway, or this one after a restart, may write a second record for a slot; the
 * processor counts a pseudonym once per device and slot.
 */
function createWrittenSlots() {
  // slot end → `${source}|${deviceId}` → pseudonym → the seq of the reading that wrote its record.
  // Nested, so a sighting costs a lookup in its device's few hundred pseudonyms rather than a
  // string built and hashed into a map of every sighting of the slot (at the bench's maximum
  // rate, 100,000 and more).
  const slots = new Map<number, Map<string, Map<string, number>>>();
  return {
    /** The claims of one device and source in the slot that ends at `slotEnd`. */
    slot(slotEnd: number, source: SightingSource, deviceId: string) {
      let devices = slots.get(slotEnd);
      if (!devices) slots.set(slotEnd, (devices = new Map()));
      const device = `${source}|${deviceId}`;
      let claims = devices.get(device);
      if (!claims) devices.set(device, (claims = new Map()));
      const held = claims;
      return {
        /** True if this reading (`seq`) may write the record: the first for its pseudonym, device and slot, or a copy from the same reading. */
        claim(pseudonym: string, seq: number): boolean {
          const by = held.get(pseudonym);
          if (by === undefined) held.set(pseudonym, seq);
          return by === undefined || by === seq;
        },
      };
    },
    /** Forgets slots that ended before `cutoff`: their sightings would be refused as late. */
    forgetBefore(cutoff: number): void {
      for (const end of slots.keys()) if (end < cutoff) slots.delete(end);
    },
  };
}

function shuffled<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

/**
 * Milliseconds of an ISO 8601 time the schema accepted. Digits after the milliseconds are cut
 * first: the schema allows any number of them, but V8's Date.parse misreads fractions of ten
 * or more digits with leading zeros (".0009997040009" came out as 999 ms; found by the
 * property tests).
 */
export function readingTime(iso: string): number {
  return Date.parse(iso.replace(/(\.\d{3})\d+/, '$1'));
}
