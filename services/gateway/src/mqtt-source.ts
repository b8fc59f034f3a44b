// Receives readings from Mosquitto and acknowledges each one only after `handle` resolved,
// i.e. after Kafka has it. mqtt.js would send PUBACK before our handler finishes, so we
// override `handleMessage`. Its callback both sends the PUBACK and lets mqtt.js read the
// connection's next packet, so waiting for Kafka there allowed one reading in flight per
// connection (measured by `pnpm bench`: ~500 readings/s with 4 connections, each waiting a
// linger plus a Kafka round trip). Instead the callback is called at once with a marker error,
// which mqtt.js takes as "no PUBACK" and moves on, and we write each PUBACK ourselves when Kafka
// has the reading, in the order the readings arrived (MQTT 3.1.1 §4.6), several in one write.
// At most MAX_IN_FLIGHT readings per connection wait for Kafka (or for the write mix); at the limit the callback waits
// too, so mqtt.js stops reading and the backlog stays in Mosquitto, not in our memory.
// Several connections share one subscription ($share/<group>/…). Sessions are persistent (clean: false) so
// Mosquitto queues readings while the gateway is down. Client ids must therefore stay the
// same across restarts (prefix + index): a persistent session of an id no longer used stays
// in the shared group and keeps receiving its share of the readings (replicas of a scaled
// gateway: replicas.ts, and leaveOnStop below; a session left behind: orphan-session.ts).
import { connect, type IClientOptions, type ISubscriptionMap, type MqttClient } from 'mqtt';
import type { Logger } from '@lethe/observability';
import { createTimeSlice } from './time-slice.ts';

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
  /**
   * Leave the shared group when stopping, so the readings go to the replicas still running rather
   * than queue for this one (replicas.ts: every replica but the first; the first stays, so a stack
   * stopped whole queues the readings for it). The session keeps what is in flight.
   */
  leaveOnStop?: boolean;
}

export interface MqttSource {
  /** Unsubscribes and disconnects; messages not yet acknowledged are redelivered later. */
  stop(): Promise<void>;
  connected(): boolean;
}

/** Passed to mqtt.js's handleMessage callback: read the next packet, but send no PUBACK (we do, after Kafka). */
const NO_PUBACK_YET = new Error('acknowledged once Kafka has it');
/**
 * Readings of one connection handed to `handle` and not yet acknowledged. Sized for the write mix
 * (P9), which holds a minute of readings unacknowledged: Mosquitto's max_inflight_messages
 * (infra/mosquitto) must allow as many.
 */
export const MAX_IN_FLIGHT = 1000;
/**
 * The longest the gateway ingests readings in one turn of its event loop, shared by all its
 * connections (time-slice.ts): about the producer's linger, 60–150 readings.
 */
export const INGEST_SLICE_MS = 5;
const ingestSlice = createTimeSlice(INGEST_SLICE_MS);

export async function startMqttSource(options: MqttSourceOptions): Promise<MqttSource> {
  const { url, username, password, clientIdPrefix, connections, topicFilter, shareGroup, logger, handle, leaveOnStop = false } = options;
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
      // Connect only once our handlers are in place: right after the CONNACK Mosquitto resends
      // the session's unacknowledged readings, and mqtt.js's default handler would acknowledge
      // them unseen (a gateway restart lost every reading in flight at the crash; found by the
      // fault suite).
      manualConnect: true,
    };
    const client = connect(url, clientOptions);
    acknowledgeAfterHandling(client, handle, logger);
    client.on('error', (err) => logger.warn({ err: { message: err.message } }, 'mqtt error'));
    client.on('reconnect', () => logger.info({ connection: i }, 'mqtt reconnecting'));
    await connectFirst(client);
    await client.subscribeAsync(filter, { qos: 1 });
    // Subscribe again on every reconnect, whatever the broker says about the session. After a
    // crash, Mosquitto 2.0.11 restores the persistent session from its file and says so
    // (sessionPresent), so mqtt.js does not resubscribe — but the restored shared subscription
    // delivers nothing: the gateway sat idle while the devices' readings were acknowledged and
    // dropped (found by the fault suite, reproduced alone). A new SUBSCRIBE to the same filter
    // revives it and is otherwise idempotent; `resubscribe` makes mqtt.js send it although it
    // remembers the subscription.
    // (mqtt.js reads the flag from the subscription map, which its types do not declare.)
    const resubscription = { [filter]: { qos: 1 }, resubscribe: true } as unknown as ISubscriptionMap;
    client.on('connect', () => {
      client
        .subscribeAsync(resubscription)
        .catch((err: unknown) =>
          logger.warn({ err: { message: (err as Error).message }, connection: i }, 'resubscribing failed; the next reconnect tries again'),
        );
    });
    clients.push(client);
  }
  logger.info({ connections, filter }, 'subscribed');
  return {
    connected: () => clients.every((c) => c.connected),
    async stop() {
      // Unless told to leave, no unsubscribe: the persistent sessions keep the subscription so
      // nothing is lost while we are down.
      if (leaveOnStop)
        await Promise.all(
          clients.map((c, i) =>
            c.connected
              ? c
                  .unsubscribeAsync(filter)
                  .catch((err: unknown) =>
                    logger.warn(
                      { err: { message: (err as Error).message }, connection: i },
                      'could not leave the shared group; a live replica drains the session',
                    ),
                  )
              : undefined,
          ),
        );
      await Promise.all(clients.map((c) => c.endAsync()));
    },
  };
}

/**
 * Connects a client made with `manualConnect` (its handlers in place) and resolves on the first
 * CONNACK. The first connection must succeed (a wrong password should stop the service at
 * start): its failure ends the client and rejects. After it, errors are only logged and mqtt.js
 * reconnects.
 */
export function connectFirst(client: MqttClient): Promise<void> {
  client.connect();
  return new Promise<void>((resolve, reject) => {
    const failed = (err: Error) => {
      client.removeListener('connect', connected);
      client.end(true);
      reject(err);
    };
    const connected = () => {
      client.removeListener('error', failed);
      resolve();
    };
    client.once('connect', connected);
    client.once('error', failed);
  });
}

/**
 * Makes `client` hand each reading to `handle` and acknowledge it (PUBACK) only once `handle`
 * resolved, in arrival order; at most MAX_IN_FLIGHT wait at once. A failed `handle` closes the
 * connection unacknowledged, so Mosquitto delivers the readings again. Returns how many readings
 * are handed over and not yet acknowledged.
 */
export function acknowledgeAfterHandling(client: MqttClient, handle: MqttSourceOptions['handle'], logger: Logger): () => number {
  // Readings handed to `handle` and not yet acknowledged, in arrival order, with the stream
  // they came on: a PUBACK is only ever written to that stream (after a reconnect Mosquitto
  // redelivers what was not acknowledged, and may reuse the old packet ids).
  const unacked: Array<{ messageId: number | undefined; stream: unknown; done: boolean }> = [];
  let failedStream: unknown;
  /** mqtt.js's callback held back while MAX_IN_FLIGHT readings are unacknowledged. */
  let paused: (() => void) | undefined;
  /** Set while a flush of PUBACKs is scheduled for the end of this turn of the event loop. */
  let flushScheduled = false;
  const flushAcks = () => {
    flushScheduled = false;
    const acks: number[] = [];
    while (unacked[0]?.done) {
      const { messageId, stream } = unacked.shift()!;
      // PUBACK: type 4, remaining length 2, packet id (MQTT 3.1.1; in MQTT 5 the omitted reason code means success).
      if (messageId !== undefined && stream === client.stream && stream !== failedStream && client.connected)
        acks.push(0x40, 0x02, messageId >> 8, messageId & 0xff);
    }
    if (acks.length > 0) client.stream.write(Buffer.from(acks));
    if (paused && unacked.length < MAX_IN_FLIGHT) {
      const resume = paused;
      paused = undefined;
      resume();
    }
  };
  // A Kafka batch settles the promises of all its readings in one run of microtasks; each would
  // write its PUBACK alone (a syscall, and a read for Mosquitto, per reading). Flushing once when
  // that run is over (process.nextTick runs after the microtasks queued before it) writes them in
  // one packet, still in arrival order and still only after `handle` resolved.
  const writeAcks = () => {
    if (flushScheduled) return;
    flushScheduled = true;
    process.nextTick(flushAcks);
  };
  client.handleMessage = (packet, callback) => {
    // The subscription is QoS 1, so Mosquitto delivers at QoS 1 or 0 (which needs no PUBACK).
    const entry = { messageId: packet.qos === 1 ? packet.messageId : undefined, stream: client.stream, done: false };
    unacked.push(entry);
    handle(packet.topic, packet.payload as Buffer).then(
      () => {
        entry.done = true;
        writeAcks();
      },
      (err: unknown) => {
        // Neither this reading nor any later one of this connection is acknowledged: close it
        // so Mosquitto redelivers them to a member of the group. What Kafka has from before it is
        // acknowledged first (its flush may still be scheduled).
        flushAcks();
        entry.done = true;
        if (client.disconnecting || client.disconnected) {
          // Stopping (the write mix gives up what it holds): nothing to reconnect.
        } else if (failedStream !== entry.stream) {
          failedStream = entry.stream;
          logger.error({ err }, 'the pipeline did not take a reading; reconnecting without acknowledging it');
          // Destroying the socket lets mqtt.js reconnect (and resubscribe) on its own;
          // end() + reconnect() raced with its reconnect logic after broker restarts and left a
          // connection closed for good (fault suite).
          client.stream.destroy();
        }
        writeAcks();
      },
    );
    const next = () => callback(NO_PUBACK_YET);
    if (unacked.length < MAX_IN_FLIGHT) ingestSlice.run(next);
    else paused = next;
  };
  // mqtt.js writes no PUBACK for a message whose callback got an error; if a new version did,
  // readings would be acknowledged before Kafka has them. Say so loudly.
  client.on('packetsend', (p) => {
    if (p.cmd === 'puback') logger.error('mqtt.js sent a PUBACK itself: readings are acknowledged before Kafka has them; check the mqtt version');
  });
  return () => unacked.length;
}
