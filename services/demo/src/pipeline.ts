// The pipeline's privacy stages composed in one process: what the gateway does (the ingest
// stage: validate, minimize, pseudonymize with per-epoch keys destroyed on time) feeds what the
// processor does (the aggregator: windows, k-anonymity, differential privacy, the ε ledger),
// whose anonymous aggregates go into the api's store. Records cross from one stage to the next
// as the same JSON the real services put on Kafka, parsed with the same schemas. Audit events
// the real services send to lethe.audit.v1 (policy loaded, key destroyed) go into the demo's
// audit log; the retention attestations the api writes come from the same schedule (main.ts).
import { createHash, randomBytes } from 'node:crypto';
import type { AuditEvent, AuditLog } from '@lethe/audit';
import type { MemoryAggregateStore } from '@lethe/api';
import { createIngestHandler } from '@lethe/gateway';
import type { Logger } from '@lethe/observability';
import {
  createAggregator,
  createBudgetLedger,
  createIngestStage,
  createNoiseSource,
  createKindKeyProviders,
  createPseudonymizers,
  destroyedKeyData,
  type PseudonymKeyProvider,
  type Policy,
} from '@lethe/privacy';
import { ReadingRecordSchema, sightingsOf, SightingsTopicRecordSchema, TOPICS, type DeviceKind, type Fleet } from '@lethe/schemas';
import type { HeldSightings } from './held-sightings.ts';
import type { DemoMetrics } from './metrics.ts';

export interface PipelineOptions {
  policy: Policy;
  fleet: Fleet;
  store: MemoryAggregateStore;
  audit: AuditLog;
  held: HeldSightings;
  metrics: DemoMetrics;
  logger: Logger;
  windowGraceMs: number;
  now?: () => number;
}

export interface PipelineStats {
  received: number;
  accepted: number;
  rejected: number;
  aggregates: number;
  keysDestroyed: number;
}

export interface DemoPipeline {
  /** One MQTT message through the gateway's stage into the aggregator; resolves once both took it. */
  take(topic: string, payload: Buffer): Promise<void>;
  start(): void;
  /** Stops the timers, releases the windows that are due, and zeroes every key. */
  stop(): Promise<void>;
  stats(): PipelineStats;
}

export function createPipeline({ policy, fleet, store, audit, held, metrics, logger, windowGraceMs, now = Date.now }: PipelineOptions): DemoPipeline {
  const stats: PipelineStats = { received: 0, accepted: 0, rejected: 0, aggregates: 0, keysDestroyed: 0 };
  const record = (event: Omit<AuditEvent, 'at'>) =>
    void audit
      .append({ ...event, at: now() })
      .catch((err: unknown) => logger.error({ err: { message: (err as Error).message }, type: event.type }, 'audit append failed'));

  const byKind = createKindKeyProviders(policy, {
    clock: { now },
    onDestroy: (kind, epoch) => {
      stats.keysDestroyed++;
      metrics.keysDestroyed.inc();
      record({ type: 'key.destroyed', actor: 'gateway', data: destroyedKeyData(policy, kind, epoch) });
    },
  });
  const providers = Object.entries(byKind) as Array<[DeviceKind, PseudonymKeyProvider]>;
  const pseudonymizers = createPseudonymizers(policy, byKind);
  const ingest = createIngestStage({ policy, fleet, pseudonymizers, clock: { now } });
  // A fresh noise key per run: nothing is kept across runs, so replays cannot happen anyway.
  const aggregator = createAggregator({
    policy,
    noise: createNoiseSource(randomBytes(32)),
    ledger: createBudgetLedger(),
    clock: { now },
    graceMs: windowGraceMs,
  });
  let timers: NodeJS.Timeout[] = [];

  function closeDue(): void {
    const { records } = aggregator.closeDue();
    if (records.length > 0) {
      store.add(records);
      stats.aggregates += records.length;
      for (const r of records) metrics.aggregates.labels(r.measurement).inc();
    }
    // No audit event here: how many sightings went, and when, would count the people of the
    // epoch (P9). The scheduled retention check attests the deletions, as the api does.
    held.release(aggregator.closedUpTo);
    metrics.pseudonymsHeld.set(aggregator.pseudonymsHeld());
  }

  // The gateway's handler (counts and logs as the gateway does), delivering to the aggregator
  // instead of Kafka. A refusal is counted and dropped (the stack writes it, value-free, to lethe.rejected.v1).
  const handle = createIngestHandler({
    ingest,
    metrics,
    logger,
    async deliver(result) {
      if (!result.ok) {
        stats.rejected++;
        return;
      }
      for (const out of result.records) {
        const json: unknown = JSON.parse(out.value);
        if (out.topic === TOPICS.readings) {
          aggregator.addReading(ReadingRecordSchema.parse(json));
        } else if (out.topic === TOPICS.sightings) {
          for (const sighting of sightingsOf(SightingsTopicRecordSchema.parse(json))) {
            if (aggregator.addSighting(sighting) !== 'accepted') continue;
            const epochMs = policy.kinds[sighting.kind].epoch;
            held.took(sighting.kind, sighting.epoch * epochMs, (sighting.epoch + 1) * epochMs, sighting.ts);
          }
        }
      }
      stats.accepted++;
    },
  });

  return {
    async take(topic, payload) {
      stats.received++;
      await handle(topic, payload);
    },
    start() {
      const sha256 = createHash('sha256').update(JSON.stringify(policy)).digest('hex');
      record({ type: 'policy.loaded', actor: 'gateway', data: { policyId: policy.id, version: policy.version, sha256 } });
      timers = [
        // Keys are destroyed on time even when no traffic arrives to trigger a rotation.
        setInterval(() => providers.forEach(([, p]) => p.rotate()), 1000),
        setInterval(closeDue, 500),
      ];
    },
    async stop() {
      timers.forEach(clearInterval);
      timers = [];
      closeDue();
      // Keys die with the process; zero them first so no copy lingers.
      for (const [, p] of providers) p.destroyAll();
      // Let the audit appends queued by the last destructions settle.
      await audit.records();
    },
    stats: () => ({ ...stats }),
  };
}
