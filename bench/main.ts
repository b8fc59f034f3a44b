#!/usr/bin/env node
// `pnpm bench`: Lethe's services on real Mosquitto, Kafka and InfluxDB, side by side with raw
// Mosquitto and Kafka's own producer perf tool, in one bounded run that stops by itself:
//
//   1 raw Mosquitto QoS 1          2 kafka-producer-perf-test      3 kafkajs batching producer
//   4 gateway alone                5 processor replaying stage 4's topics
//   6 writer alone                 7 full pipeline: a search for the maximum zero-loss rate, three
//                                    repeats there (5 % lower, at most twice, after one that falls
//                                    behind), a step at half of it, then a soak at half
//
// and writes bench/results/<date>.md and .json (<date>-2, … for later runs of the day). Its
// servers are its own (infra/local/up.sh on .local-bench and ports 21883/29092/28086, each
// overridable like infra/local's): started if down and stopped again at the end, left alone if
// they were already up. Options: options.ts.
//
//   pnpm bench                       # about 30 minutes (10 of them the soak)
//   BENCH_QUICK=1 pnpm bench         # about 4 minutes, small sizes (the results say so)
//   BENCH_SOAK_SECONDS=120 pnpm bench   # a shorter soak (the RSS target then says "not measured")
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createKafka } from '@lethe/kafka';
import { createLogger } from '@lethe/observability';
import type { BenchContext, Row } from './context.ts';
import { ensureServers, killChildren, machineInfo, stopServers } from './infra.ts';
import { loadBenchOptions } from './options.ts';
import { buildPayloads } from './payloads.ts';
import { writeBenchPolicy } from './policy.ts';
import { writeResults } from './report.ts';
import { benchMosquitto } from './stage-mosquitto.ts';
import { benchKafkaPerfTool } from './stage-kafka-perf.ts';
import { benchKafkajs } from './stage-kafkajs.ts';
import { wipeGatewaySessions } from './gateway-service.ts';
import { quiesce } from './quiesce.ts';
import { benchGateway } from './stage-gateway.ts';
import { benchProcessor } from './stage-processor.ts';
import { benchWriter } from './stage-writer.ts';
import { benchPipeline, type PipelineResult } from './stage-pipeline.ts';

async function main(): Promise<void> {
  const opts = loadBenchOptions();
  // Interrupted: end the services and helpers this run started (the servers stay up).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killChildren();
      process.exit(130);
    });
  }
  const started = Date.now();
  const progress = (stage: string, message: string) => console.error(`[bench +${Math.round((Date.now() - started) / 1000)}s] ${stage}: ${message}`);
  const servers = await ensureServers((line) => progress('setup', line));
  const run = `${new Date().toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(3).toString('hex')}`;
  // kafkajs's start-up warnings (partitioner change) are noise here; errors still show.
  const logger = createLogger({ service: 'bench', level: 'error' });
  const payloads = await buildPayloads();
  progress(
    'setup',
    `run ${run}; ${payloads.devices.length} devices, payload ${payloads.meanPayloadBytes} B (lamppost ${payloads.lamppostPayloadBytes} B), readings record ${payloads.readingRecordBytes} B, ${payloads.recordsPerReading.toFixed(1)} Kafka records per reading (${payloads.sightingsPerReading.toFixed(1)} sightings)`,
  );
  const ctx: BenchContext = {
    opts,
    servers,
    payloads,
    run,
    policyFile: writeBenchPolicy(servers.localDir, opts.windowSeconds),
    kafka: createKafka({ brokers: servers.kafkaBrokers, clientId: 'lethe-bench', logger }),
    logger,
    progress,
  };
  const machine = await machineInfo(servers);
  // Sessions a crashed earlier run may have left in Mosquitto would take a share of every reading.
  await wipeGatewaySessions(ctx);
  const rows: Row[] = [];
  let pipeline: PipelineResult | undefined;
  let error: string | undefined;
  try {
    const stages = opts.stages;
    if (stages.has('mosquitto')) rows.push(await quiesce(ctx).then(() => benchMosquitto(ctx)));
    if (stages.has('kafka-perf')) rows.push(await quiesce(ctx).then(() => benchKafkaPerfTool(ctx)));
    if (stages.has('kafkajs')) rows.push(await quiesce(ctx).then(() => benchKafkajs(ctx)));
    if (stages.has('gateway')) rows.push(await quiesce(ctx).then(() => benchGateway(ctx)));
    if (stages.has('processor')) {
      const gateway = rows.find((r) => r.id === '4');
      if (!gateway) throw new Error("the processor stage replays the gateway stage's topics: run it with the gateway stage (BENCH_STAGES=gateway,processor)");
      await quiesce(ctx);
      rows.push(await benchProcessor(ctx, gateway.extra.topicPrefix as string));
    }
    if (stages.has('pipeline')) {
      // Rates in readings/s: the slowest stage that carries readings (the writer carries aggregates, a few hundred per window).
      const candidates = rows
        .filter((r) => ['1', '4', '5'].includes(r.id))
        .map((r) => ({ id: r.id, title: r.title, rate: r.id === '5' ? (r.extra.readingsPerSecond as number) : r.rate }));
      const slowest = candidates.sort((a, b) => a.rate - b.rate)[0];
      const base = opts.baseRate ?? slowest?.rate;
      if (!base) throw new Error('the pipeline stage needs a base rate: run it after the gateway stage, or set BENCH_BASE_RATE');
      const basis = opts.baseRate ? `BENCH_BASE_RATE = ${opts.baseRate} readings/s` : `the slowest stage, ${slowest!.title}: ${Math.round(base)} readings/s`;
      await quiesce(ctx);
      pipeline = await benchPipeline(ctx, base, basis);
      rows.push(...pipeline.rows);
    }
    // Last: InfluxDB keeps compacting for a while after a bulk load, which would slow the pipeline.
    if (stages.has('writer')) {
      await quiesce(ctx);
      rows.push(await benchWriter(ctx, rows.find((r) => r.id === '5')?.extra.aggregatesTopic as string | undefined));
    }
  } catch (err) {
    // Report what was measured before the failure, then fail.
    error = err instanceof Error ? err.message : String(err);
    console.error(err);
  } finally {
    if (servers.startedHere && !opts.keepServers) {
      progress('teardown', 'stopping the servers this run started (infra/local/down.sh)');
      await stopServers();
    }
  }
  const files = writeResults({
    dir: opts.out ?? join(import.meta.dirname, 'results'),
    machine,
    opts,
    rows,
    pipeline,
    payloads,
    run,
    startedAt: new Date(started),
    seconds: (Date.now() - started) / 1000,
    error,
  });
  progress('done', `results in ${files.join(' and ')}`);
  if (error) throw new Error(`the bench stopped early: ${error}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
