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
import { followCount, nowUs, sustainedRate } from './replay-count.ts';
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
    const startUs = nowUs();
    const partitions = (text: string, topic: string) => samples(text, 'lethe_processor_consumer_lag_records').filter((x) => x.labels.topic === topic);
    const read = (text: string, topic: string, count: number) =>
      count === 0 || (partitions(text, topic).length > 0 && partitions(text, topic).every((x) => x.value === 0));
    const { samples: series, metrics: text } = await followCount({
      metrics: () => processor.metrics(),
      count: (m) => counter(m, 'lethe_processor_records_total', { topic: input.readings }),
      done: (consumed, m) => consumed >= readings && read(m, input.readings, readings) && read(m, input.sightings, sightings),
      describe: (consumed) => `${consumed} of ${readings} readings consumed`,
      progress: (line) => ctx.progress('5 processor', line),
    });
    const usage = watch.stop();
    const sustained = sustainedRate(series, readings);
    const seconds = (series.at(-1)!.us - startUs) / 1e6;
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
        `Real processor process, fresh consumer group, reading stage 4's ${readings} readings records and ${sightings} sightings records (3 partitions each) from the beginning, bench policy (${ctx.opts.windowSeconds} s windows); ` +
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
