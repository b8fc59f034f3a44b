// The demo's gateway reads the devices' readings from the embedded broker the way the real
// gateway reads Mosquitto: as its own MQTT user, with a persistent session and a QoS 1
// subscription, acknowledging each message only once the pipeline took it. mqtt.js would send
// the PUBACK before the handler finishes, so `handleMessage` is overridden: its callback is
// what releases the PUBACK. A message the pipeline fails on is not acknowledged; the
// connection is closed and the broker delivers it again after the reconnect.
import { connectAsync, type MqttClient } from 'mqtt';
import type { Logger } from '@lethe/observability';
import { READING_TOPIC_FILTER } from '@lethe/schemas';
import { GATEWAY_USER } from './broker.ts';

export interface GatewayClientOptions {
  url: string;
  password: string;
  logger: Logger;
  take: (topic: string, payload: Buffer) => Promise<void>;
}

export interface GatewayClient {
  stop(): Promise<void>;
}

export async function startGatewayClient({ url, password, logger, take }: GatewayClientOptions): Promise<GatewayClient> {
  const client: MqttClient = await connectAsync(url, {
    clientId: 'lethe-demo-gateway',
    username: GATEWAY_USER,
    password,
    clean: false,
    protocolVersion: 4,
    reconnectPeriod: 1000,
  });
  client.handleMessage = (packet, callback) => {
    take(packet.topic, packet.payload as Buffer).then(
      () => callback(),
      (err: unknown) => {
        logger.error({ err: { message: (err as Error).message } }, 'the pipeline did not take a reading; reconnecting without acknowledging it');
        client.end(true, () => client.reconnect());
      },
    );
  };
  client.on('error', (err) => logger.warn({ err: { message: err.message } }, 'mqtt error'));
  const granted = await client.subscribeAsync(READING_TOPIC_FILTER, { qos: 1 });
  if (granted.some((g) => g.qos !== 1)) throw new Error(`the broker did not grant the gateway's subscription to ${READING_TOPIC_FILTER}`);
  return { stop: () => client.endAsync() };
}
