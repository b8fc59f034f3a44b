// Stage 5: the real processor replaying stage 4's topics (readings and sightings the real gateway
// wrote) from the beginning, in a fresh consumer group and with its own output topics. Timed
// from /readyz until its records counter covers every input record; the sustained rate is read
// between 10 % and 90 % of them.
import { PRESENCE_BLOCK } from '@lethe/observability';
import { topicNames } from '@lethe/schemas';
import { cpuAndRss, round, sleep, type BenchContext, type Row } from './context.ts';
import { startService } from './infra.ts';
import { endOffsets } from './kafka-topics.ts';
import { ProcWatch } from './proc.ts';
import { counter } from '../test/support/prom-text.ts';

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
    for (;;) {
      text = await processor.metrics();
      const consumed =
        counter(text, 'lethe_processor_records_total', { topic: input.readings }) + counter(text, 'lethe_processor_records_total', { topic: input.sightings });
      series.push({ us: (performance.timeOrigin + performance.now()) * 1000, consumed });
      // Sightings are counted in whole blocks (presence metrics, P9): the last block may never show.
      if (consumed > total - PRESENCE_BLOCK) break;
      if (Date.now() > deadline) throw new Error(`the processor consumed ${consumed} of ${total} records in 10 minutes`);
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        ctx.progress('5 processor', `${consumed} of ${total} records consumed`);
      }
      await sleep(100);
    }
    const usage = watch.stop();
    const end = series.at(-1)!;
    const at = (f: number) => series.find((s) => s.consumed >= f * total)!;
    const lo = at(0.1);
    const hi = at(0.9);
    const sustained = ((hi.consumed - lo.consumed) * 1e6) / Math.max(1, hi.us - lo.us);
    const seconds = (end.us - startUs) / 1e6;
    const outcomes = Object.fromEntries(
      ['accepted', 'duplicate', 'late', 'expired', 'future', 'invalid'].map((o) => [o, counter(text, 'lethe_processor_records_total', { outcome: o })]),
    );
    const readingsPerSecond = (sustained * readings) / total;
    ctx.progress(
      '5 processor',
      `${round(sustained)} records/s sustained (${round(readingsPerSecond)} readings/s); all ${total} in ${seconds.toFixed(1)} s from ready`,
    );
    // Give the last windows a moment to be released, so stage 6 has real aggregates to copy.
    const aggregatesTopic = topicNames(own).aggregates;
    for (let i = 0; i < 40 && (await endOffsets(admin, aggregatesTopic)) === 0; i++) await sleep(250);
    return {
      id: '5',
      title: 'Processor replaying a pre-filled topic (windows, k-anonymity, DP)',
      rate: round(sustained),
      unit: 'records/s',
      latency: [],
      ...cpuAndRss(usage, total),
      method:
        `Real processor process, fresh consumer group, reading stage 4's ${readings} readings and ${sightings} sightings records (3 partitions each) from the beginning, bench policy (5 s windows); ` +
        `rate = lethe_processor_records_total between 10 % and 90 % of the input, sampled every 100 ms. CPU µs per record (reading or sighting).`,
      notes: [
        `${round(readingsPerSecond)} readings/s (with their ${round(sightings / Math.max(1, readings), 1)} sightings each); all records in ${seconds.toFixed(1)} s from /readyz (${round(total / seconds)} records/s, including the consumer group join).`,
        `Outcomes: ${Object.entries(outcomes)
          .filter(([, n]) => n > 0)
          .map(([o, n]) => `${o} ${n}`)
          .join(', ')}.`,
      ],
      extra: { readings, sightings, seconds, readingsPerSecond, outcomes, aggregatesTopic },
    };
  } finally {
    await admin.disconnect();
    await processor.stop();
  }
}
