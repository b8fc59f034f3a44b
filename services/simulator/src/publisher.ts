// Publishes as the devices themselves: one MQTT connection per device, authenticated with
// that device's own credentials, so Mosquitto's ACL (a device may write only its own topic)
// is exercised exactly as in the field. QoS 1: `publish` resolves on the broker's PUBACK.
import { connectAsync, type MqttClient } from 'mqtt';
import { devicePassword } from '@lethe/config';

export interface FleetPublisherOptions {
  url: string;
  fleetSecret: string;
  /** Client ids get this prefix, so two simulators do not kick each other off. */
  clientIdPrefix?: string;
}

export interface FleetPublisher {
  publish(deviceId: string, topic: string, payload: unknown): Promise<void>;
  close(): Promise<void>;
}

export function createFleetPublisher({ url, fleetSecret, clientIdPrefix = 'sim' }: FleetPublisherOptions): FleetPublisher {
  const clients = new Map<string, Promise<MqttClient>>();

  function clientFor(deviceId: string): Promise<MqttClient> {
    let client = clients.get(deviceId);
    if (!client) {
      client = connectAsync(url, {
        clientId: `${clientIdPrefix}-${deviceId}`,
        username: deviceId,
        password: devicePassword(fleetSecret, deviceId),
        protocolVersion: 4,
        clean: true,
        reconnectPeriod: 1000 + Math.floor(Math.random() * 1000),
        connectTimeout: 10_000,
      });
      // A failed connect must not stay cached: the next publish tries again.
      client.catch(() => clients.delete(deviceId));
      clients.set(deviceId, client);
    }
    return client;
  }

  return {
    async publish(deviceId, topic, payload) {
      const client = await clientFor(deviceId);
      await client.publishAsync(topic, JSON.stringify(payload), { qos: 1 });
    },
    async close() {
      const all = await Promise.allSettled(clients.values());
      await Promise.all(all.map((r) => (r.status === 'fulfilled' ? r.value.endAsync() : undefined)));
      clients.clear();
    },
  };
}
