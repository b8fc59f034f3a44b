import { Counter, Gauge, Histogram, type Registry } from '@lethe/observability';

export function createProcessorMetrics(registry: Registry) {
  return {
    records: new Counter({
      name: 'lethe_processor_records_total',
      help: 'Records consumed, by topic and outcome (accepted, duplicate, late, expired, invalid)',
      labelNames: ['topic', 'outcome'] as const,
      registers: [registry],
    }),
    aggregates: new Counter({ name: 'lethe_processor_aggregates_emitted_total', help: 'Anonymous aggregates emitted', labelNames: ['measurement'] as const, registers: [registry] }),
    openWindows: new Gauge({ name: 'lethe_processor_open_windows', help: 'Windows currently open', registers: [registry] }),
    pseudonymsHeld: new Gauge({ name: 'lethe_processor_pseudonyms_held', help: 'Pseudonyms held in memory across open windows (per-person state)', registers: [registry] }),
    closeLag: new Histogram({
      name: 'lethe_processor_window_emit_lag_seconds',
      help: 'From a window end to its aggregates being acknowledged by Kafka',
      buckets: [0.5, 1, 2, 5, 7.5, 10, 15, 30, 60],
      registers: [registry],
    }),
  };
}

export type ProcessorMetrics = ReturnType<typeof createProcessorMetrics>;
