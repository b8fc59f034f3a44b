// A prom-client registry per service with default process metrics and a `service` label.
// Metric label values must be bounded: never a device id, pseudonym or anything personal.
import { Registry, collectDefaultMetrics } from 'prom-client';

export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'lethe_' });
  return registry;
}

export { Counter, Gauge, Histogram, Registry } from 'prom-client';
