// Coalesces many small sends into one `sendBatch` per linger period. Each caller still gets
// its own promise, resolved only once Kafka has acknowledged the batch that carried its
// records, so the gateway can acknowledge MQTT after Kafka has the data and not before.
// (One awaited send per message is tens of times slower than batching.) A batch is sent as
// requests of at most `maxRequestBytes`, one after the other: the broker refuses a record batch
// over its message.max.bytes (1 MiB by default) for good, so an unbounded request — e.g. the
// partials of hundreds of windows closing at once while a processor replays a backlog — would
// be retried forever (found by the fault suite).
import type { Message, Producer } from 'kafkajs';

export interface OutgoingRecord {
  topic: string;
  key: string;
  value: string;
  /** Record timestamp in ms (CreateTime). Personal records carry their event time, so topic
   * retention (which compares record timestamps) counts from when the data was measured. */
  timestamp?: number;
  /** The partition to write to; without it, the key's. */
  partition?: number;
}

export interface BatchingProducerOptions {
  producer: Producer;
  /** How long to wait for more records before sending. */
  lingerMs?: number;
  /** Send at once when this many records are waiting. */
  maxBatchRecords?: number;
  /** Upper bound of one produce request's record bytes (keys and values plus overhead). */
  maxRequestBytes?: number;
  /**
   * Rejects every caller of a batch Kafka has not acknowledged within this many ms of its
   * dispatch (default: no deadline). kafkajs gives up on its own after its retries, but a send
   * can also hang for good after a broker restart (../shared/DESIGN.md, known pitfalls). One
   * timer per batch, not per caller: the gateway sends one reading per call.
   */
  timeoutMs?: number;
  /** Called after every batch with its size and duration (metrics). */
  onBatch?: (records: number, seconds: number) => void;
}

interface Pending {
  records: OutgoingRecord[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface BatchingProducer {
  /** Resolves when Kafka acknowledged every record (acks=all). */
  send(records: OutgoingRecord[]): Promise<void>;
  /** Sends whatever is waiting and waits for batches in flight. */
  flush(): Promise<void>;
}

/** Per-record overhead of the Kafka record format (headers, varints, timestamp), roughly. */
const RECORD_OVERHEAD_BYTES = 64;

/** Splits records into consecutive chunks of at most `maxBytes` (a record larger than that goes alone). */
export function chunkByBytes(records: readonly OutgoingRecord[], maxBytes: number): OutgoingRecord[][] {
  const chunks: OutgoingRecord[][] = [];
  let chunk: OutgoingRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    const size = Buffer.byteLength(r.key) + Buffer.byteLength(r.value) + RECORD_OVERHEAD_BYTES;
    if (chunk.length > 0 && bytes + size > maxBytes) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(r);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

function withDeadline(promise: Promise<void>, ms: number | undefined): Promise<void> {
  if (ms === undefined) return promise;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Kafka did not acknowledge within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

function toMessage(r: OutgoingRecord): Message {
  return {
    key: r.key,
    value: r.value,
    ...(r.timestamp === undefined ? {} : { timestamp: String(r.timestamp) }),
    ...(r.partition === undefined ? {} : { partition: r.partition }),
  };
}

export function createBatchingProducer({
  producer,
  lingerMs = 5,
  maxBatchRecords = 2000,
  maxRequestBytes = 512 * 1024,
  timeoutMs,
  onBatch,
}: BatchingProducerOptions): BatchingProducer {
  let waiting: Pending[] = [];
  let waitingRecords = 0;
  let timer: NodeJS.Timeout | undefined;
  /** The batch being sent, settled when Kafka answered it or its deadline passed. */
  let inFlight: Promise<void> | undefined;

  async function sendAll(records: OutgoingRecord[]): Promise<void> {
    // In order, one request at a time: a record is never sent before one queued ahead of it.
    for (const chunk of chunkByBytes(records, maxRequestBytes)) {
      const byTopic = new Map<string, Message[]>();
      for (const r of chunk) {
        let messages = byTopic.get(r.topic);
        if (!messages) byTopic.set(r.topic, (messages = []));
        messages.push(toMessage(r));
      }
      await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    }
  }

  // One batch in flight at a time; what arrives meanwhile waits and goes out as the next batch.
  // The idempotent producer numbers each partition's batches in order, and a retried batch must
  // keep its number for the broker to recognise a resend of what it already has (the patched
  // kafkajs, patches/kafkajs@2.2.4.patch): with two batches in flight, a failover could reorder
  // them. kafkajs already sends one request at a time per broker, so this costs no throughput.
  function dispatch(): Promise<void> {
    clearTimeout(timer);
    timer = undefined;
    if (inFlight) return inFlight;
    const batch = waiting;
    waiting = [];
    waitingRecords = 0;
    if (batch.length === 0) return Promise.resolve();
    const started = performance.now();
    const records = batch.flatMap((p) => p.records);
    const sending = withDeadline(sendAll(records), timeoutMs).then(
      () => {
        onBatch?.(records.length, (performance.now() - started) / 1000);
        for (const p of batch) p.resolve();
      },
      (err: unknown) => {
        for (const p of batch) p.reject(err);
      },
    );
    // After a deadline the next batch goes out while this one may still be retried: its callers
    // were told it failed, and the patched kafkajs never reuses its sequence numbers, so a late
    // arrival is a duplicate the processor drops, never a later batch taken for a duplicate.
    inFlight = sending.finally(() => {
      inFlight = undefined;
      if (waiting.length > 0) void dispatch();
    });
    return inFlight;
  }

  return {
    send(records) {
      if (records.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        waiting.push({ records, resolve, reject });
        waitingRecords += records.length;
        if (inFlight) return;
        if (waitingRecords >= maxBatchRecords) void dispatch();
        else timer ??= setTimeout(() => void dispatch(), lingerMs);
      });
    },
    async flush() {
      while (inFlight || waiting.length > 0) await dispatch();
    },
  };
}
