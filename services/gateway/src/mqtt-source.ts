// Receives readings from Mosquitto and acknowledges each one only after `handle` resolved,
// i.e. after Kafka has it. mqtt.js would send PUBACK before our handler finishes, so we
// override `handleMessage`, whose callback is what releases the PUBACK. mqtt.js processes a
// connection's packets one at a time, so several connections share one subscription
// ($share/<group>/…) to keep throughput up. Sessions are persistent (clean: false) so
// Mosquitto queues readings while the gateway is down. Client ids must therefore stay the
// same across restarts (prefix + index): a persistent session of an id no longer used stays
// in the shared group and keeps receiving its share of the readings.
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from '@lethe/observability';

export interface MqttSourceOptions {
  url: string;
  username: string;
  password: string;
  clientIdPrefix: string;
  connections: number;
  topicFilter: string;
  shareGroup: string;
  logger: Logger;
  handle: (topic: string, payload: Buffer) => Promise<void>;
}

export interface MqttSource {
  /** Unsubscribes and disconnects; messages not yet acknowledged are redelivered later. */
  stop(): Promise<void>;
  connected(): boolean;
}

export async function startMqttSource(options: MqttSourceOptions): Promise<MqttSource> {
  const { url, username, password, clientIdPrefix, connections, topicFilter, shareGroup, logger, handle } = options;
  const filter = `$share/${shareGroup}/${topicFilter}`;
  const clients: MqttClient[] = [];
  for (let i = 0; i < connections; i++) {
    const clientOptions: IClientOptions = {
      clientId: `${clientIdPrefix}-${i}`,
      username,
      password,
      clean: false,
      protocolVersion: 4,
      reconnectPeriod: 1000 + Math.floor(Math.random() * 1000),
      connectTimeout: 10_000,
      manualConnect: false,
    };
    const client = await connectAsync(url, clientOptions);
    client.handleMessage = (packet, callback) => {
      handle(packet.topic, packet.payload as Buffer).then(
        () => callback(),
        (err: unknown) => {
          // Not acknowledged: close the connection so Mosquitto redelivers it to a member of the group.
          logger.error({ err }, 'could not hand a reading to Kafka; reconnecting without acknowledging it');
          client.end(true, () => client.reconnect());
        },
      );
    };
    client.on('error', (err) => logger.warn({ err: { message: err.message } }, 'mqtt error'));
    client.on('reconnect', () => logger.info({ connection: i }, 'mqtt reconnecting'));
    await client.subscribeAsync(filter, { qos: 1 });
    clients.push(client);
  }
  logger.info({ connections, filter }, 'subscribed');
  return {
    connected: () => clients.every((c) => c.connected),
    async stop() {
      // No unsubscribe: the persistent sessions keep the subscription so nothing is lost while we are down.
      await Promise.all(clients.map((c) => c.endAsync()));
    },
  };
}
