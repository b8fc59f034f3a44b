// Stage 1, the ceiling: the same devices, payloads and QoS 1 through the same Mosquitto, but to
// a plain mqtt.js subscriber that does nothing (and PUBACKs at once) instead of the gateway.
// First as fast as the subscriber takes them (throughput), then at half that rate (latency
// without a queue in front of the subscriber).
import { forkChild } from './child.ts';
import { cpuAndRss, round, type BenchContext, type Row } from './context.ts';
import { Histogram } from './histogram.ts';
import { PUBLISHER, startPublisher } from './publisher.ts';
import type { FromSubscriber, ToSubscriber } from './mqtt-subscriber.ts';
import { ProcWatch } from './proc.ts';

export async function benchMosquitto(ctx: BenchContext): Promise<Row> {
  const { servers, payloads, opts } = ctx;
  const sub = forkChild<ToSubscriber, FromSubscriber>('./mqtt-subscriber.ts', 'MQTT subscriber');
  let received = 0;
  sub.on((m) => {
    if (m.type === 'progress') received = m.received;
  });
  sub.send({ type: 'connect', url: servers.mqttUrl, username: 'lethe-gateway', password: servers.gatewayPassword, filter: 'lethe/v1/+/+/reading' });
  await sub.next((m): m is Extract<FromSubscriber, { type: 'ready' }> => m.type === 'ready');
  const loadgen = await startPublisher(opts.loadgen, {
    url: servers.mqttUrl,
    fleetSecret: servers.fleetSecret,
    clientIdPrefix: `bench-raw-${ctx.run}`,
    devices: payloads.devices,
    maxInFlightPerDevice: 50,
  });
  const summary = async () => {
    sub.send({ type: 'summary' });
    return sub.next((m): m is Extract<FromSubscriber, { type: 'summary' }> => m.type === 'summary');
  };
  try {
    // Max rate: the publisher may run at most BENCH_BACKLOG messages ahead of the subscriber.
    const watch = new ProcWatch(
      [
        { name: 'mosquitto', pid: servers.pids.mosquitto },
        { name: PUBLISHER[opts.loadgen], pid: loadgen.pid },
        { name: 'subscriber (mqtt.js)', pid: sub.pid },
      ],
      500,
    ).start();
    const feed = setInterval(() => loadgen.allow(received + opts.backlog), 50);
    let lastLog = 0;
    const max = await loadgen.run({ rate: null, seconds: opts.mosquittoSeconds, seqStart: 1, allow: opts.backlog }, (p) => {
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        ctx.progress('1 mosquitto', `max rate: ${p.acked} acknowledged, ${received} received`);
      }
    });
    clearInterval(feed);
    const acked = max.acked;
    const deadline = Date.now() + 30_000;
    while (received < acked && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const usage = watch.stop();
    const s = await summary();
    const seconds = (s.lastUs - max.startedUs) / 1e6;
    const rate = s.unique / seconds;
    ctx.progress('1 mosquitto', `max: ${round(rate)} msg/s (${s.unique} of ${acked} acknowledged received in ${seconds.toFixed(1)} s)`);

    // Half that rate, for latency without queueing.
    sub.send({ type: 'reset' });
    received = 0;
    const half = Math.round(rate / 2);
    const halfSeconds = Math.max(5, Math.round(opts.mosquittoSeconds / 2));
    const seqStart = Math.max(...Object.values(max.seqEnd));
    const halfRun = await loadgen.run({ rate: half, seconds: halfSeconds, seqStart, allow: Infinity });
    while (received < halfRun.acked && Date.now() < deadline + 60_000) await new Promise((r) => setTimeout(r, 100));
    const h = await summary();
    const maxLat = Histogram.from(s.latency).summaryMs();
    const halfLat = Histogram.from(h.latency).summaryMs();
    const pubAck = Histogram.from(max.ackLatency).summaryMs();
    ctx.progress('1 mosquitto', `at ${half} msg/s: publish → receive p50 ${halfLat.p50} ms, p99 ${halfLat.p99} ms`);
    return {
      id: '1',
      title: `Raw Mosquitto QoS 1 (${opts.loadgen === 'native' ? 'Go, paho' : 'mqtt.js'} → mqtt.js)`,
      rate: round(rate),
      unit: 'msg/s',
      latency: [
        {
          what: `publish → subscriber receives, at ${half} msg/s (half the max)`,
          p50Ms: halfLat.p50,
          p99Ms: halfLat.p99,
          maxMs: halfLat.max,
          samples: halfLat.n,
        },
        {
          what: `publish → subscriber receives, at the max rate (≤ ${opts.backlog} queued)`,
          p50Ms: maxLat.p50,
          p99Ms: maxLat.p99,
          maxMs: maxLat.max,
          samples: maxLat.n,
        },
        { what: 'publish → Mosquitto PUBACK, at the max rate', p50Ms: pubAck.p50, p99Ms: pubAck.p99, maxMs: pubAck.max, samples: pubAck.n },
      ],
      ...cpuAndRss(usage, s.unique),
      method:
        `${payloads.devices.length} device connections (each its own MQTT user, ≤ 50 unacknowledged), QoS 1, fleet payloads of ${payloads.meanPayloadBytes} B on average ` +
        `(lamppost ${payloads.lamppostPayloadBytes} B), for ${opts.mosquittoSeconds} s as fast as one mqtt.js subscriber (the gateway's user, filter lethe/v1/+/+/reading, QoS 1) takes them; ` +
        `rate = distinct messages received ÷ (last receive − first publish). Then ${halfSeconds} s at half that rate for the latency.`,
      notes: [
        `${acked - s.unique} acknowledged messages not received${h.unique < halfRun.acked ? `; ${halfRun.acked - h.unique} at half rate` : ''}.`,
        'Publisher, broker and subscriber share the same 2 cores.',
      ],
      extra: { max, half: { rate: half, acked: halfRun.acked, received: h.unique }, received: s.unique, seconds },
    };
  } finally {
    await loadgen.close();
    await sub.stop();
  }
}
