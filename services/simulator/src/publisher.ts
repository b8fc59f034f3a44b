// Publishes as the devices themselves: one MQTT connection per device, authenticated with
// that device's own credentials, so Mosquitto's ACL (a device may write only its own topic)
// is exercised exactly as in the field. QoS 1: `publish` resolves on the broker's PUBACK.
//
// Mosquitto does not cluster, so a city beyond one broker shards its devices over several, each
// with gateways of its own (docs/scaling-out.md): with several URLs, a device always connects to
// the broker `shardOf` assigns it, as a provisioning system would configure the real device.
import { createHash } from 'node:crypto';
import { connectAsync, type MqttClient } from 'mqtt';
import { devicePassword } from '@lethe/config';

/** The shard (0 … shards-1) of a device: stable, and spread evenly over the fleet's ids. */
export function shardOf(deviceId: string, shards: number): number {
  if (!Number.isInteger(shards) || shards < 1) throw new Error(`shards must be a positive whole number, not ${shards}`);
  return createHash('sha256').update(deviceId).digest().readUInt32BE(0) % shards;
}

export interface FleetPublisherOptions {
  /** The MQTT broker, or the brokers of a sharded city (a device connects to the one `shardOf` picks). */
  url: string | readonly string[];
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
  const urls = typeof url === 'string' ? [url] : [...url];
  if (urls.length === 0) throw new Error('the publisher needs at least one MQTT broker URL');

  function clientFor(deviceId: string): Promise<MqttClient> {
    let client = clients.get(deviceId);
    if (!client) {
      client = connectAsync(urls[shardOf(deviceId, urls.length)]!, {
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
