// Every case of the bad-input catalogue (test/bad-input/catalogue.ts) through the gateway's
// own handler — the ingest stage, its metrics and its log — with Kafka replaced by a recorder:
// refused with the expected reason and a redacted record, counted, logged without a value of
// the input, and the stage still takes a good reading afterwards. Duplicates are fed on into
// the processor's aggregator, which must count them once.
import { Writable } from 'node:stream';
import { createLogger, createMetricsRegistry } from '@lethe/observability';
import {
  createAggregator,
  createBudgetLedger,
  createIngestStage,
  createKindKeyProviders,
  createNoiseSource,
  createPseudonymizers,
  DEFAULT_POLICY_PATH,
  loadPolicy,
  ManualClock,
} from '@lethe/privacy';
import {
  DEFAULT_FLEET_PATH,
  loadFleet,
  ReadingRecordSchema,
  REJECT_REASONS,
  RejectedRecordSchema,
  sightingsOf,
  SightingsRecordSchema,
  TOPICS,
} from '@lethe/schemas';
import { describe, expect, it } from 'vitest';
import { createGateway } from '../../services/gateway/src/gateway.ts';
import { createGatewayMetrics } from '../../services/gateway/src/metrics.ts';
import { badInputCatalogue, GOOD_DEVICES, goodReading, type BadInputCase } from '../bad-input/catalogue.ts';
import { createCanaries } from '../support/canaries.ts';

const NOW = Date.UTC(2026, 0, 1, 8, 0, 30);
const policy = loadPolicy(DEFAULT_POLICY_PATH);
const fleet = loadFleet(DEFAULT_FLEET_PATH);
const clock = new ManualClock(NOW);
const pseudonymizers = createPseudonymizers(policy, createKindKeyProviders(policy, { clock }));
const ingest = createIngestStage({ policy, fleet, pseudonymizers, clock });

const sent: Array<{ topic: string; key: string; value: string }> = [];
const producer = { send: async (records: typeof sent) => void sent.push(...records), flush: async () => {} };
const registry = createMetricsRegistry('gateway');
const metrics = createGatewayMetrics(registry);
let logged = '';
const logger = createLogger({
  service: 'gateway',
  level: 'debug',
  destination: new Writable({ write: (chunk, _enc, done) => ((logged += String(chunk)), done()) }),
});
// Its readings are stamped long ago, so none falls in a write mix that is still open (P9).
const { handle } = createGateway({ ingest, policy, producer, metrics, logger });

const seqs = new Map<string, number>();
const nextSeq = (device: string) => {
  const n = (seqs.get(device) ?? 1000) + 1;
  seqs.set(device, n);
  return n;
};
/** Good readings of a catalogue device use numbers far above the catalogue's, so they never look like a gap. */
const goodSeqs = new Map<string, number>();
const goodSeq = (device: string) => {
  const n = (goodSeqs.get(device) ?? 900_000) + 1;
  goodSeqs.set(device, n);
  return n;
};
const canaries = createCanaries();
const catalogue = badInputCatalogue({ now: NOW, canaries, nextSeq });
const prototypeNames = Object.getOwnPropertyNames(Object.prototype).sort();

async function counter(name: string, labels: Record<string, string>): Promise<number> {
  const metric = await registry.getSingleMetric(name)!.get();
  return metric.values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((sum, v) => sum + v.value, 0);
}

/** Sends a case's messages through the gateway and returns what reached the Kafka recorder, the log and the metrics. */
async function run(c: BadInputCase) {
  const from = sent.length;
  const logFrom = logged.length;
  for (const m of c.messages) await handle(m.topic, m.payload);
  return { records: sent.slice(from), log: logged.slice(logFrom), metrics: await registry.metrics() };
}

function expectNoCanary(c: BadInputCase, where: string, text: string): void {
  for (const canary of c.canaries) expect(text.includes(canary), `${c.name}: "${canary}" found in ${where}`).toBe(false);
}

describe('the bad-input catalogue', () => {
  it('has at least 20 cases, each with a distinct name and a place that handles it', () => {
    expect(catalogue.length).toBeGreaterThanOrEqual(20);
    expect(new Set(catalogue.map((c) => c.name)).size).toBe(catalogue.length);
    for (const c of catalogue) {
      expect(c.messages.length, c.name).toBeGreaterThan(0);
      expect(c.expected.handledBy, c.name).not.toBe('');
    }
    const reasons = new Set(catalogue.flatMap((c) => (c.expected.outcome === 'rejected' ? [c.expected.reason] : [])));
    expect(
      [...REJECT_REASONS].filter((r) => !reasons.has(r)),
      'reasons without a case',
    ).toEqual([]);
  });

  describe.each(catalogue.map((c) => [`${c.name} → ${c.expected.outcome === 'rejected' ? c.expected.reason : c.expected.outcome}`, c] as const))(
    '%s',
    (_title, c) => {
      it('gets its outcome, with no input value in any record, log line or metric, and the gateway keeps working', async () => {
        const expected = c.expected;
        const rejectedBefore = expected.outcome === 'rejected' ? await counter('lethe_gateway_messages_rejected_total', { reason: expected.reason }) : 0;
        const gapsBefore = await counter('lethe_gateway_sequence_gaps_total', {});
        const { records, log, metrics: exposition } = await run(c);

        if (expected.outcome === 'rejected') {
          expect(records.map((r) => r.topic)).toEqual(c.messages.map(() => TOPICS.rejected));
          for (const r of records) {
            const rejected = RejectedRecordSchema.parse(JSON.parse(r.value));
            expect(rejected.reason).toBe(expected.reason);
            expect(rejected.detail).toMatch(expected.detail);
            expectNoCanary(c, 'the rejected record', r.value);
          }
          expect(await counter('lethe_gateway_messages_rejected_total', { reason: expected.reason })).toBe(rejectedBefore + c.messages.length);
          expect(log.match(/"rejected a message"/g)?.length ?? 0).toBe(c.messages.length);
        } else {
          const readings = records.filter((r) => r.topic === TOPICS.readings).map((r) => ReadingRecordSchema.parse(JSON.parse(r.value)));
          const sightings = records.filter((r) => r.topic === TOPICS.sightings).flatMap((r) => sightingsOf(SightingsRecordSchema.parse(JSON.parse(r.value))));
          expect(readings).toHaveLength(c.messages.length);
          expect(records.filter((r) => r.topic === TOPICS.rejected)).toEqual([]);
          for (const r of readings) {
            expect(r.deviceId).toBe(c.device);
            // Default deny: only fields the policy keeps.
            for (const field of Object.keys(r.values)) expect(policy.kinds[r.kind].fields[field]?.treatment, `${c.name}: ${field}`).toBe('keep');
          }
          if (expected.outcome === 'accepted' && expected.sightings !== undefined) expect(sightings).toHaveLength(expected.sightings);
          if (expected.outcome === 'accepted' && expected.ts !== undefined) expect(readings.map((r) => r.ts)).toEqual([expected.ts]);
          for (const r of records) expectNoCanary(c, `a ${r.topic} record`, r.key + r.value);
          if (expected.outcome === 'deduplicated') {
            const aggregator = createAggregator({ policy, clock, noise: createNoiseSource(Buffer.alloc(32, 1)), ledger: createBudgetLedger() });
            const outcomes = readings.map((r) => aggregator.addReading(r));
            expect(outcomes.filter((o) => o === 'accepted')).toHaveLength(expected.distinct);
            expect(outcomes.filter((o) => o !== 'accepted')).toEqual(Array(c.messages.length - expected.distinct).fill('duplicate'));
          }
          expect(await counter('lethe_gateway_sequence_gaps_total', {})).toBe(gapsBefore + (expected.outcome === 'sequence-gap' ? expected.gaps : 0));
        }
        expectNoCanary(c, 'the log', log);
        expectNoCanary(c, 'the metrics', exposition);
        expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeNames);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();

        // Nothing is stuck: good readings of other devices, and of the case's own device, still go through.
        for (const device of [...GOOD_DEVICES, c.device]) {
          const good = goodReading(device, goodSeq(device), NOW);
          const before = sent.length;
          await handle(good.topic, good.payload);
          expect(
            sent.slice(before).map((r) => r.topic),
            `${c.name}: a good ${device} reading afterwards`,
          ).toEqual([TOPICS.readings]);
        }
      });
    },
  );

  it('leaves Object.prototype untouched after the whole catalogue', () => {
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeNames);
    for (const name of ['polluted', 'deviceId', 'mac']) expect(name in {}).toBe(false);
  });
});
