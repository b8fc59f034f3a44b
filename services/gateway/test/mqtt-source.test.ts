// The gateway's own PUBACKs (mqtt-source.ts), against a scripted broker that speaks MQTT 3.1.1
// through mqtt-packet (the codec mqtt.js itself uses): a reading is acknowledged only once
// `handle` resolved, acknowledgements go out in arrival order, a failed hand-over acknowledges
// nothing more on that connection and reconnects, and at most MAX_IN_FLIGHT readings wait per connection.
// The fault suite and the bench exercise the same path against real Mosquitto; this pins the
// protocol details down where they can be seen packet by packet.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createLogger } from '@lethe/observability';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { acknowledgeAfterHandling, MAX_IN_FLIGHT, startMqttSource, type MqttSource } from '../src/mqtt-source.ts';

interface Connection {
  socket: Socket;
  received: Packet[];
  closed: boolean;
}

/** A broker that accepts any client, grants every subscription, and lets the test publish and watch. */
async function scriptedBroker() {
  const connections: Connection[] = [];
  const server: Server = createServer((socket) => {
    const connection: Connection = { socket, received: [], closed: false };
    connections.push(connection);
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (packet: Packet) => {
      connection.received.push(packet);
      if (packet.cmd === 'connect') socket.write(mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }));
      if (packet.cmd === 'subscribe')
        socket.write(mqttPacket.generate({ cmd: 'suback', messageId: packet.messageId, granted: packet.subscriptions.map(() => 1) }));
      if (packet.cmd === 'pingreq') socket.write(mqttPacket.generate({ cmd: 'pingresp' }));
    });
    socket.on('data', (chunk) => parser.parse(chunk));
    socket.on('close', () => (connection.closed = true));
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections,
    publish(connection: Connection, messageId: number) {
      connection.socket.write(
        mqttPacket.generate({
          cmd: 'publish',
          topic: 'lethe/v1/lamppost/LP-0001/reading',
          payload: Buffer.from(String(messageId)),
          qos: 1,
          messageId,
          retain: false,
          dup: false,
        }),
      );
    },
    pubacks: (connection: Connection) => connection.received.flatMap((p) => (p.cmd === 'puback' ? [p.messageId] : [])),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function until(what: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** `handle` whose promise per reading (keyed by its payload, the message id) the test settles. */
function controlledHandle() {
  const pending = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  const handled: number[] = [];
  return {
    handled,
    handle: (_topic: string, payload: Buffer) =>
      new Promise<void>((resolve, reject) => {
        const id = Number(payload.toString());
        handled.push(id);
        pending.set(id, { resolve, reject });
      }),
    resolve: (id: number) => pending.get(id)!.resolve(),
    reject: (id: number) => pending.get(id)!.reject(new Error('Kafka is down')),
  };
}

let source: MqttSource | undefined;
let broker: Awaited<ReturnType<typeof scriptedBroker>> | undefined;
afterEach(async () => {
  await source?.stop().catch(() => undefined);
  await broker?.close();
  source = undefined;
  broker = undefined;
});

async function start(handle: (topic: string, payload: Buffer) => Promise<void>) {
  broker = await scriptedBroker();
  source = await startMqttSource({
    url: broker.url,
    username: 'lethe-gateway',
    password: 'test-only',
    clientIdPrefix: 'gw-test',
    connections: 1,
    topicFilter: 'lethe/v1/+/+/reading',
    shareGroup: 'lethe-gateway',
    logger: createLogger({ service: 'test', level: 'silent' }),
    handle,
  });
  const b = broker;
  await until('the subscription', () => b.connections[0]?.received.some((p) => p.cmd === 'subscribe') ?? false);
  return { broker: b, connection: b.connections[0]! };
}

const settle = () => new Promise((r) => setTimeout(r, 100));

describe('the MQTT source', () => {
  it('acknowledges a reading only once handed over, and in the order readings arrived', async () => {
    const h = controlledHandle();
    const { broker: b, connection } = await start(h.handle);
    for (const id of [1, 2, 3, 4, 5]) b.publish(connection, id);
    await until('five readings handed over', () => h.handled.length === 5);
    await settle();
    expect(b.pubacks(connection)).toEqual([]);

    h.resolve(3);
    await settle();
    expect(b.pubacks(connection), 'reading 3 waits for 1 and 2').toEqual([]);
    h.resolve(1);
    await until('PUBACK 1', () => b.pubacks(connection).length === 1);
    h.resolve(2);
    await until('PUBACKs 2 and 3', () => b.pubacks(connection).length === 3);
    h.resolve(5);
    await settle();
    h.resolve(4);
    await until('PUBACKs 4 and 5', () => b.pubacks(connection).length === 5);
    expect(b.pubacks(connection)).toEqual([1, 2, 3, 4, 5]);
  });

  it('after a failed hand-over acknowledges nothing more on that connection, and reconnects and subscribes again', async () => {
    const h = controlledHandle();
    const { broker: b, connection } = await start(h.handle);
    for (const id of [1, 2, 3]) b.publish(connection, id);
    await until('three readings handed over', () => h.handled.length === 3);
    h.resolve(1);
    h.reject(2);
    await until('the connection closed', () => connection.closed);
    h.resolve(3);
    await settle();
    // Reading 2 and the one after it stay unacknowledged: the broker redelivers both.
    expect(b.pubacks(connection)).toEqual([1]);
    await until('a new connection', () => b.connections.length === 2, 10_000);
    await until('a new subscription', () => b.connections[1]!.received.some((p) => p.cmd === 'subscribe'));
    const again = b.connections[1]!;
    b.publish(again, 2);
    await until('the redelivery handed over', () => h.handled.filter((id) => id === 2).length === 2);
    h.resolve(2);
    await until('PUBACK 2 on the new connection', () => b.pubacks(again).length === 1);
    expect(b.pubacks(again)).toEqual([2]);
  });

  it(`stops reading at ${MAX_IN_FLIGHT} readings waiting on a connection, and goes on as they are acknowledged`, async () => {
    const h = controlledHandle();
    const { broker: b, connection } = await start(h.handle);
    for (let id = 1; id <= MAX_IN_FLIGHT + 50; id++) b.publish(connection, id);
    await until(`${MAX_IN_FLIGHT} readings handed over`, () => h.handled.length === MAX_IN_FLIGHT);
    await settle();
    expect(h.handled).toHaveLength(MAX_IN_FLIGHT);
    h.resolve(1);
    await until('one more handed over', () => h.handled.length === MAX_IN_FLIGHT + 1);
    await settle();
    expect(h.handled).toHaveLength(MAX_IN_FLIGHT + 1);
    expect(b.pubacks(connection)).toEqual([1]);
  });

  it('writes the PUBACKs of readings a Kafka batch settled at once in one socket write, in arrival order', async () => {
    const writes: Buffer[] = [];
    const client = { stream: { write: (b: Buffer) => writes.push(b) }, connected: true, on: () => undefined } as unknown as MqttClient;
    const h = controlledHandle();
    acknowledgeAfterHandling(client, h.handle, createLogger({ service: 'test', level: 'silent' }));
    for (const id of [1, 2, 3, 4, 5])
      client.handleMessage({ cmd: 'publish', qos: 1, messageId: id, topic: 't', payload: Buffer.from(String(id)), dup: false, retain: false }, () => undefined);
    for (const id of [3, 1, 5, 2]) h.resolve(id);
    await settle();
    expect(writes.map((w) => [...w])).toEqual([[0x40, 2, 0, 1, 0x40, 2, 0, 2, 0x40, 2, 0, 3]]);
    h.resolve(4);
    await settle();
    expect(writes.map((w) => [...w])).toEqual([
      [0x40, 2, 0, 1, 0x40, 2, 0, 2, 0x40, 2, 0, 3],
      [0x40, 2, 0, 4, 0x40, 2, 0, 5],
    ]);
  });
});
