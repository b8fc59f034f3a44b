// A gateway replica scaled away leaves its persistent MQTT session in the shared subscription,
// and real Mosquitto keeps sharing readings out to it. A live replica drains it
// (services/gateway/src/orphan-session.ts): every reading the gone replica's session queued is
// handed over, the session leaves the group and ends, and a failed hand-over loses nothing.
// Which replica drains which, and how replicas are found, is in services/gateway/test/replicas.test.ts
// and the compose test (`--scale gateway=3`, then 1).
import { randomUUID } from 'node:crypto';
import { devicePassword } from '@lethe/config';
import { createLogger } from '@lethe/observability';
import { READING_TOPIC_FILTER, readingTopic } from '@lethe/schemas';
import { connectAsync } from 'mqtt';
import { describe, expect, inject, it } from 'vitest';
import { startMqttSource } from '../../services/gateway/src/mqtt-source.ts';
import { drainSession } from '../../services/gateway/src/orphan-session.ts';

const infra = inject('infra');
const logger = createLogger({ service: 'test', level: 'silent' });

/** Waits until `count()` has not moved for `quietMs`. */
async function settled(count: () => number, quietMs = 2000, limitMs = 60_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  let last = -1;
  let since = Date.now();
  while (Date.now() < deadline) {
    if (count() !== last) [last, since] = [count(), Date.now()];
    else if (Date.now() - since >= quietMs) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`still moving after ${limitMs / 1000} s`);
}

describe('the MQTT session of a gateway replica that is gone', () => {
  it('is drained by a live replica: nothing it queued is lost, and it takes no share afterwards', async () => {
    const group = `orphan-${randomUUID().slice(0, 8)}`;
    const filter = `$share/${group}/${READING_TOPIC_FILTER}`;
    const connection = { url: infra.mqttUrl, username: 'lethe-gateway', password: infra.gatewayPassword };
    const live: string[] = [];
    const source = (replica: number, into: string[]) =>
      startMqttSource({
        ...connection,
        clientIdPrefix: `${group}-${replica}`,
        connections: 1,
        topicFilter: READING_TOPIC_FILTER,
        shareGroup: group,
        logger,
        handle: async (_topic, payload) => void into.push(payload.toString()),
      });
    const one = await source(1, live);
    const two = await source(2, []);
    await two.stop(); // scaled away: its session stays, subscribed
    const device = await connectAsync(infra.mqttUrl, {
      username: 'LP-0001',
      password: devicePassword(infra.fleetSecret, 'LP-0001'),
      reconnectPeriod: 0,
    });
    try {
      const published = Array.from({ length: 40 }, (_, i) => `${group}-reading-${i}`);
      for (const p of published) await device.publishAsync(readingTopic('lamppost', 'LP-0001'), p, { qos: 1 });
      await settled(() => live.length);
      // The problem: the gone replica's session took its share, queued for nobody.
      expect(live.length, 'readings the live replica got').toBeLessThan(published.length);

      // A hand-over that fails (Kafka down, say) keeps the session and what it holds.
      await expect(
        drainSession({
          ...connection,
          clientId: `${group}-2-0`,
          filter,
          logger,
          handle: async () => {
            throw new Error('Kafka is down');
          },
        }),
      ).rejects.toThrow(/session is kept/);

      const drained: string[] = [];
      const result = await drainSession({
        ...connection,
        clientId: `${group}-2-0`,
        filter,
        logger,
        quietMs: 1000,
        handle: async (_topic, payload) => void drained.push(payload.toString()),
      });
      expect(result).toEqual({ present: true, readings: published.length - live.length });
      expect([...live, ...drained].sort()).toEqual([...published].sort());

      // Out of the group: every later reading goes to the live replica.
      const later = Array.from({ length: 10 }, (_, i) => `${group}-later-${i}`);
      const before = live.length;
      for (const p of later) await device.publishAsync(readingTopic('lamppost', 'LP-0001'), p, { qos: 1 });
      await settled(() => live.length);
      expect(live.slice(before).sort()).toEqual([...later].sort());
      // And ended: the broker holds no session under its id any more.
      const again = await drainSession({ ...connection, clientId: `${group}-2-0`, filter, logger, handle: async () => undefined });
      expect(again).toEqual({ present: false, readings: 0 });
    } finally {
      await device.endAsync();
      await one.stop();
      // The live replica's session, left in the broker by stop() (persistent), is ended too.
      await drainSession({ ...connection, clientId: `${group}-1-0`, filter, logger, quietMs: 100, handle: async () => undefined }).catch(() => undefined);
    }
  });

  it('is not left behind by a replica that leaves the group when it stops: the live replicas get every reading', async () => {
    const group = `leave-${randomUUID().slice(0, 8)}`;
    const filter = `$share/${group}/${READING_TOPIC_FILTER}`;
    const connection = { url: infra.mqttUrl, username: 'lethe-gateway', password: infra.gatewayPassword };
    const live: string[] = [];
    const source = (replica: number, into: string[], leaveOnStop: boolean) =>
      startMqttSource({
        ...connection,
        clientIdPrefix: `${group}-${replica}`,
        connections: 2,
        topicFilter: READING_TOPIC_FILTER,
        shareGroup: group,
        logger,
        leaveOnStop,
        handle: async (_topic, payload) => void into.push(payload.toString()),
      });
    const one = await source(1, live, false);
    const two = await source(2, [], true);
    await two.stop();
    const device = await connectAsync(infra.mqttUrl, { username: 'LP-0001', password: devicePassword(infra.fleetSecret, 'LP-0001'), reconnectPeriod: 0 });
    try {
      const published = Array.from({ length: 30 }, (_, i) => `${group}-reading-${i}`);
      for (const p of published) await device.publishAsync(readingTopic('lamppost', 'LP-0001'), p, { qos: 1 });
      await settled(() => live.length);
      expect(live.sort()).toEqual([...published].sort());
      // Its sessions are still there (what was in flight would wait in them), holding nothing.
      for (const i of [0, 1])
        expect(await drainSession({ ...connection, clientId: `${group}-2-${i}`, filter, logger, quietMs: 500, handle: async () => undefined })).toEqual({
          present: true,
          readings: 0,
        });
    } finally {
      await device.endAsync();
      await one.stop();
      for (const i of [0, 1])
        await drainSession({ ...connection, clientId: `${group}-1-${i}`, filter, logger, quietMs: 100, handle: async () => undefined }).catch(() => undefined);
    }
  });
});
