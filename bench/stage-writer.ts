// Stage 6: the real writer alone. N aggregate records are put on the aggregates topic first —
// copies of the real ones stage 5's processor released (one per series), with a bench tag and
// consecutive 60 s windows going back in time, so every one is a distinct point and the series
// are as many as the pipeline's own (500 tag values per series would have InfluxDB spend a core
// indexing for minutes, slowing the stages after it) — then the writer starts
// in a group positioned just before them, and is timed until its points counter covers all N;
// then the read-only token must see every one of them in InfluxDB. It runs after the pipeline
// stage, so what InfluxDB does in the background after a bulk load does not slow that stage.
import { AggregateRecordSchema, TOPICS, type AggregateRecord } from '@lethe/schemas';
import { DEFAULT_POLICY_PATH, loadPolicy, topicSpecs } from '@lethe/privacy';
import { cpuAndRss, round, sleep, type BenchContext, type Row } from './context.ts';
import { startService } from './infra.ts';
import { flux } from './influx.ts';
import { ensureTopic, startGroupAtEnd } from './kafka-topics.ts';
import { ProcWatch } from './proc.ts';
import { followCount, nowUs, sustainedRate } from './replay-count.ts';
import { counter, histogram, histogramQuantile } from '../test/support/prom-text.ts';

const WINDOW_MS = 60_000;

/** Real aggregates to copy (stage 5's), or one environmental aggregate if there are none. */
async function templates(ctx: BenchContext, topic: string | undefined): Promise<AggregateRecord[]> {
  const found: AggregateRecord[] = [];
  if (topic) {
    const consumer = ctx.kafka.consumer({ groupId: `bench-${ctx.run}-templates`, allowAutoTopicCreation: false });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (found.length < 2000) found.push(AggregateRecordSchema.parse(JSON.parse(message.value!.toString())));
      },
    });
    for (let i = 0; i < 40 && found.length < 2000; i++) await sleep(100);
    await consumer.disconnect();
  }
  // One per series (a device's person-derived count shares its environmental record's series).
  const bySeries = new Map(found.map((r) => [`${r.measurement}|${JSON.stringify(Object.entries(r.tags).sort())}`, r]));
  if (bySeries.size > 0) return [...bySeries.values()];
  return [
    {
      v: 1,
      measurement: 'lamppost',
      tags: { district: 'central-and-western', device: 'LP-0001' },
      fields: { pm25_mean: 12.5, pm25_min: 10, pm25_max: 15, no2_mean: 30, readings: 12 },
      windowStart: 0,
      windowEnd: WINDOW_MS,
    },
  ];
}

export async function benchWriter(ctx: BenchContext, aggregatesTopic: string | undefined): Promise<Row> {
  const { servers, opts } = ctx;
  const n = opts.writerPoints;
  const group = `bench-${ctx.run}-writer`;
  const source = await templates(ctx, aggregatesTopic);
  // Distinct points: each series × consecutive 60 s windows going back from an hour ago.
  const base = Math.floor(Date.now() / WINDOW_MS) * WINDOW_MS - 3_600_000;
  const tag = `${ctx.run}`;
  const windows = Math.ceil(n / source.length);
  let fieldRows = 0;
  const values: string[] = [];
  for (let i = 0; i < n; i++) {
    const t = source[i % source.length]!;
    const windowStart = base - Math.floor(i / source.length) * WINDOW_MS;
    const record: AggregateRecord = { ...t, tags: { ...t.tags, bench: tag }, windowStart, windowEnd: windowStart + WINDOW_MS };
    fieldRows += Object.keys(record.fields).length;
    values.push(JSON.stringify(record));
  }
  const admin = ctx.kafka.admin();
  await admin.connect();
  const spec = topicSpecs(loadPolicy(DEFAULT_POLICY_PATH)).find((s) => s.topic === TOPICS.aggregates)!;
  await ensureTopic(admin, { topic: spec.topic, partitions: spec.numPartitions, configs: spec.configs });
  // The writer reads the unprefixed aggregates topic; its new group starts where our records do.
  await startGroupAtEnd(admin, group, TOPICS.aggregates);
  await admin.disconnect();
  const producer = ctx.kafka.producer();
  await producer.connect();
  // ≤ 1000 per request: a partition's batch must stay under the broker's 1 MB message.max.bytes.
  for (let i = 0; i < values.length; i += 1000) {
    await producer.send({ topic: TOPICS.aggregates, acks: -1, messages: values.slice(i, i + 1000).map((value, j) => ({ key: `bench-${i + j}`, value })) });
  }
  await producer.disconnect();
  ctx.progress('6 writer', `${n} aggregate records on ${TOPICS.aggregates} (${source.length} real series × ${windows} windows); starting the writer`);

  const writer = await startService(servers, 'writer', `${ctx.run}-stage6`, { KAFKA_GROUP_ID: group }, opts.cpuProfDir);
  try {
    const watch = new ProcWatch(
      [
        { name: 'writer', pid: writer.pid },
        { name: 'influxdb', pid: servers.pids.influxdb },
        { name: 'kafka', pid: servers.pids.kafka },
      ],
      500,
    ).start();
    const startUs = nowUs();
    const { samples: series, metrics: text } = await followCount({
      metrics: () => writer.metrics(),
      count: (m) => counter(m, 'lethe_writer_points_written_total'),
      done: (written) => written >= n,
      describe: (written) => `${written} of ${n} points written`,
      progress: (line) => ctx.progress('6 writer', line),
    });
    const usage = watch.stop();
    const seconds = (series.at(-1)!.us - startUs) / 1e6;
    const sustained = sustainedRate(series, n);
    const write = histogram(text, 'lethe_writer_write_duration_seconds');
    // Every point visible to the read-only token.
    const rows = await flux(
      servers,
      `from(bucket: "${servers.influx.bucket}") |> range(start: ${new Date(base - (windows + 2) * WINDOW_MS).toISOString()}, stop: ${new Date(base + WINDOW_MS).toISOString()})
        |> filter(fn: (r) => r.bench == "${tag}") |> group() |> count()`,
    );
    const visible = Number(rows[0]?._value ?? 0);
    const verifiedSeconds = (nowUs() - startUs) / 1e6;
    ctx.progress(
      '6 writer',
      `${round(sustained)} points/s sustained; ${n} points in ${seconds.toFixed(1)} s; InfluxDB shows ${visible} of ${fieldRows} field values`,
    );
    const ms = (s: number) => round(s * 1000, 1);
    return {
      id: '6',
      title: 'Writer alone (Kafka aggregates → InfluxDB)',
      rate: round(sustained),
      unit: 'points/s',
      latency: [
        {
          what: `one InfluxDB write of a Kafka batch (the writer's histogram, ${write.count} writes)`,
          p50Ms: ms(histogramQuantile(write, 0.5)),
          p99Ms: ms(histogramQuantile(write, 0.99)),
          samples: write.count,
        },
      ],
      ...cpuAndRss(usage, n),
      method:
        `Real writer process, ${n} aggregate records pre-filled on ${TOPICS.aggregates} (copies of stage 5's real aggregates: ${source.length} series × ${windows} consecutive 60 s windows, plus a bench tag), fresh group positioned before them; ` +
        `rate = lethe_writer_points_written_total between 10 % and 90 %, sampled every 100 ms; then a Flux count with the read-only token.`,
      notes: [
        `All ${n} points in ${seconds.toFixed(1)} s from /readyz (${round(n / seconds)} points/s including the group join); InfluxDB showed ${visible} of ${fieldRows} expected field values ${verifiedSeconds.toFixed(1)} s after /readyz.`,
      ],
      extra: { seconds, visible, fieldRows, writes: write.count },
    };
  } finally {
    await writer.stop();
  }
}
