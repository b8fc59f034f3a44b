// Zero loss and publish → Kafka latency, from the readings topic itself after the run. Every
// (device, seq) a device published and Mosquitto acknowledged must be in the topic (the
// gateway's readings records carry both); duplicates are counted (QoS 1 is at-least-once).
// The bench creates the topic with message.timestamp.type=LogAppendTime, so each record's
// timestamp is the broker's append time, and the record's `ts` is the device's publish time:
// their difference is publish → stored in Kafka, for every reading, at 1 ms resolution.
// Readings taken in the first slot of an epoch are held by the gateway's write mix until the slot
// ends or the mix is full (P9, by design): `held` tells that slot's readings apart (those written
// as they came after the mix filled up too), and their latency is kept in its own histogram, so
// whether a step happens to cross an epoch boundary does not decide the pipeline's figure.
import type { Kafka } from '@lethe/kafka';
import { Histogram } from './histogram.ts';

export interface PublishedRange {
  /** First sequence number of every device in this step. */
  seqStart: number;
  /** Exclusive end per device. */
  seqEnd: Record<string, number>;
  /** Publishes that Mosquitto did not acknowledge (not required in Kafka). */
  failed: Array<[string, number]>;
}

export interface RangeAudit {
  expected: number;
  found: number;
  missing: number;
  duplicates: number;
  /** Records of this range's sequence numbers that were not published as acknowledged (should be 0). */
  unexpected: number;
  /** Publish → Kafka of the readings not held by the write mix. */
  latency: Histogram;
  /** Publish → Kafka of the readings the write mix held (the first slot of an epoch). */
  heldLatency: Histogram;
}

const DEVICE = /"deviceId":"([^"]+)"/;
const SEQ = /"seq":(\d+)/;
const TS = /"ts":(\d+)/;

/**
 * `perWindow`, if given, receives the distinct readings of the topic (warm-ups included) per
 * window of `windowMs` by their `ts`: what InfluxDB's device points of each window must count.
 */
export async function auditReadings(
  kafka: Kafka,
  topic: string,
  ranges: PublishedRange[],
  onProgress?: (read: number, total: number) => void,
  perWindow?: { windowMs: number; counts: Map<number, number> },
  held: (ts: number) => boolean = () => false,
): Promise<RangeAudit[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
  await admin.disconnect();
  const total = [...ends.values()].reduce((a, b) => a + b, 0);
  const maxSeq = Math.max(0, ...ranges.flatMap((r) => Object.values(r.seqEnd)));
  const counts = new Map<string, Uint16Array>();
  const latencies = ranges.map(() => new Histogram());
  const heldLatencies = ranges.map(() => new Histogram());
  const rangeOf = (seq: number) => {
    for (let i = ranges.length - 1; i >= 0; i--) if (seq >= ranges[i]!.seqStart) return i;
    return -1;
  };
  let read = 0;
  const pending = new Set([...ends].filter(([, high]) => high > 0).map(([p]) => p));
  const consumer = kafka.consumer({ groupId: `bench-audit-${Date.now()}`, allowAutoTopicCreation: false, maxBytes: 50 * 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const finished = new Promise<void>((resolve) => {
    if (pending.size === 0) resolve();
    void consumer.run({
      eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
        for (const message of batch.messages) {
          read++;
          const value = message.value?.toString('utf8') ?? '';
          const device = DEVICE.exec(value)?.[1];
          const seq = Number(SEQ.exec(value)?.[1]);
          const ts = Number(TS.exec(value)?.[1]);
          if (device && Number.isInteger(seq) && seq <= maxSeq) {
            let c = counts.get(device);
            if (!c) counts.set(device, (c = new Uint16Array(maxSeq + 1)));
            if (c[seq] === 0 && perWindow) {
              const w = Math.floor(ts / perWindow.windowMs) * perWindow.windowMs;
              perWindow.counts.set(w, (perWindow.counts.get(w) ?? 0) + 1);
            }
            c[seq] = Math.min(65535, c[seq]! + 1);
            const r = rangeOf(seq);
            if (r >= 0) (held(ts) ? heldLatencies : latencies)[r]!.record((Number(message.timestamp) - ts) * 1000);
          }
          resolveOffset(message.offset);
          if (Number(message.offset) + 1 >= (ends.get(batch.partition) ?? 0)) pending.delete(batch.partition);
        }
        await heartbeat();
        onProgress?.(read, total);
        if (pending.size === 0) resolve();
      },
    });
  });
  await finished;
  await consumer.disconnect();
  return ranges.map((range, i) => {
    const failed = new Set(range.failed.map(([d, s]) => `${d}/${s}`));
    let expected = 0;
    let found = 0;
    let missing = 0;
    let duplicates = 0;
    let unexpected = 0;
    for (const [device, end] of Object.entries(range.seqEnd)) {
      const c = counts.get(device);
      for (let seq = range.seqStart; seq < end; seq++) {
        const n = c?.[seq] ?? 0;
        if (failed.has(`${device}/${seq}`)) {
          if (n > 0) unexpected++;
          continue;
        }
        expected++;
        if (n === 0) missing++;
        else {
          found++;
          duplicates += n - 1;
        }
      }
    }
    return { expected, found, missing, duplicates, unexpected, latency: latencies[i]!, heldLatency: heldLatencies[i]! };
  });
}
