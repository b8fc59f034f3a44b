// Drains the persistent MQTT session of a gateway replica that is gone for good (scaled away).
// Such a session stays a member of the shared subscription, and Mosquitto keeps sharing readings
// out to it, queued for a client that never returns: a live gateway takes the session over under
// its client id, leaves the group, hands every queued and in-flight reading to the pipeline
// (acknowledged only once Kafka has it, as for its own) and then ends the session.
//
// MQTT 5 for this one connection: the session lives on (expiry "never", as a 3.1.1 session) while
// the readings are handed over, so a failure loses nothing and the next look tries again; only the
// final DISCONNECT sets its expiry to 0, which ends it (MQTT 5 §3.14.2.2.2).
import { connect, type IConnackPacket, type MqttClient } from 'mqtt';
import type { Logger } from '@lethe/observability';
import { acknowledgeAfterHandling, MAX_IN_FLIGHT, type MqttSourceOptions } from './mqtt-source.ts';
import { liveReplicas, OrphanSchedule } from './replicas.ts';

export interface DrainOptions {
  url: string;
  username: string;
  password: string;
  clientId: string;
  /** The shared filter the session subscribed to ($share/<group>/<topics>). */
  filter: string;
  handle: MqttSourceOptions['handle'];
  logger: Logger;
  /** Done once no reading came for this long and every reading is acknowledged. */
  quietMs?: number;
  /** Gives up (keeping the session) after this long; covers a write mix holding readings a minute. */
  timeoutMs?: number;
  /** Gives up (keeping the session) when aborted: the gateway is shutting down. */
  signal?: AbortSignal;
}

export interface DrainResult {
  /** Whether the broker held a session under this client id. */
  present: boolean;
  /** Readings handed over and acknowledged. */
  readings: number;
}

const NEVER_EXPIRES = 0xffffffff;

export async function drainSession(options: DrainOptions): Promise<DrainResult> {
  const { url, username, password, clientId, filter, handle, logger, quietMs = 2000, timeoutMs = 300_000, signal } = options;
  const client: MqttClient = connect(url, {
    clientId,
    username,
    password,
    clean: false,
    protocolVersion: 5,
    properties: { sessionExpiryInterval: NEVER_EXPIRES, receiveMaximum: MAX_IN_FLIGHT },
    reconnectPeriod: 0, // one attempt: a live owner taking its id back ends the drain, not a tug of war
    connectTimeout: 10_000,
    manualConnect: true, // the handler must be in place before the session's readings arrive
  });
  let readings = 0;
  let lastReadingAt = Date.now();
  const pending = acknowledgeAfterHandling(
    client,
    async (topic, payload) => {
      lastReadingAt = Date.now();
      await handle(topic, payload);
      readings++;
    },
    logger,
  );
  let closed = false;
  client.on('close', () => (closed = true));
  client.on('error', (err) => logger.warn({ err: { message: err.message }, clientId }, 'mqtt error while draining a session'));
  try {
    client.connect();
    const connack = await new Promise<IConnackPacket>((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
      client.once('close', () => reject(new Error('connection closed before CONNACK')));
    });
    if (connack.sessionPresent) {
      // Out of the group first: from here on Mosquitto shares new readings among the live members only.
      await client.unsubscribeAsync(filter);
      const deadline = Date.now() + timeoutMs;
      while (Date.now() - lastReadingAt < quietMs || pending() > 0) {
        if (closed) throw new Error('connection closed while draining (a reading failed, or its owner is back)');
        if (signal?.aborted) throw new Error('stopped while draining');
        if (Date.now() > deadline) throw new Error(`readings still unacknowledged after ${timeoutMs / 1000} s`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    await client.endAsync(false, { properties: { sessionExpiryInterval: 0 } });
    return { present: connack.sessionPresent, readings };
  } catch (err) {
    // Forced: no DISCONNECT, so the session and whatever it holds stay for the next look.
    await client.endAsync(true).catch(() => undefined);
    throw new Error(`${(err as Error).message}; the session is kept`, { cause: err });
  }
}

export interface OrphanWatchOptions {
  /** This replica's number, and the DNS name listing every live replica (replicas.ts). */
  self: number;
  serviceName: string;
  maxReplicas: number;
  intervalMs: number;
  /** Client ids are `<clientIdPrefix>-<replica>-<connection>`, connections 0 … connections-1. */
  clientIdPrefix: string;
  connections: number;
  drain: Omit<DrainOptions, 'clientId' | 'signal'>;
  onDrained: () => void;
}

/** Every interval, drains the sessions of the replicas gone that fall to this one (OrphanSchedule). */
export function startOrphanWatch(options: OrphanWatchOptions): { stop(): Promise<void> } {
  const { self, serviceName, maxReplicas, intervalMs, clientIdPrefix, connections, drain, onDrained } = options;
  const { logger } = drain;
  const schedule = new OrphanSchedule(self, maxReplicas);
  const stopping = new AbortController();
  const look = async () => {
    const live = await liveReplicas(serviceName);
    if (!live.has(self)) return void logger.warn({ live: [...live] }, 'the DNS does not list this gateway replica; this look is skipped');
    const gone = schedule.next(live);
    for (const replica of gone) {
      for (let connection = 0; connection < connections && !stopping.signal.aborted; connection++) {
        const clientId = `${clientIdPrefix}-${replica}-${connection}`;
        try {
          const { present, readings } = await drainSession({ ...drain, clientId, signal: stopping.signal });
          if (present) {
            onDrained();
            logger.info({ replica, connection, readings }, 'drained the MQTT session of a gateway replica that is gone');
          }
        } catch (err) {
          logger.warn(
            { err: { message: (err as Error).message }, replica, connection },
            'could not drain the session of a gateway replica that is gone; trying again later',
          );
        }
      }
    }
  };
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running) return; // a drain can take minutes (a write mix holds readings up to one)
    running = look()
      .catch((err: unknown) => logger.warn({ err: { message: (err as Error).message } }, 'looking for gateway replicas failed'))
      .finally(() => (running = undefined));
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      stopping.abort();
      await running;
    },
  };
}
