import { Counter, Gauge, Histogram, type Registry } from '@lethe/observability';

export function createWriterMetrics(registry: Registry) {
  return {
    written: new Counter({ name: 'lethe_writer_points_written_total', help: 'Points accepted by InfluxDB', registers: [registry] }),
    invalid: new Counter({ name: 'lethe_writer_records_invalid_total', help: 'Kafka records that are not valid aggregates (skipped)', registers: [registry] }),
    rejected: new Counter({ name: 'lethe_writer_points_rejected_total', help: 'Points InfluxDB refused as invalid (4xx, not retried)', registers: [registry] }),
    writeErrors: new Counter({ name: 'lethe_writer_write_errors_total', help: 'Failed InfluxDB writes that were retried', registers: [registry] }),
    commitErrors: new Counter({
      name: 'lethe_writer_commit_errors_total',
      help: 'Offset commits Kafka refused (the batch is read and written again)',
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: 'lethe_writer_consumer_lag_records',
      help: 'Aggregates in a partition not yet written and committed (high watermark minus the committed offset), as of the last batch',
      labelNames: ['topic', 'partition'] as const,
      registers: [registry],
    }),
    writeLatency: new Histogram({
      name: 'lethe_writer_write_duration_seconds',
      help: 'Duration of one InfluxDB write of a Kafka batch',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
  };
}

export type WriterMetrics = ReturnType<typeof createWriterMetrics>;
