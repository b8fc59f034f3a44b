// Stage 4: the real gateway process alone. The devices publish QoS 1 as fast as the gateway
// forwards (at most BENCH_BACKLOG ahead of it, so Mosquitto's queue stays bounded); the rate is
// read from the gateway's own forwarded counter, its latency from its arrival → Kafka-ack
// histogram, its CPU and memory from /proc. Its output topics are stage 5's input.
import { cpuAndRss, round, sleep, type BenchContext, type Row } from './context.ts';
import { gatewayConnections, gatewayCounts, startGateway, stopGateway, wipeGatewaySessions } from './gateway-service.ts';
import { Histogram } from './histogram.ts';
import { endOffsets } from './kafka-topics.ts';
import { PUBLISHER, startPublisher } from './publisher.ts';
import { ProcWatch } from './proc.ts';
import { histogram, histogramDelta, histogramQuantile } from '../test/support/prom-text.ts';
import { topicNames } from '@lethe/schemas';

export async function benchGateway(ctx: BenchContext): Promise<Row> {
  const { servers, payloads, opts } = ctx;
  const prefix = `bench-${ctx.run}-gw.`;
  await wipeGatewaySessions(ctx);
  const gateway = await startGateway(ctx, `${ctx.run}-stage4`, prefix);
  const loadgen = await startPublisher(opts.loadgen, {
    url: servers.mqttUrl,
    fleetSecret: servers.fleetSecret,
    clientIdPrefix: `bench-gw-${ctx.run}`,
    devices: payloads.devices,
    maxInFlightPerDevice: 50,
  });
  try {
    const before = histogram(await gateway.metrics(), 'lethe_gateway_ack_latency_seconds');
    const watch = new ProcWatch(
      [
        { name: 'gateway', pid: gateway.pid },
        { name: 'mosquitto', pid: servers.pids.mosquitto },
        { name: 'kafka', pid: servers.pids.kafka },
        { name: PUBLISHER[opts.loadgen], pid: loadgen.pid },
      ],
      500,
    ).start();
    // The gateway's forwarded count over time: the feed for the publisher's cap and the rate.
    const series: Array<{ us: number; done: number }> = [];
    let done = 0;
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const c = await gatewayCounts(gateway);
        done = c.forwarded + c.rejected;
        series.push({ us: (performance.timeOrigin + performance.now()) * 1000, done });
        loadgen.allow(done + opts.backlog);
        await sleep(100);
      }
    })();
    let lastLog = 0;
    const pub = await loadgen.run({ rate: null, seconds: opts.gatewaySeconds, seqStart: 1, allow: opts.backlog }, (p) => {
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        const recent = series.slice(-11);
        const rate = recent.length > 1 ? ((recent.at(-1)!.done - recent[0]!.done) * 1e6) / (recent.at(-1)!.us - recent[0]!.us) : 0;
        ctx.progress('4 gateway', `${p.acked} published, ${done} forwarded (${round(rate)} readings/s)`);
      }
    });
    const drained = Date.now() + 60_000;
    while (done < pub.acked && Date.now() < drained) await sleep(100);
    polling = false;
    await poll;
    const usage = watch.stop();
    const counts = await gatewayCounts(gateway);
    const ack = histogramDelta(histogram(await gateway.metrics(), 'lethe_gateway_ack_latency_seconds'), before);
    // Sustained rate: between 10 % and 90 % of the readings forwarded (start-up and the tail left out).
    const at = (fraction: number) => series.find((s) => s.done >= fraction * counts.forwarded)!;
    const lo = at(0.1);
    const hi = at(0.9);
    const sustained = ((hi.done - lo.done) * 1e6) / (hi.us - lo.us);
    const overall = counts.forwarded / ((series.find((s) => s.done >= counts.forwarded)!.us - pub.startedUs) / 1e6);
    const topics = topicNames(prefix);
    const admin = ctx.kafka.admin();
    await admin.connect();
    const readings = await endOffsets(admin, topics.readings);
    const sightings = await endOffsets(admin, topics.sightings);
    await admin.disconnect();
    const pubAck = Histogram.from(pub.ackLatency).summaryMs();
    const ms = (s: number) => round(s * 1000, 1);
    ctx.progress(
      '4 gateway',
      `${round(sustained)} readings/s sustained (${counts.forwarded} forwarded, ${counts.rejected} rejected); arrival → Kafka ack p50 ${ms(histogramQuantile(ack, 0.5))} ms, p99 ${ms(histogramQuantile(ack, 0.99))} ms`,
    );
    return {
      id: '4',
      title: 'Gateway alone (MQTT → validate, minimize, pseudonymize → Kafka)',
      rate: round(sustained),
      unit: 'readings/s',
      latency: [
        {
          what: "MQTT arrival → Kafka ack (the gateway's histogram, interpolated in its buckets), saturated",
          p50Ms: ms(histogramQuantile(ack, 0.5)),
          p99Ms: ms(histogramQuantile(ack, 0.99)),
          samples: ack.count,
        },
        { what: 'device publish → Mosquitto PUBACK, saturated', p50Ms: pubAck.p50, p99Ms: pubAck.p99, maxMs: pubAck.max, samples: pubAck.n },
      ],
      ...cpuAndRss(usage, counts.forwarded),
      method:
        `Real gateway process (MQTT_CONNECTIONS ${gatewayConnections(ctx)}, KAFKA_LINGER_MS ${opts.gatewayEnv.KAFKA_LINGER_MS ?? 5}, 3 partitions, bench policy), ` +
        `${payloads.devices.length} device connections publishing QoS 1 for ${opts.gatewaySeconds} s as fast as the gateway forwards (≤ ${opts.backlog} ahead of its forwarded counter, ≤ 50 unacknowledged per device); ` +
        `rate = lethe_gateway_messages_forwarded_total between 10 % and 90 % of the total, sampled every 100 ms.`,
      notes: [
        `Overall ${round(overall)} readings/s from the first publish to the last forward; ${counts.rejected} rejected, ${counts.kafkaErrors} Kafka send errors, ${pub.acked - counts.forwarded - counts.rejected} published but not forwarded.`,
        `Kafka: ${readings} readings records + ${sightings} sightings records = ${round((readings + sightings) / Math.max(1, readings), 1)} records per reading.`,
      ],
      extra: { topicPrefix: prefix, forwarded: counts.forwarded, readings, sightings, overall, published: pub.acked },
    };
  } finally {
    await loadgen.close();
    await stopGateway(ctx, gateway);
  }
}
