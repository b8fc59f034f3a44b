// The api's Prometheus metrics. Label values are closed sets: route patterns (never a path with
// an id in it), status codes, requester types, reason codes, audit event types.
import { Counter, Gauge, Histogram, type Registry } from '@lethe/observability';
import { REFUSAL_REASONS } from '@lethe/privacy';

export interface ApiMetrics {
  httpRequests: Counter<'route' | 'method' | 'status'>;
  httpDuration: Histogram<'route'>;
  dataRequests: Counter<'requester_type' | 'decision'>;
  refusals: Counter<'reason'>;
  routesRefused: Counter<'route'>;
  authFailures: Counter;
  auditAppends: Counter<'type'>;
  auditAppendFailures: Counter;
  auditTopicRecords: Counter;
  retentionChecks: Counter<'topic' | 'outcome'>;
  rawDataWithinLimit: Gauge<'topic'>;
  exportedRows: Counter<'measurement'>;
}

export function createApiMetrics(registry: Registry): ApiMetrics {
  const registers = [registry];
  const metrics: ApiMetrics = {
    httpRequests: new Counter({
      name: 'lethe_api_http_requests_total',
      help: 'HTTP requests by route pattern, method and status',
      labelNames: ['route', 'method', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'lethe_api_http_request_duration_seconds',
      help: 'HTTP request duration by route pattern',
      labelNames: ['route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    dataRequests: new Counter({
      name: 'lethe_api_data_requests_total',
      help: 'Data requests by requester type and decision',
      labelNames: ['requester_type', 'decision'],
      registers,
    }),
    refusals: new Counter({
      name: 'lethe_api_data_request_refusals_total',
      help: 'Refusal reasons given to data requests (a refusal with several reasons counts under each)',
      labelNames: ['reason'],
      registers,
    }),
    routesRefused: new Counter({
      name: 'lethe_api_routes_refused_total',
      help: 'Requests refused because they would expose individual-level data, by route pattern',
      labelNames: ['route'],
      registers,
    }),
    authFailures: new Counter({ name: 'lethe_api_auth_failures_total', help: 'Data requests without a valid requester token', registers }),
    auditAppends: new Counter({ name: 'lethe_api_audit_appends_total', help: 'Events appended to the audit log, by type', labelNames: ['type'], registers }),
    auditAppendFailures: new Counter({
      name: 'lethe_api_audit_append_failures_total',
      help: 'Audit appends that failed (the request was answered 503)',
      registers,
    }),
    auditTopicRecords: new Counter({ name: 'lethe_api_audit_topic_records_total', help: 'Events consumed from the audit topic into the log', registers }),
    // Outcomes only: the age of the oldest record, or whether a topic is empty, would tell
    // whether anyone was seen in a quiet hour (P9); /metrics is served on the public port.
    retentionChecks: new Counter({
      name: 'lethe_api_retention_checks_total',
      help: 'Scheduled checks of the personal topics, by outcome: within_limit (every record younger than TTL + stated bound; an empty topic is), over_limit, failed',
      labelNames: ['topic', 'outcome'],
      registers,
    }),
    rawDataWithinLimit: new Gauge({
      name: 'lethe_api_raw_data_within_limit',
      help: 'Latest scheduled check of each personal topic: 1 when every record was younger than TTL + stated bound (an empty topic is), 0 when not',
      labelNames: ['topic'],
      registers,
    }),
    exportedRows: new Counter({
      name: 'lethe_api_exported_rows_total',
      help: 'Rows of open data served, by measurement',
      labelNames: ['measurement'],
      registers,
    }),
  };
  // Every reason exists from the start at 0, so rate() and increase() see the first refusal.
  for (const reason of REFUSAL_REASONS) metrics.refusals.labels(reason).inc(0);
  return metrics;
}
