// Child process: publishes readings as the fleet's devices, each over its own MQTT connection
// with its own credentials (so Mosquitto's per-device ACL runs as in the field), QoS 1, at a
// fixed total rate or as fast as allowed. Run by loadgen-client.ts over the IPC channel, in its
// own process so its CPU is measured apart from the services'.
//
// "As fast as allowed": the parent can cap the total published (published ≤ allow), which it
// raises as the consumer (gateway or subscriber) makes progress; this keeps Mosquitto's queue
// bounded (max_queued_messages drops silently) while still saturating the consumer.
import { devicePassword } from '@lethe/config';
import { connectAsync, type MqttClient } from 'mqtt';
import { Histogram, nowUs } from './histogram.ts';
import type { DeviceTemplates } from './payloads.ts';
import { isoMicros, payloadHead } from './payloads.ts';

export interface LoadgenConfig {
  url: string;
  fleetSecret: string;
  clientIdPrefix: string;
  devices: DeviceTemplates[];
  /** Unacknowledged publishes allowed per device connection. */
  maxInFlightPerDevice: number;
}

export interface LoadgenRun {
  /** Readings per second for the whole fleet; null = as fast as allowed. */
  rate: number | null;
  seconds: number;
  /** First sequence number of every device in this run. */
  seqStart: number;
  /** Initial cap on the total published (Infinity: none); raised with `allow` messages. */
  allow: number;
}

export interface LoadgenSummary {
  published: number;
  acked: number;
  failed: Array<[deviceId: string, seq: number]>;
  /** Exclusive end of each device's sequence numbers in this run. */
  seqEnd: Record<string, number>;
  seqStart: number;
  startedUs: number;
  /** When the last publish was handed to mqtt.js. */
  lastPublishUs: number;
  /** When the last PUBACK arrived. */
  lastAckUs: number;
  /** publish → Mosquitto PUBACK, µs. */
  ackLatency: ReturnType<Histogram['toJSON']>;
  /** Ticks where the fixed rate could not be kept (every connection at its in-flight limit). */
  behindTicks: number;
  /** Seconds of publishing (shorter than asked if the run was stopped). */
  seconds: number;
  stoppedEarly: boolean;
}

export type ToLoadgen =
  { type: 'config'; config: LoadgenConfig } | { type: 'run'; run: LoadgenRun } | { type: 'allow'; total: number } | { type: 'stop' } | { type: 'close' };
export type FromLoadgen =
  | { type: 'connected'; devices: number }
  | { type: 'progress'; published: number; acked: number; failed: number }
  | { type: 'done'; summary: LoadgenSummary }
  | { type: 'error'; message: string };

interface Device {
  t: DeviceTemplates;
  client: MqttClient;
  inFlight: number;
  seq: number;
  tail: number;
}

const send = (m: FromLoadgen) => process.send!(m);
let config: LoadgenConfig | undefined;
let devices: Device[] = [];
let allow = Infinity;
/** Set by a `stop` message: the current run ends now (a pipeline step that fell too far behind). */
let stopNow = false;

async function connect(c: LoadgenConfig): Promise<void> {
  devices = await Promise.all(
    c.devices.map(async (t) => {
      const client = await connectAsync(c.url, {
        clientId: `${c.clientIdPrefix}-${t.deviceId}`,
        username: t.deviceId,
        password: devicePassword(c.fleetSecret, t.deviceId),
        protocolVersion: 4,
        clean: true,
        reconnectPeriod: 0,
        connectTimeout: 10_000,
      });
      return { t, client, inFlight: 0, seq: 0, tail: 0 };
    }),
  );
  send({ type: 'connected', devices: devices.length });
}

function run(r: LoadgenRun): void {
  const c = config!;
  allow = r.allow;
  stopNow = false;
  const latency = new Histogram();
  const failed: Array<[string, number]> = [];
  let published = 0;
  let acked = 0;
  let behindTicks = 0;
  let lastPublishUs = 0;
  let lastAckUs = 0;
  let next = 0;
  for (const d of devices) d.seq = r.seqStart;
  const startedUs = nowUs();
  const endUs = startedUs + r.seconds * 1e6;

  const publishOne = (d: Device) => {
    const seq = d.seq++;
    const at = nowUs();
    const payload = payloadHead(d.t.deviceId, seq, isoMicros(at)) + d.t.tails[d.tail]!;
    d.tail = (d.tail + 1) % d.t.tails.length;
    d.inFlight++;
    published++;
    lastPublishUs = at;
    d.client.publish(d.t.topic, payload, { qos: 1 }, (err) => {
      d.inFlight--;
      if (err) failed.push([d.t.deviceId, seq]);
      else {
        acked++;
        lastAckUs = nowUs();
        latency.record(lastAckUs - at);
      }
    });
  };

  const progress = setInterval(() => send({ type: 'progress', published, acked, failed: failed.length }), 500);
  const tick = () => {
    const now = nowUs();
    if (now >= endUs || stopNow) return finish();
    const target = r.rate === null ? Infinity : Math.floor((r.rate * (now - startedUs)) / 1e6);
    let due = Math.min(target, allow) - published;
    let idle = 0;
    // Round-robin over the devices, skipping those at their in-flight limit.
    while (due > 0 && idle < devices.length) {
      const d = devices[next]!;
      next = (next + 1) % devices.length;
      if (d.inFlight >= c.maxInFlightPerDevice) {
        idle++;
        continue;
      }
      idle = 0;
      publishOne(d);
      due--;
      // Yield now and then so PUBACKs are read while publishing as fast as allowed.
      if (r.rate === null && published % 256 === 0) break;
    }
    if (due > 0 && idle >= devices.length && r.rate !== null) behindTicks++;
    if (r.rate === null && due > 0 && idle < devices.length) setImmediate(tick);
    else setTimeout(tick, 2);
  };

  const finish = () => {
    const seconds = (nowUs() - startedUs) / 1e6;
    const stoppedEarly = stopNow;
    // Wait (≤ 30 s) for the PUBACKs of what was published, so `acked` is final.
    const deadline = Date.now() + 30_000;
    const wait = () => {
      if (devices.some((d) => d.inFlight > 0) && Date.now() < deadline) return void setTimeout(wait, 20);
      clearInterval(progress);
      send({ type: 'progress', published, acked, failed: failed.length });
      send({
        type: 'done',
        summary: {
          published,
          acked,
          failed,
          seqEnd: Object.fromEntries(devices.map((d) => [d.t.deviceId, d.seq])),
          seqStart: r.seqStart,
          startedUs,
          lastPublishUs,
          lastAckUs,
          ackLatency: latency.toJSON(),
          behindTicks,
          seconds,
          stoppedEarly,
        },
      });
    };
    wait();
  };
  tick();
}

process.on('message', (m: ToLoadgen) => {
  if (m.type === 'config') {
    config = m.config;
    connect(m.config).catch((err: unknown) => send({ type: 'error', message: `connecting the devices: ${(err as Error).message}` }));
  } else if (m.type === 'run') run(m.run);
  else if (m.type === 'allow') allow = m.total;
  else if (m.type === 'stop') stopNow = true;
  else if (m.type === 'close') {
    void Promise.all(devices.map((d) => d.client.endAsync())).finally(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
