import { createLogger, createMetricsRegistry } from '@lethe/observability';
import { DEFAULT_POLICY_PATH, loadPolicy, type IngestStage } from '@lethe/privacy';
import { describe, expect, it } from 'vitest';
import { createGateway } from '../src/gateway.ts';
import { createGatewayMetrics } from '../src/metrics.ts';

// A refusal is enough to reach the Kafka send: it goes to the rejected-messages topic.
const policy = loadPolicy(DEFAULT_POLICY_PATH);
const ingest: IngestStage = {
  ingest: async () =>
    ({ ok: false, rejected: { reason: 'malformed-json', detail: 'test', topic: 't' }, record: { topic: 'lethe.rejected.v1', key: 'k', value: '{}' } }) as never,
};

describe('the gateway handler', () => {
  it('counts a Kafka send that failed (the producer gave up or its deadline passed) and passes the failure on, so the reading is redelivered', async () => {
    const metrics = createGatewayMetrics(createMetricsRegistry('gateway-test'));
    const failing = { send: async () => Promise.reject(new Error('Kafka did not acknowledge within 50 ms')), flush: async () => undefined };
    const { handle } = createGateway({ ingest, policy, producer: failing, metrics, logger: createLogger({ service: 'test', level: 'silent' }) });
    await expect(handle('t', Buffer.from('x'))).rejects.toThrow('Kafka did not acknowledge within 50 ms');
    expect((await metrics.kafkaErrors.get()).values[0]?.value).toBe(1);
  });

  it('resolves once Kafka acknowledged', async () => {
    const metrics = createGatewayMetrics(createMetricsRegistry('gateway-test'));
    const sent: unknown[] = [];
    const producer = { send: async (records: unknown[]) => void sent.push(...records), flush: async () => undefined };
    const { handle } = createGateway({ ingest, policy, producer, metrics, logger: createLogger({ service: 'test', level: 'silent' }) });
    await handle('t', Buffer.from('x'));
    expect(sent).toHaveLength(1);
  });
});
