// The bad-input catalogue (test/bad-input/catalogue.ts) through the real pipeline entrance:
// every case is published through Mosquitto as its device, interleaved with good readings of
// other devices, to the gateway running as a real process. Each refusal must arrive on
// lethe.rejected.v1 with its reason and without a value of the input, the gateway's
// lethe_gateway_messages_rejected_total{reason} and lethe_gateway_sequence_gaps_total must move
// by exactly the expected counts, every good reading must reach lethe.readings.v1 (nothing else
// lost), and the gateway must still be ready afterwards (no crash).
import { devicePassword } from '@lethe/config';
import { RejectedRecordSchema, TOPICS, type RejectReason, type RejectedRecord } from '@lethe/schemas';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { badInputCatalogue, CATALOGUE_DEVICES, GOOD_DEVICES, goodReading, type BadInputCase } from '../bad-input/catalogue.ts';
import { createCanaries } from '../support/canaries.ts';
import { startService, type RunningService } from '../support/services.ts';
import { readTopic, type TopicReader } from '../support/topic-reader.ts';
import { waitFor as waitUntil } from '../support/wait.ts';
import { counter as metric } from '../support/prom-text.ts';

const infra = inject('infra');

describe('bad input through Mosquitto, the gateway and Kafka', () => {
  let gateway: RunningService;
  const clients = new Map<string, MqttClient>();
  let rejected: TopicReader<RejectedRecord>;
  let readings: TopicReader<{ deviceId: string; seq: number; ts: number; values: Record<string, unknown> }>;
  const started = Date.now();
  /** Refusals from this moment on are ours (set once the gateway has handled what was queued before). */
  let since = Number.POSITIVE_INFINITY;

  const metrics = async () => (await fetch(`http://127.0.0.1:${gateway.port}/metrics`)).text();
  /** Messages the gateway has finished with (acknowledged after Kafka, or refused). */
  const handled = async () => metric(await metrics(), 'lethe_gateway_ack_latency_seconds_count');

  const waitFor = (what: string, condition: () => Promise<boolean>, timeoutMs = 20_000) => waitUntil(what, condition, timeoutMs, { everyMs: 50 });

  async function client(device: string): Promise<MqttClient> {
    let c = clients.get(device);
    if (!c) {
      c = await connectAsync(infra.mqttUrl, {
        username: device,
        password: devicePassword(infra.fleetSecret, device),
        clientId: `bad-input-${device}-${started}`,
        protocolVersion: 4,
        clean: true,
        reconnectPeriod: 0,
      });
      clients.set(device, c);
    }
    return c;
  }

  beforeAll(async () => {
    gateway = await startService('gateway', {
      KAFKA_BROKERS: infra.kafkaBrokers.join(','),
      MQTT_URL: infra.mqttUrl,
      MQTT_USERNAME: 'lethe-gateway',
      MQTT_PASSWORD: infra.gatewayPassword,
      // The production client ids: persistent sessions of other ids would stay in the shared
      // subscription group after the process ends and take their share of messages.
    });
    rejected = await readTopic(infra.kafkaBrokers, TOPICS.rejected, (v) => {
      const r = RejectedRecordSchema.safeParse(v);
      return r.success && r.data.receivedAt >= since ? r.data : undefined;
    });
    readings = await readTopic(infra.kafkaBrokers, TOPICS.readings, (v) => {
      const r = v as { deviceId?: string; seq?: number; ts?: number; values?: Record<string, unknown> };
      return typeof r.deviceId === 'string' && typeof r.seq === 'number' && typeof r.ts === 'number' && r.ts >= started - 60_000 && r.values
        ? (r as { deviceId: string; seq: number; ts: number; values: Record<string, unknown> })
        : undefined;
    });
  });

  afterAll(async () => {
    await Promise.all([...clients.values()].map((c) => c.endAsync()));
    await rejected?.stop();
    await readings?.stop();
    await gateway?.stop();
  });

  it('refuses, counts and redacts every case, loses no good reading and stays ready', async () => {
    // Whatever Mosquitto had queued for the gateway's persistent sessions is handled first.
    let last = -1;
    await waitFor(
      'the gateway to be idle',
      async () => {
        const now = await handled();
        const idle = now === last;
        last = now;
        if (!idle) await new Promise((r) => setTimeout(r, 500));
        return idle;
      },
      60_000,
    );
    since = Date.now();

    // Sequence numbers unique to this run, so no earlier run's readings can be mistaken for ours.
    const base = Math.floor(started / 1000) * 1000;
    const seqs = new Map<string, number>();
    const nextSeq = (device: string) => {
      const n = (seqs.get(device) ?? base) + 1;
      seqs.set(device, n);
      return n;
    };
    const canaries = createCanaries();
    const catalogue = badInputCatalogue({ now: Date.now(), canaries, nextSeq });
    const before = await metrics();
    let sent = await handled();

    const good: Array<{ deviceId: string; seq: number }> = [];
    const unreachable: string[] = [];
    const publish = async (device: string, topic: string, payload: Buffer) => {
      await (await client(device)).publishAsync(topic, payload, { qos: 1 });
      sent++;
      // One at a time, so each device's sequence reaches the gateway in order (it has several MQTT connections).
      // A reading taken in the first minute of an epoch is acknowledged at the minute's end (the write mix, P9).
      await waitFor(`the gateway to handle message ${sent}`, async () => (await handled()) >= sent, 90_000);
    };
    for (const c of catalogue) {
      if (c.mqtt === 'publish') {
        for (const m of c.messages) await publish(c.device, m.topic, m.payload);
      } else {
        // Mosquitto acknowledges a denied publish but delivers nothing: the gateway must not see it.
        for (const m of c.messages) await (await client(c.device)).publishAsync(m.topic, m.payload, { qos: 1 });
        unreachable.push(c.name);
      }
      for (const device of GOOD_DEVICES) {
        const seq = nextSeq(device);
        const m = goodReading(device, seq, Date.now());
        await publish(device, m.topic, m.payload);
        good.push({ deviceId: device, seq });
      }
    }
    await new Promise((r) => setTimeout(r, 1000));
    expect(await handled(), 'messages the ACL should have dropped reached the gateway').toBe(sent);
    expect(unreachable).toEqual(['unknown device']);

    // Refusals: the expected reasons, exactly, on the topic and in the metric.
    const published = catalogue.filter((c) => c.mqtt === 'publish');
    const expected = new Map<RejectReason, number>();
    for (const c of published)
      if (c.expected.outcome === 'rejected') expected.set(c.expected.reason, (expected.get(c.expected.reason) ?? 0) + c.messages.length);
    const total = [...expected.values()].reduce((a, b) => a + b, 0);
    await rejected.until((records) => records.length >= total, 30_000);
    await new Promise((r) => setTimeout(r, 1000));
    const counts = new Map<RejectReason, number>();
    for (const r of rejected.records) counts.set(r.reason, (counts.get(r.reason) ?? 0) + 1);
    expect(Object.fromEntries(counts)).toEqual(Object.fromEntries(expected));
    const after = await metrics();
    for (const [reason, n] of expected) {
      expect(
        metric(after, 'lethe_gateway_messages_rejected_total', { reason }) - metric(before, 'lethe_gateway_messages_rejected_total', { reason }),
        reason,
      ).toBe(n);
    }
    const gaps = published.reduce((n, c) => n + (c.expected.outcome === 'sequence-gap' ? c.expected.gaps : 0), 0);
    expect(metric(after, 'lethe_gateway_sequence_gaps_total') - metric(before, 'lethe_gateway_sequence_gaps_total')).toBe(gaps);

    // Nothing lost: every good reading, and every accepted case (each copy of a duplicate), is on the readings topic.
    const accepted = published.filter((c) => c.expected.outcome !== 'rejected');
    const forwarded = accepted.reduce((n, c) => n + c.messages.length, 0);
    const ours = (r: { deviceId: string; seq: number }) =>
      (r.seq > base && (GOOD_DEVICES as readonly string[]).includes(r.deviceId)) ||
      (r.seq > base && (CATALOGUE_DEVICES as readonly string[]).includes(r.deviceId));
    await readings.until((records) => records.filter(ours).length >= good.length + forwarded, 30_000);
    const arrived = new Set(readings.records.filter(ours).map((r) => `${r.deviceId}:${r.seq}`));
    expect(good.filter((g) => !arrived.has(`${g.deviceId}:${g.seq}`))).toEqual([]);
    expect(readings.records.filter(ours)).toHaveLength(good.length + forwarded);

    // No value of any case in a refusal, a forwarded reading, the gateway's log or its metrics.
    const everything = [JSON.stringify(rejected.records), JSON.stringify(readings.records.filter(ours)), gateway.output(), after].join('\n');
    const leaks = (c: BadInputCase) => c.canaries.filter((canary) => everything.includes(canary));
    expect(catalogue.flatMap((c) => leaks(c).map((l) => `${c.name}: ${l}`))).toEqual([]);

    // Still running and ready.
    expect(gateway.process.exitCode).toBeNull();
    expect((await fetch(`http://127.0.0.1:${gateway.port}/readyz`)).status).toBe(200);
  }, 240_000);
});
