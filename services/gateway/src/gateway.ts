// Wires the ingest stage (validation, minimization, pseudonymization) to Kafka. A reading's
// records and a refusal both go through the same batching producer, so a message is
// acknowledged to MQTT only when whatever it became is safely in Kafka. Readings of the first
// slot of an epoch are written together at its end, shuffled (the write mix, P9). The handler
// without Kafka (createIngestHandler) is what `pnpm demo` runs in front of its in-process processor.
import type { BatchingProducer } from '@lethe/kafka';
import type { Logger } from '@lethe/observability';
import type { IngestResult, IngestStage, Policy } from '@lethe/privacy';
import type { GatewayMetrics, IngestMetrics } from './metrics.ts';
import { createSequenceGaps } from './sequence-gaps.ts';
import { createWriteMix, type WriteMix } from './write-mix.ts';

export interface IngestHandlerDeps {
  ingest: IngestStage;
  metrics: IngestMetrics;
  logger: Logger;
  /** Takes what a message became (records, or a refusal); the message is handled once this resolves. */
  deliver: (result: IngestResult) => Promise<void>;
}

/**
 * Ingests a message, hands the outcome to `deliver`, and only then counts it: a message whose
 * delivery failed is counted as received, not as forwarded or refused (it comes again). A
 * refusal is logged with its reason and a value-free detail.
 */
export function createIngestHandler({ ingest, metrics, logger, deliver }: IngestHandlerDeps): (topic: string, payload: Buffer) => Promise<IngestResult> {
  return async (topic, payload) => {
    metrics.received.inc();
    const result = await ingest.ingest(topic, payload);
    await deliver(result);
    if (result.ok) {
      metrics.forwarded.labels(result.kind).inc();
      // Identifiers pseudonymized, including those folded into a record of their slot written before (ingest.ts).
      metrics.sightings.inc(result.sightings + result.mergedSightings);
      metrics.droppedFields.inc(result.droppedFields);
      if (result.droppedSightings.late > 0) metrics.droppedSightings.labels('late').inc(result.droppedSightings.late);
      if (result.droppedSightings.keyDestroyed > 0) metrics.droppedSightings.labels('key_destroyed').inc(result.droppedSightings.keyDestroyed);
    } else {
      metrics.rejected.labels(result.rejected.reason).inc();
      // The refusal's detail and excerpt hold no input values; the topic is ours or replaced.
      logger.warn({ reason: result.rejected.reason, detail: result.rejected.detail, topic: result.rejected.topic }, 'rejected a message');
    }
    return result;
  };
}

export interface GatewayDeps {
  ingest: IngestStage;
  policy: Policy;
  producer: BatchingProducer;
  metrics: GatewayMetrics;
  logger: Logger;
  /** Readings the write mix may hold (P9): within what the MQTT connections may leave unacknowledged. */
  maxHeld?: number;
}

/**
 * How long a reading may wait for Kafka before the gateway gives up on it (it is then redelivered
 * by Mosquitto). kafkajs retries on its own for about a minute at most, but a send can also hang
 * for good after a broker restart (../shared/DESIGN.md §5, known pitfalls); without a deadline
 * that reading, and every later one of its MQTT connection, would never be acknowledged. The
 * batching producer keeps it, one timer per batch (main.ts).
 */
export const SEND_TIMEOUT_MS = 60_000;

export interface Gateway {
  handle(topic: string, payload: Buffer): Promise<void>;
  mix: WriteMix;
}

export function createGateway({ ingest, policy, producer, metrics, logger, maxHeld = 2000 }: GatewayDeps): Gateway {
  const gaps = createSequenceGaps();
  // The deadline (the producer's) is Kafka's alone: it starts when the records are sent, not while they are held.
  const mix = createWriteMix({
    policy,
    send: (records) => producer.send(records),
    maxHeld,
    overflowed: () => {
      metrics.writeMixOverflows.inc();
      logger.warn({ maxHeld }, 'the write mix is full: the rest of its slot is written as it comes (more gateway connections, MQTT_CONNECTIONS, hold more)');
    },
  });
  const ingestAndSend = createIngestHandler({
    ingest,
    metrics,
    logger,
    async deliver(result) {
      // In arrival order (before the Kafka round trip, which other connections' messages may overtake).
      const skipped = result.ok ? gaps.observe(result.deviceId, result.seq) : 0;
      if (result.ok && skipped > 0) metrics.sequenceGaps.labels(result.kind).inc(skipped);
      try {
        await (result.ok ? mix.send(result.records, result.ts) : mix.send([result.record], undefined));
      } catch (err) {
        metrics.kafkaErrors.inc();
        throw err;
      }
    },
  });
  async function handle(topic: string, payload: Buffer): Promise<void> {
    const started = performance.now();
    await ingestAndSend(topic, payload);
    metrics.ackLatency.observe((performance.now() - started) / 1000);
  }
  return { handle, mix };
}
