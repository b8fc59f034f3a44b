// Stage 5: the real processor replaying stage 4's topics (readings and sightings the real gateway
// wrote) from the beginning, in a fresh consumer group and with its own output topics. Timed
// from /readyz until it has read every reading and every partition to its end (its lag gauge at
// 0: sightings are counted only in whole blocks, P9, and a sightings record holds several); the
// sustained rate is read between 10 % and 90 % of the readings, the sightings interleaved with them.
import { topicNames } from '@lethe/schemas';
import { cpuAndRss, round, sleep, type BenchContext, type Row } from './context.ts';
import { startService } from './infra.ts';
import { endOffsets } from './kafka-topics.ts';
import { ProcWatch } from './proc.ts';
import { counter, samples } from '../test/support/prom-text.ts';

export async function benchProcessor(ctx: BenchContext, inputPrefix: string): Promise<Row> {
  const { servers } = ctx;
  const own = `bench-${ctx.run}-proc.`;
  const input = topicNames(inputPrefix);
  const admin = ctx.kafka.admin();
  await admin.connect();
  const readings = await endOffsets(admin, input.readings);
  const sightings = await endOffsets(admin, input.sightings);
  const total = readings + sightings;
  if (total === 0) throw new Error(`nothing to replay in ${input.readings} / ${input.sightings}`);
  ctx.progress('5 processor', `replaying ${readings} readings + ${sightings} sightings from stage 4`);
  const processor = await startService(
    servers,
    'processor',
    `${ctx.run}-stage5`,
    {
      KAFKA_GROUP_ID: `bench-${ctx.run}-proc`,
      KAFKA_INPUT_TOPIC_PREFIX: inputPrefix,
      KAFKA_TOPIC_PREFIX: own,
      KAFKA_PARTITIONS: '3',
      POLICY_FILE: ctx.policyFile,
    },
    ctx.opts.cpuProfDir,
  );
  try {
    const watch = new ProcWatch(
      [
        { name: 'processor', pid: processor.pid },
        { name: 'kafka', pid: servers.pids.kafka },
      ],
      500,
    ).start();
    const startUs = (performance.timeOrigin + performance.now()) * 1000;
    const series: Array<{ us: number; consumed: number }> = [];
    let text = '';
    let lastLog = Date.now();
    const deadline = Date.now() + 10 * 60_000;
    const partitions = (topic: string) => samples(text, 'lethe_processor_consumer_lag_records').filter((x) => x.labels.topic === topic);
    for (;;) {
      text = await processor.metrics();
      const consumed = counter(text, 'lethe_processor_records_total', { topic: input.readings });
      series.push({ us: (performance.timeOrigin + performance.now()) * 1000, consumed });
      const read = (topic: string, count: number) => count === 0 || (partitions(topic).length > 0 && partitions(topic).every((x) => x.value === 0));
      if (consumed >= readings && read(input.readings, readings) && read(input.sightings, sightings)) break;
      if (Date.now() > deadline) throw new Error(`the processor consumed ${consumed} of ${readings} readings in 10 minutes`);
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        ctx.progress('5 processor', `${consumed} of ${readings} readings consumed`);
      }
      await sleep(100);
    }
    const usage = watch.stop();
    const end = series.at(-1)!;
    const at = (f: number) => series.find((s) => s.consumed >= f * readings)!;
    const lo = at(0.1);
    const hi = at(0.9);
    const sustained = ((hi.consumed - lo.consumed) * 1e6) / Math.max(1, hi.us - lo.us);
    const seconds = (end.us - startUs) / 1e6;
    const outcomes = Object.fromEntries(
      ['accepted', 'duplicate', 'late', 'expired', 'future', 'invalid'].map((o) => [o, counter(text, 'lethe_processor_records_total', { outcome: o })]),
    );
    const readingsPerSecond = sustained;
    const recordsPerSecond = (sustained * total) / readings;
    ctx.progress(
      '5 processor',
      `${round(readingsPerSecond)} readings/s sustained (${round(recordsPerSecond)} Kafka records/s); all ${total} records in ${seconds.toFixed(1)} s from ready`,
    );
    // Give the last windows a moment to be released, so stage 6 has real aggregates to copy.
    const aggregatesTopic = topicNames(own).aggregates;
    for (let i = 0; i < 40 && (await endOffsets(admin, aggregatesTopic)) === 0; i++) await sleep(250);
    return {
      id: '5',
      title: 'Processor replaying a pre-filled topic (windows, k-anonymity, DP)',
      rate: round(readingsPerSecond),
      unit: 'readings/s',
      latency: [],
      ...cpuAndRss(usage, readings),
      method:
        `Real processor process, fresh consumer group, reading stage 4's ${readings} readings records and ${sightings} sightings records (3 partitions each) from the beginning, bench policy (5 s windows); ` +
        `rate = lethe_processor_records_total of the readings topic between 10 % and 90 % of the readings, sampled every 100 ms, the sightings read alongside; done when every partition's lag is 0. CPU µs per reading (with its sightings).`,
      notes: [
        `${round(readingsPerSecond)} readings/s with their sightings (${round(recordsPerSecond)} Kafka records/s; ${round(sightings / Math.max(1, readings), 2)} sightings records per reading); all records in ${seconds.toFixed(1)} s from /readyz (including the consumer group join).`,
        `Outcomes: ${Object.entries(outcomes)
          .filter(([, n]) => n > 0)
          .map(([o, n]) => `${o} ${n}`)
          .join(', ')}.`,
      ],
      extra: { readings, sightings, seconds, readingsPerSecond, recordsPerSecond, outcomes, aggregatesTopic },
    };
  } finally {
    await admin.disconnect();
    await processor.stop();
  }
}
