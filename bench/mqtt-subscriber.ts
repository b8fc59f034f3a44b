// Child process for the raw-Mosquitto baseline: one mqtt.js subscriber (the gateway's MQTT user,
// the readings topic filter, QoS 1, mqtt.js's own immediate PUBACK) that counts what arrives
// and times publish → receive from the µs timestamp the load generator put in each payload.
import { connectAsync } from 'mqtt';
import { Histogram, nowUs, type HistogramData } from './histogram.ts';

export type ToSubscriber = { type: 'connect'; url: string; username: string; password: string; filter: string } | { type: 'reset' } | { type: 'summary' };
export type FromSubscriber =
  | { type: 'ready' }
  | { type: 'progress'; received: number }
  | { type: 'summary'; received: number; unique: number; firstUs: number; lastUs: number; latency: HistogramData }
  | { type: 'error'; message: string };

const send = (m: FromSubscriber) => process.send!(m);
const HEAD = /^\{"deviceId":"([^"]+)","seq":(\d+),"ts":"([^"]+)"/;

let latency = new Histogram();
let seen = new Map<string, Set<number>>();
let received = 0;
let firstUs = 0;
let lastUs = 0;

process.on('message', (m: ToSubscriber) => {
  if (m.type === 'connect') {
    connectAsync(m.url, {
      clientId: `bench-raw-sub-${process.pid}`,
      username: m.username,
      password: m.password,
      clean: true,
      protocolVersion: 4,
      reconnectPeriod: 0,
    })
      .then(async (client) => {
        client.on('message', (_topic, payload) => {
          const at = nowUs();
          const head = HEAD.exec(payload.toString('latin1', 0, 120));
          if (!head) return;
          received++;
          if (firstUs === 0) firstUs = at;
          lastUs = at;
          // ts is ISO with µs: milliseconds from Date.parse, the 3 extra digits by hand.
          const iso = head[3]!;
          const sentUs = Date.parse(`${iso.slice(0, 23)}Z`) * 1000 + Number(iso.slice(23, 26));
          latency.record(at - sentUs);
          let s = seen.get(head[1]!);
          if (!s) seen.set(head[1]!, (s = new Set()));
          s.add(Number(head[2]));
        });
        await client.subscribeAsync(m.filter, { qos: 1 });
        setInterval(() => send({ type: 'progress', received }), 100);
        send({ type: 'ready' });
      })
      .catch((err: unknown) => send({ type: 'error', message: (err as Error).message }));
  } else if (m.type === 'reset') {
    latency = new Histogram();
    seen = new Map();
    received = 0;
    firstUs = 0;
    lastUs = 0;
  } else if (m.type === 'summary') {
    const unique = [...seen.values()].reduce((n, s) => n + s.size, 0);
    send({ type: 'summary', received, unique, firstUs, lastUs, latency: latency.toJSON() });
  }
});
process.on('disconnect', () => process.exit(0));
