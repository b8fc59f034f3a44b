// The demo's gateway reads the devices' readings from the embedded broker the way the real
// gateway reads Mosquitto: as its own MQTT user, with a persistent session and a QoS 1
// subscription, acknowledging each message only once the pipeline took it (the gateway's
// acknowledgeAfterHandling). A message the pipeline fails on is not acknowledged: the connection
// is closed and the broker delivers it again after the reconnect.
import { connect, type MqttClient } from 'mqtt';
import { acknowledgeAfterHandling, connectFirst } from '@lethe/gateway';
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
  const client: MqttClient = connect(url, {
    clientId: 'lethe-demo-gateway',
    username: GATEWAY_USER,
    password,
    clean: false,
    protocolVersion: 4,
    reconnectPeriod: 1000,
    // Connect only once the handler is in place, so no message is acknowledged unseen.
    manualConnect: true,
  });
  acknowledgeAfterHandling(client, take, logger);
  client.on('error', (err) => logger.warn({ err: { message: err.message } }, 'mqtt error'));
  await connectFirst(client);
  const granted = await client.subscribeAsync(READING_TOPIC_FILTER, { qos: 1 });
  if (granted.some((g) => g.qos !== 1)) throw new Error(`the broker did not grant the gateway's subscription to ${READING_TOPIC_FILTER}`);
  return { stop: () => client.endAsync() };
}
