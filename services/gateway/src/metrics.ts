// The gateway's Prometheus metrics. What the ingest handler counts (gateway.ts) is a set of its
// own, named after the service that runs it: `pnpm demo` runs the same handler as lethe_demo_*.
// Label values are closed sets: device kinds, reject reasons.
import { DEVICE_KINDS, REJECT_REASONS } from '@lethe/schemas';
import { Counter, Gauge, Histogram, presenceCounter, type Registry } from '@lethe/observability';

export function createIngestMetrics(registry: Registry, service: 'gateway' | 'demo') {
  const registers = [registry];
  const rejected = new Counter({
    name: `lethe_${service}_messages_rejected_total`,
    help: 'MQTT messages refused, by reason (counted; their values are never kept)',
    labelNames: ['reason'] as const,
    registers,
  });
  for (const reason of REJECT_REASONS) rejected.labels(reason).inc(0);
  return {
    received: new Counter({ name: `lethe_${service}_messages_received_total`, help: 'MQTT messages received', registers }),
    forwarded: new Counter({
      name: `lethe_${service}_messages_forwarded_total`,
      help: 'Readings accepted and handed to the processor (through Kafka, or in-process in the demo), by device kind',
      labelNames: ['kind'] as const,
      registers,
    }),
    rejected,
    // Identifiers move with people: exported in whole blocks (presence-metrics.ts, P9).
    sightings: presenceCounter({
      name: `lethe_${service}_sightings_pseudonymized_total`,
      help: 'Direct identifiers replaced by epoch pseudonyms (in whole blocks of 1000: an exact count would count people)',
      registers,
    }),
    droppedSightings: presenceCounter({
      name: `lethe_${service}_sightings_dropped_total`,
      help: 'Sightings not kept: late (older than the policy max lateness) or key_destroyed (their epoch key is gone); in whole blocks of 1000',
      labelNames: ['reason'] as const,
      registers,
    }),
    droppedFields: new Counter({ name: `lethe_${service}_fields_dropped_total`, help: 'Fields removed by data minimization', registers }),
    keysDestroyed: new Counter({ name: `lethe_${service}_pseudonym_keys_destroyed_total`, help: 'Epoch keys zeroed and dropped', registers }),
  };
}

export type IngestMetrics = ReturnType<typeof createIngestMetrics>;

export function createGatewayMetrics(registry: Registry) {
  const sequenceGaps = new Counter({
    name: 'lethe_gateway_sequence_gaps_total',
    help: "Readings missing from a device's sequence (numbers skipped), by device kind; observed, not refused",
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  for (const kind of DEVICE_KINDS) sequenceGaps.labels(kind).inc(0);
  return {
    ...createIngestMetrics(registry, 'gateway'),
    sequenceGaps,
    kafkaErrors: new Counter({
      name: 'lethe_gateway_kafka_send_errors_total',
      help: 'Failed Kafka sends (retried; the MQTT message stays unacknowledged)',
      registers: [registry],
    }),
    writeMixOverflows: new Counter({
      name: 'lethe_gateway_write_mix_overflows_total',
      help: 'Write mixes (P9) written early because they were full (half of what the MQTT connections may leave unacknowledged); add connections or gateways',
      registers: [registry],
    }),
    orphanSessionsDrained: new Counter({
      name: 'lethe_gateway_orphan_sessions_drained_total',
      help: 'MQTT sessions of gateway replicas scaled away, taken over, emptied into the pipeline and ended (src/orphan-session.ts)',
      registers: [registry],
    }),
    liveKeys: new Gauge({ name: 'lethe_gateway_pseudonym_keys_live', help: 'Epoch keys currently held in memory', registers: [registry] }),
    ackLatency: new Histogram({
      name: 'lethe_gateway_ack_latency_seconds',
      help: "From MQTT message arrival until Kafka has what it became (its PUBACK then goes out in arrival order, after any earlier reading's)",
      // Up to a minute: readings of the first slot of an epoch wait for the write mix (P9).
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30, 60],
      registers: [registry],
    }),
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
