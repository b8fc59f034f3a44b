import { createLogger, createMetricsRegistry } from '@lethe/observability';
import { DEFAULT_POLICY_PATH, loadPolicy, type IngestStage } from '@lethe/privacy';
import { describe, expect, it } from 'vitest';
import { createGateway, createIngestHandler } from '../src/gateway.ts';
import { createGatewayMetrics, createIngestMetrics, type IngestMetrics } from '../src/metrics.ts';

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

describe('the ingest handler (the gateway’s, and the demo’s in front of its in-process processor)', () => {
  const accepted = {
    ok: true,
    kind: 'lamppost',
    deviceId: 'LP-0001',
    seq: 1,
    ts: 0,
    records: [],
    sightings: 2,
    mergedSightings: 1,
    droppedFields: 3,
    droppedSightings: { late: 0, keyDestroyed: 0 },
  };
  const counts = async (metrics: IngestMetrics) =>
    Object.fromEntries(
      await Promise.all(
        (['received', 'forwarded', 'rejected', 'droppedFields'] as const).map(async (name) => [
          name,
          (await metrics[name].get()).values.reduce((n, v) => n + v.value, 0),
        ]),
      ),
    );

  it('counts a message as forwarded or refused only once delivered, and a failed delivery only as received', async () => {
    const metrics = createIngestMetrics(createMetricsRegistry('demo'), 'demo');
    const logger = createLogger({ service: 'test', level: 'silent' });
    const results = [accepted, { ok: false, rejected: { reason: 'malformed-json', detail: 'test', topic: 't' }, record: {} }];
    const fake: IngestStage = { ingest: async () => results.shift() as never };
    const delivered: boolean[] = [];
    const handle = createIngestHandler({ ingest: fake, metrics, logger, deliver: async (result) => void delivered.push(result.ok) });
    expect((await handle('t', Buffer.from('x'))).ok).toBe(true);
    expect((await handle('t', Buffer.from('x'))).ok).toBe(false);
    expect(delivered).toEqual([true, false]);
    expect(await counts(metrics)).toEqual({ received: 2, forwarded: 1, rejected: 1, droppedFields: 3 });

    const failing = createIngestHandler({ ingest: { ingest: async () => accepted as never }, metrics, logger, deliver: () => Promise.reject(new Error('no')) });
    await expect(failing('t', Buffer.from('x'))).rejects.toThrow('no');
    expect(await counts(metrics)).toEqual({ received: 3, forwarded: 1, rejected: 1, droppedFields: 3 });
  });
});
