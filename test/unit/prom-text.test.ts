// The one reader of the services' Prometheus text, shared by the tests and the bench.
import { describe, expect, it } from 'vitest';
import { counter, histogram, histogramDelta, histogramQuantile, samples } from '../support/prom-text.ts';

const TEXT = `# HELP lethe_gateway_messages_rejected_total Messages refused.
# TYPE lethe_gateway_messages_rejected_total counter
lethe_gateway_messages_rejected_total{reason="schema"} 3
lethe_gateway_messages_rejected_total{reason="schema_version"} 5
lethe_gateway_messages_rejected_total{reason="payload_too_large"} 1
lethe_gateway_messages_rejected_total_extra 100
lethe_processor_releaser_active 1
lethe_ack_seconds_bucket{le="0.1"} 2
lethe_ack_seconds_bucket{le="1"} 8
lethe_ack_seconds_bucket{le="+Inf"} 10
lethe_ack_seconds_sum 4.5
lethe_ack_seconds_count 10
`;

describe('the Prometheus text reader', () => {
  it('matches a metric by its whole name and its labels by exact value', () => {
    expect(counter(TEXT, 'lethe_gateway_messages_rejected_total')).toBe(9);
    // "schema" is not "schema_version", and a longer metric name is another metric.
    expect(counter(TEXT, 'lethe_gateway_messages_rejected_total', { reason: 'schema' })).toBe(3);
    expect(counter(TEXT, 'lethe_gateway_messages_rejected_total', { reason: 'nothing' })).toBe(0);
    expect(samples(TEXT, 'lethe_processor_releaser_active')).toEqual([{ labels: {}, value: 1 }]);
  });

  it('reads a histogram as cumulative buckets, and its quantiles over the difference of two scrapes', () => {
    const after = histogram(TEXT, 'lethe_ack_seconds');
    expect(after).toEqual({
      buckets: [
        { le: 0.1, count: 2 },
        { le: 1, count: 8 },
        { le: Infinity, count: 10 },
      ],
      count: 10,
      sum: 4.5,
    });
    const before = histogram(
      TEXT.replace('{le="1"} 8', '{le="1"} 2').replace('{le="+Inf"} 10', '{le="+Inf"} 2').replace('_count 10', '_count 2'),
      'lethe_ack_seconds',
    );
    const window = histogramDelta(after, before);
    // Between the scrapes: 6 in (0.1, 1], 2 above 1 s; the median is in the middle bucket.
    expect(window.count).toBe(8);
    expect(histogramQuantile(window, 0.5)).toBeCloseTo(0.1 + 0.9 * (4 / 6));
    expect(histogramQuantile(window, 0.99)).toBe(Infinity);
  });
});
