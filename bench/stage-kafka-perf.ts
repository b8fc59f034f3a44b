// Stage 2, Kafka's own ceiling: org.apache.kafka.tools.ProducerPerformance (kafka-producer-perf-test)
// on the cached jars, records the size of a gateway readings record, acks=all, into a dedicated
// 3-partition topic (as many partitions as the readings topic). Its summary line is parsed.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { cpuAndRss, round, type BenchContext, type Row } from './context.ts';
import { ROOT, running, serverEnv } from './infra.ts';
import { ensureTopic, SCRATCH_CONFIGS } from './kafka-topics.ts';
import { ProcWatch } from './proc.ts';

export const PERF_PRODUCER_PROPS = ['acks=all', 'linger.ms=5', 'enable.idempotence=true'];

const SUMMARY =
  /(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th/;

export async function benchKafkaPerfTool(ctx: BenchContext): Promise<Row> {
  const { servers, payloads, opts } = ctx;
  const topic = 'bench.perf.v1';
  // The same record as stage 3 sends: a lamppost's readings record as the gateway writes it.
  const size = Buffer.byteLength(payloads.readingRecordSample);
  const admin = ctx.kafka.admin();
  await admin.connect();
  await ensureTopic(admin, { topic, partitions: 3, configs: SCRATCH_CONFIGS });
  await admin.disconnect();
  const args = [
    join(ROOT, 'infra/local/kafka.sh'),
    'tool',
    'kafka-producer-perf-test',
    '--topic',
    topic,
    '--num-records',
    String(opts.kafkaRecords),
    '--record-size',
    String(size),
    '--throughput',
    '-1',
    '--producer-props',
    `bootstrap.servers=${servers.kafkaBrokers.join(',')}`,
    ...PERF_PRODUCER_PROPS,
  ];
  ctx.progress('2 kafka-perf', `kafka-producer-perf-test: ${opts.kafkaRecords} records of ${size} B, ${PERF_PRODUCER_PROPS.join(' ')}`);
  // kafka.sh execs java, so the child's pid is the JVM's.
  const child = spawn('bash', args, { env: { ...process.env, ...serverEnv() }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const watch = new ProcWatch([{ name: 'kafka', pid: servers.pids.kafka }], 200).start();
  watch.add({ name: 'perf tool (Java)', pid: child.pid! });
  let out = '';
  let partial = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    // The tool prints a line every 5 s; show whole lines only.
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) ctx.progress('2 kafka-perf', line.trim());
  });
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const usage = watch.stop();
  const m = SUMMARY.exec(out);
  if (code !== 0 || !m) throw new Error(`kafka-producer-perf-test failed (exit ${code}):\n${out.slice(-2000)}`);
  const [, sent, perSec, mbPerSec, avg, max, p50, p95, p99, p999] = m.map(Number) as number[];
  return {
    id: '2',
    title: 'Kafka kafka-producer-perf-test (Java)',
    rate: round(perSec!),
    unit: 'records/s',
    latency: [
      { what: "send → ack, the tool's own figures (saturated: includes time queued in the client)", p50Ms: p50!, p99Ms: p99!, maxMs: max!, samples: sent! },
    ],
    ...cpuAndRss(usage, sent!),
    method: `ProducerPerformance, ${sent} records of ${size} B (a gateway readings record), --throughput -1, ${PERF_PRODUCER_PROPS.join(', ')}, 3-partition topic; its summary line.`,
    notes: [`${mbPerSec} MB/s, avg latency ${avg} ms, p95 ${p95} ms, p99.9 ${p999} ms. The tool's CPU includes JVM start-up.`],
    extra: { summary: m[0] },
  };
}
