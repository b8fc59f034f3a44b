// The embedded MQTT broker (aedes) on a loopback port, with the rules the real stack gives
// Mosquitto: no anonymous access, every device its own user with the password derived from
// the fleet secret, the gateway its own user, and the ACL — a device may publish only on its
// own topic (lethe/v1/<kind>/<its id>/reading) and subscribe to nothing; only the gateway may
// read the readings. Unlike Mosquitto, which acknowledges a denied publish and drops it, aedes
// closes the connection of a client that publishes where it may not.
import { timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import { devicePassword } from '@lethe/config';
import type { Logger } from '@lethe/observability';
import { READING_TOPIC_FILTER, readingTopic, type Fleet } from '@lethe/schemas';

export const GATEWAY_USER = 'lethe-gateway';
/** aedes' CONNACK code 4 (MQTT 3.1.1: bad user name or password). */
const BAD_USERNAME_OR_PASSWORD = 4;

export interface BrokerOptions {
  fleet: Fleet;
  fleetSecret: string;
  gatewayPassword: string;
  port: number;
  logger: Logger;
  /** Told about every publish the ACL refused (metrics). */
  onDenied?: (what: 'publish' | 'subscribe') => void;
}

export interface DemoBroker {
  url: string;
  port: number;
  close(): Promise<void>;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function startBroker({ fleet, fleetSecret, gatewayPassword, port, logger, onDenied }: BrokerOptions): Promise<DemoBroker> {
  // Who each connection authenticated as; the ACL decides by this, never by the client id.
  const users = new WeakMap<Client, string>();

  const broker = await Aedes.createBroker({
    authenticate(client, username, password, done) {
      const user = username ?? '';
      const given = password?.toString('utf8') ?? '';
      const expected = user === GATEWAY_USER ? gatewayPassword : fleet.get(user) ? devicePassword(fleetSecret, user) : undefined;
      if (expected !== undefined && same(given, expected)) {
        users.set(client, user);
        return done(null, true);
      }
      const error = Object.assign(new Error('bad user name or password'), { returnCode: BAD_USERNAME_OR_PASSWORD }) as AuthenticateError;
      // The user name is a device id or a typo, never personal data; the password is never logged.
      logger.warn({ user: fleet.get(user) || user === GATEWAY_USER ? user : '(unknown user)' }, 'mqtt authentication failed');
      done(error, false);
    },
    authorizePublish(client, packet, done) {
      const user = client ? users.get(client) : undefined;
      const device = user ? fleet.get(user) : undefined;
      if (device && packet.topic === readingTopic(device.kind, device.id)) return done(null);
      onDenied?.('publish');
      logger.warn({ user: user ?? null }, 'mqtt publish denied by the ACL');
      done(new Error('publish denied: a device may publish only on its own reading topic'));
    },
    authorizeSubscribe(client, subscription, done) {
      if (users.get(client) === GATEWAY_USER && subscription.topic === READING_TOPIC_FILTER) return done(null, subscription);
      onDenied?.('subscribe');
      // A negative SUBACK, the connection stays.
      done(null, null);
    },
  });

  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${actual}`,
    port: actual,
    async close() {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
