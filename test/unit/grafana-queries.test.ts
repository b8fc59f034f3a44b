// The dashboards' PromQL queries are rewritten the way Grafana rewrites them before the e2e
// test sends them to Prometheus, and the test's Prometheus config is the compose one with
// loopback targets.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { asGrafanaSendsPromQL, dashboardPromQueries, dashboardQueries, labelValuesQuery, rateIntervalSeconds } from '../support/grafana-queries.ts';
import { testPrometheusConfig } from '../support/prometheus.ts';

const context = {
  start: new Date('2026-01-01T00:00:00Z'),
  stop: new Date('2026-01-01T01:00:00Z'),
  intervalSeconds: 15,
  scrapeIntervalSeconds: 15,
  variables: { service: '.*' },
};

describe('PromQL queries as Grafana sends them', () => {
  it('derives $__rate_interval as Grafana does: max($__interval + scrape interval, 4 × scrape interval)', () => {
    expect(rateIntervalSeconds({ intervalSeconds: 15, scrapeIntervalSeconds: 15 })).toBe(60);
    expect(rateIntervalSeconds({ intervalSeconds: 120, scrapeIntervalSeconds: 15 })).toBe(135);
    expect(rateIntervalSeconds({ intervalSeconds: 2, scrapeIntervalSeconds: 1 })).toBe(4);
  });

  it('substitutes the interval and range macros and template variables', () => {
    expect(asGrafanaSendsPromQL('sum by (service) (rate(x_total{service=~"${service}"}[$__rate_interval]))', context)).toBe(
      'sum by (service) (rate(x_total{service=~".*"}[60s]))',
    );
    expect(asGrafanaSendsPromQL('increase(x_total[$__range]) / $__interval_ms + $__range_s + avg_over_time(y[$__interval])', context)).toBe(
      'increase(x_total[3600s]) / 15000 + 3600 + avg_over_time(y[15s])',
    );
    expect(asGrafanaSendsPromQL('up{service=~"$service"}', context)).toBe('up{service=~".*"}');
  });

  it('fails on a variable or macro it cannot substitute, instead of sending it to Prometheus', () => {
    expect(() => asGrafanaSendsPromQL('up{stream=~"${stream}"}', context)).toThrow(/stream/);
    expect(() => asGrafanaSendsPromQL('rate(x[$__unknown])', context)).toThrow(/__unknown/);
  });

  it('reads label_values() variable queries', () => {
    expect(labelValuesQuery('label_values(up{job=~"lethe.*"}, service)')).toEqual({ label: 'service', match: 'up{job=~"lethe.*"}' });
    expect(labelValuesQuery('label_values(service)')).toEqual({ label: 'service' });
    expect(labelValuesQuery('up')).toBeUndefined();
  });

  it('finds the queries of every provisioned dashboard, Flux and PromQL apart', () => {
    const prom = dashboardPromQueries();
    const flux = dashboardQueries();
    expect(new Set(prom.map((q) => q.dashboard))).toEqual(new Set(['pipeline-health.json', 'privacy.json']));
    expect(new Set(flux.map((q) => q.dashboard))).toEqual(new Set(['city-overview.json', 'privacy.json']));
    expect(prom.every((q) => !q.expr.includes('from(bucket'))).toBe(true);
    expect(prom.some((q) => q.title === 'variable service')).toBe(true);
  });
});

describe('the test Prometheus config', () => {
  const compose = readFileSync(new URL('../../infra/prometheus/prometheus.yml', import.meta.url), 'utf8');

  it('keeps the compose jobs, labels and honor_labels, with loopback targets and a short interval', () => {
    const config = parse(testPrometheusConfig(compose, { gateway: 1001, writer: 1003, api: 1004 }, 9999, 1)) as {
      global: Record<string, string>;
      scrape_configs: Array<{ job_name: string; honor_labels?: boolean; static_configs: Array<{ targets: string[]; labels?: Record<string, string> }> }>;
    };
    expect(config.global).toMatchObject({ scrape_interval: '1s', scrape_timeout: '1s' });
    const targets = Object.fromEntries(config.scrape_configs.flatMap((j) => j.static_configs.map((s) => [s.labels?.service ?? j.job_name, s.targets])));
    expect(targets).toEqual({ gateway: ['127.0.0.1:1001'], writer: ['127.0.0.1:1003'], api: ['127.0.0.1:1004'], prometheus: ['127.0.0.1:9999'] });
    expect(config.scrape_configs.find((j) => j.job_name === 'lethe')?.honor_labels).toBe(true);
  });

  it('refuses a service that prometheus.yml does not scrape', () => {
    expect(() => testPrometheusConfig(compose, { simulator: 1 }, 9999, 1)).toThrow(/service=simulator/);
  });
});
