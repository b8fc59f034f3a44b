// The demo's own Prometheus metrics (the api's lethe_api_* metrics share the registry). Label
// values are closed sets: device kinds, reject reasons, measurements.
import { Counter, presenceCounter, presenceGauge, type Registry } from '@lethe/observability';
import { REJECT_REASONS } from '@lethe/schemas';

export function createDemoMetrics(registry: Registry) {
  const registers = [registry];
  const rejected = new Counter({
    name: 'lethe_demo_messages_rejected_total',
    help: 'MQTT messages the ingest stage refused, by reason (counted, never kept)',
    labelNames: ['reason'] as const,
    registers,
  });
  for (const reason of REJECT_REASONS) rejected.labels(reason).inc(0);
  return {
    received: new Counter({ name: 'lethe_demo_messages_received_total', help: 'MQTT messages the in-process gateway received', registers }),
    forwarded: new Counter({
      name: 'lethe_demo_readings_accepted_total',
      help: 'Readings the ingest stage accepted, by device kind',
      labelNames: ['kind'] as const,
      registers,
    }),
    rejected,
    // Move with people: exported in whole blocks (presence-metrics.ts, P9).
    sightings: presenceCounter({
      name: 'lethe_demo_sightings_pseudonymized_total',
      help: 'Direct identifiers replaced by epoch pseudonyms, in whole blocks of 1000',
      registers,
    }),
    droppedFields: new Counter({ name: 'lethe_demo_fields_dropped_total', help: 'Fields removed by data minimization', registers }),
    aggregates: new Counter({
      name: 'lethe_demo_aggregates_total',
      help: 'Anonymous aggregates stored, by measurement',
      labelNames: ['measurement'] as const,
      registers,
    }),
    keysDestroyed: new Counter({ name: 'lethe_demo_pseudonym_keys_destroyed_total', help: 'Epoch keys zeroed and dropped', registers }),
    pseudonymsHeld: presenceGauge({
      name: 'lethe_demo_pseudonyms_held',
      help: 'Pseudonyms held in the aggregator (per-person state, dropped when the epoch ends), rounded down to a block of 1000',
      registers,
    }),
    aclDenied: new Counter({
      name: 'lethe_demo_mqtt_acl_denied_total',
      help: 'MQTT publishes or subscriptions the ACL refused',
      labelNames: ['action'] as const,
      registers,
    }),
  };
}

export type DemoMetrics = ReturnType<typeof createDemoMetrics>;
