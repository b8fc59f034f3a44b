import { DEVICE_KINDS, REJECT_REASONS } from '@lethe/schemas';
import { Counter, Gauge, Histogram, presenceCounter, type Registry } from '@lethe/observability';

export function createGatewayMetrics(registry: Registry) {
  const rejected = new Counter({
    name: 'lethe_gateway_messages_rejected_total',
    help: 'MQTT messages refused, by reason; each went to the rejected-messages topic',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  for (const reason of REJECT_REASONS) rejected.labels(reason).inc(0);
  const sequenceGaps = new Counter({
    name: 'lethe_gateway_sequence_gaps_total',
    help: "Readings missing from a device's sequence (numbers skipped), by device kind; observed, not refused",
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  for (const kind of DEVICE_KINDS) sequenceGaps.labels(kind).inc(0);
  return {
    received: new Counter({ name: 'lethe_gateway_messages_received_total', help: 'MQTT messages received', registers: [registry] }),
    forwarded: new Counter({
      name: 'lethe_gateway_messages_forwarded_total',
      help: 'Readings forwarded to Kafka, by device kind',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    rejected,
    // Identifiers move with people: exported in whole blocks (presence-metrics.ts, P9).
    sightings: presenceCounter({
      name: 'lethe_gateway_sightings_pseudonymized_total',
      help: 'Direct identifiers replaced by epoch pseudonyms (in whole blocks of 1000: an exact count would count people)',
      registers: [registry],
    }),
    droppedSightings: presenceCounter({
      name: 'lethe_gateway_sightings_dropped_total',
      help: 'Sightings not kept: late (older than the policy max lateness) or key_destroyed (their epoch key is gone); in whole blocks of 1000',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    sequenceGaps,
    droppedFields: new Counter({ name: 'lethe_gateway_fields_dropped_total', help: 'Fields removed by data minimization', registers: [registry] }),
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
    keysDestroyed: new Counter({ name: 'lethe_gateway_pseudonym_keys_destroyed_total', help: 'Epoch keys zeroed and dropped', registers: [registry] }),
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
