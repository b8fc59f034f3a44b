// The demo's own Prometheus metrics (the api's lethe_api_* metrics share the registry): what the
// gateway's ingest handler counts, as lethe_demo_*, and what the in-process processor and the
// embedded broker add. Label values are closed sets: device kinds, reject reasons, measurements.
import { createIngestMetrics } from '@lethe/gateway';
import { Counter, presenceGauge, type Registry } from '@lethe/observability';

export function createDemoMetrics(registry: Registry) {
  const registers = [registry];
  return {
    ...createIngestMetrics(registry, 'demo'),
    aggregates: new Counter({
      name: 'lethe_demo_aggregates_total',
      help: 'Anonymous aggregates stored, by measurement',
      labelNames: ['measurement'] as const,
      registers,
    }),
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
