// Stage 3: the same records as stage 2 through kafkajs as the gateway uses it, for the ratio
// kafkajs ÷ Kafka's own Java producer.
import { forkChild } from './child.ts';
import { cpuAndRss, round, type BenchContext, type Row } from './context.ts';
import { Histogram } from './histogram.ts';
import { ensureTopic, SCRATCH_CONFIGS } from './kafka-topics.ts';
import type { FromProducer, ToProducer } from './kafkajs-producer.ts';
import { ProcWatch } from './proc.ts';

/** The gateway's KAFKA_LINGER_MS default. */
const GATEWAY_LINGER_MS = 5;

export async function benchKafkajs(ctx: BenchContext): Promise<Row> {
  const { servers, payloads, opts } = ctx;
  const topic = 'bench.kafkajs.v1';
  const admin = ctx.kafka.admin();
  await admin.connect();
  await ensureTopic(admin, { topic, partitions: 3, configs: SCRATCH_CONFIGS });
  await admin.disconnect();
  const linger = Number(opts.gatewayEnv.KAFKA_LINGER_MS ?? GATEWAY_LINGER_MS);
  const child = forkChild<ToProducer, FromProducer>('./kafkajs-producer.ts', 'kafkajs producer');
  const watch = new ProcWatch(
    [
      { name: 'kafka', pid: servers.pids.kafka },
      { name: 'producer (kafkajs)', pid: child.pid },
    ],
    500,
  ).start();
  child.on((m) => {
    if (m.type === 'progress') ctx.progress('3 kafkajs', `${m.acked} records acknowledged`);
  });
  try {
    child.send({
      type: 'run',
      run: {
        brokers: servers.kafkaBrokers,
        topic,
        records: opts.kafkaRecords,
        value: payloads.readingRecordSample,
        keys: payloads.devices.map((d) => d.deviceId),
        concurrency: opts.kafkajsConcurrency,
        lingerMs: linger,
      },
    });
    const done = await child.next((m): m is Extract<FromProducer, { type: 'done' }> => m.type === 'done', 600_000);
    const usage = watch.stop();
    const lat = Histogram.from(done.latency).summaryMs();
    const rate = done.acked / done.seconds;
    ctx.progress('3 kafkajs', `${round(rate)} records/s, send → ack p50 ${lat.p50} ms, p99 ${lat.p99} ms`);
    return {
      id: '3',
      title: 'kafkajs + @lethe/kafka batching producer',
      rate: round(rate),
      unit: 'records/s',
      latency: [
        {
          what: `send() → resolved (Kafka ack), ${opts.kafkajsConcurrency} sends outstanding (saturated)`,
          p50Ms: lat.p50,
          p99Ms: lat.p99,
          maxMs: lat.max,
          samples: lat.n,
        },
      ],
      ...cpuAndRss(usage, done.acked),
      method:
        `kafkajs ${'2.2.4'} producer as the gateway makes it (idempotent, maxInFlightRequests 1, acks=all), createBatchingProducer with linger ${linger} ms and ≤ 2000 records per batch; ` +
        `${done.acked} records of ${Buffer.byteLength(payloads.readingRecordSample)} B (a real readings record), keyed by the 108 device ids, one record per send(), ${opts.kafkajsConcurrency} sends outstanding; 3-partition topic.`,
      notes: [`${done.batches} batches (${round(done.acked / done.batches)} records each on average).`],
      extra: { batches: done.batches, seconds: done.seconds },
    };
  } finally {
    watch.stop();
    await child.stop();
  }
}
