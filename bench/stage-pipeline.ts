// Stage 7 (and 8): the whole pipeline — devices → Mosquitto → gateway → Kafka → processor →
// Kafka → writer → InfluxDB. A search for the maximum sustainable rate (rate-search.ts), steps
// repeated at the maximum it found (or lower, until they hold), one at half of it, then a soak at half while RSS keeps being
// sampled; or, with BENCH_RATES, fixed percentages of the slowest stage. One step after the other
// on the same processes, each after a warm-up at its rate.
// Per step: loss and publish → Kafka from the readings topic (readings-audit.ts), window
// close → visible in InfluxDB (window-visibility.ts), CPU per reading and peak RSS per process.
import { DEFAULT_POLICY_PATH, loadPolicy, mixEnd, topicSpecs } from '@lethe/privacy';
import kafkajs from 'kafkajs';
import { TOPICS, topicNames } from '@lethe/schemas';
import { cpuAndRss, round, sleep, type BenchContext, type Latency, type Row } from './context.ts';
import { gatewayConnections, gatewayCounts, startGateway, stopGateway, wipeGatewaySessions } from './gateway-service.ts';
import { Histogram } from './histogram.ts';
import { startService, type Service } from './infra.ts';
import { ensureTopic, startGroupAtEnd } from './kafka-topics.ts';
import { PUBLISHER, startPublisher } from './publisher.ts';
import type { LoadgenSummary } from './loadgen.ts';
import { cpuSeconds, peakBetween, ProcWatch, type ProcUsage, type RssSample } from './proc.ts';
import { chargeScrapesToBench, countScrapes, measureScrapeCost } from './scrape-cost.ts';
import { counter, histogram, histogramDelta, histogramQuantile, samples, type PromHistogram } from '../test/support/prom-text.ts';
import { countReadingsInInflux, readingsPerWindow, uncountedIn } from './influx-audit.ts';
import { auditReadings } from './readings-audit.ts';
import { rssTrends, type RssSpan, type RssTrend } from './rss-trend.ts';
import { bounds, nextRate, nextRepeatRate, type RepeatOptions, type SearchOptions, type Trial } from './rate-search.ts';
import { startVisibilityPoller, windowsOnTimeSoFar, type WindowSeen } from './window-visibility.ts';

/** The processor's WINDOW_GRACE_SECONDS default: a window closes this long after its end. */
const GRACE_SECONDS = 5;
/** A step stops when the gateway is this many seconds of its rate behind. */
const BACKLOG_SECONDS = 5;
const { ConfigResourceTypes } = kafkajs;

/** How long the bench's readings topic keeps records: the whole stage and its audit. */
const AUDIT_RETENTION_MS = 6 * 3600_000;
/** The gateway may take this long after a step's last publish to forward everything. */
const DRAIN_SECONDS = 2;
/**
 * The repeats at the maximum (rate-search.ts, nextRepeatRate): 5 % lower after one that is not
 * sustained, twice at most. On 2026-12-06 every repeat at the search's maximum fell behind, in
 * two runs, and the headline was the one search step that had passed.
 */
const REPEATS: Omit<RepeatOptions, 'repeats'> = { stepDown: 0.05, maxStepDowns: 2 };

/**
 * Whether the pipeline kept up with a step, as far as can be told at once: the publisher kept its
 * schedule, nothing went unacknowledged and the gateway drained within DRAIN_SECONDS. Loss is
 * audited from Kafka after the run (report.ts: sustained).
 */
export function kept(s: Pick<StepResult, 'published' | 'drainSeconds'>): boolean {
  return !s.published.stoppedEarly && s.published.behindTicks === 0 && s.published.failed.length === 0 && s.drainSeconds <= DRAIN_SECONDS;
}

/** What steers the search and the repeats: the step kept up, and its windows were visible in time as far as the run could tell. */
export function keptUp(s: Pick<StepResult, 'published' | 'drainSeconds' | 'windowsInTime'>): boolean {
  return kept(s) && s.windowsInTime;
}

/** What a step is for: a trial of the search, a repeat at the maximum it found, half of that, the soak, or one of BENCH_RATES. */
export type StepRole = 'search' | 'max' | 'half' | 'soak' | 'fixed';

export interface StepResult {
  label: string;
  role: StepRole;
  /** The step's rate in percent of the base rate. */
  percent: number;
  targetRate: number;
  seconds: number;
  published: LoadgenSummary;
  forwarded: number;
  drainSeconds: number;
  achievedRate: number;
  usage: ProcUsage[];
  peakRssMb: Record<string, number>;
  gatewayAck: PromHistogram;
  startMs: number;
  endMs: number;
  /** The bench's /metrics scrapes of each service during the step, charged to the bench (scrape-cost.ts). */
  scrapes: Record<string, number>;
  /** The measured part (after the warm-up, drain included) on the RSS sampler's clock, seconds. */
  watchFrom: number;
  watchTo: number;
  /** missing: acknowledged, not in Kafka; uncountedInInflux: in Kafka, not counted in InfluxDB's device points of the step's windows. */
  loss?: { expected: number; found: number; missing: number; duplicates: number; uncountedInInflux: number };
  /** Publish → Kafka of every reading not held by the write mix. */
  publishToKafka?: ReturnType<Histogram['summaryMs']>;
  /** Publish → Kafka of the readings taken in the first slot of an epoch, held by the write mix until its end or until it is full (P9, by design). */
  publishToKafkaHeld?: ReturnType<Histogram['summaryMs']>;
  windows: WindowSeen[];
  /**
   * The step's last windows, which no later reading closed: a window closes when a reading
   * stamped `grace` after its end arrives (event time), or, when the input has stopped, after
   * the processor's WINDOW_MAX_WAIT_SECONDS (by default the policy's max lateness, 60 s). Not counted in "window close → visible".
   */
  windowsAfterInput: WindowSeen[];
  windowsNeverSeen: number;
  /** Its windows were visible in InfluxDB in time, as far as the run could tell at its end (with `kept`, what steers the search and the repeats). */
  windowsInTime: boolean;
  /** Machine CPU (cores) used by processes this step does not watch: other users of the machine. */
  otherCores: number;
}

/** Every acknowledged reading accounted for, from Mosquitto's PUBACK to InfluxDB's device points (influx-audit.ts). */
export interface EndToEnd {
  acknowledged: number;
  refusedByGateway: number;
  /** The processor's readings outcomes other than accepted and duplicate (late, expired, future, invalid). */
  droppedByProcessor: Record<string, number>;
  countedInInflux: number;
  /** Acknowledged, neither refused nor dropped, and not counted in InfluxDB. */
  missing: number;
  settledAfterSeconds: number;
}

export interface PipelineResult {
  endToEnd: EndToEnd;
  rows: Row[];
  steps: StepResult[];
  baseRate: number;
  basis: string;
  /** Sampled over the whole stage; the slopes over `span` (the soak). */
  rss: { seconds: number; span: RssSpan; trends: RssTrend[]; samples: RssSample[]; heap: ServiceHeap[] };
  /** CPU µs of one /metrics scrape per service, measured idle before the steps; each step's scrapes × this are the bench's. */
  scrapeCpuUs: Record<string, number>;
}

/** Where a service's memory is at the end of the run, from its own metrics (prom-client's Node.js defaults). */
export interface ServiceHeap {
  name: string;
  rssMb: number;
  /** JS objects, live and not yet collected. */
  heapUsedMb: number;
  /** Memory V8 has reserved for the JS heap (used + free pages it keeps). */
  heapTotalMb: number;
  /** Buffers and other memory outside the JS heap that V8 knows of. */
  externalMb: number;
}

export async function benchPipeline(ctx: BenchContext, baseRate: number, basis: string): Promise<PipelineResult> {
  const { servers, payloads, opts } = ctx;
  const prefix = `bench-${ctx.run}-pipe.`;
  const group = `bench-${ctx.run}-pipe`;
  const readingsTopic = topicNames(prefix).readings;
  const policy = loadPolicy(ctx.policyFile);
  const admin = ctx.kafka.admin();
  await admin.connect();
  // The readings topic as the gateway would create it, plus LogAppendTime for the latency audit.
  const readingsSpec = topicSpecs(policy, { prefix, readings: 3, sightings: 3 }).find((s) => s.topic === readingsTopic)!;
  // Kept for the stage and its audit: with the policy's raw-data TTL (15 min) a long soak's first
  // steps were deleted before the audit read them. Its readings are the bench's own. Set again once
  // the gateway has started: it puts back the policy's configs, and alterConfigs replaces them all.
  const auditConfigs = { ...readingsSpec.configs, 'message.timestamp.type': 'LogAppendTime', 'retention.ms': String(AUDIT_RETENTION_MS) };
  await ensureTopic(admin, { topic: readingsTopic, partitions: readingsSpec.numPartitions, configs: auditConfigs });
  // The processor writes the unprefixed partials and aggregates (the writer reads no other):
  // its releaser and the writer start in new groups at the current end of those topics.
  for (const spec of topicSpecs(loadPolicy(DEFAULT_POLICY_PATH)).filter((s) => s.topic === TOPICS.partials || s.topic === TOPICS.aggregates)) {
    await ensureTopic(admin, { topic: spec.topic, partitions: spec.numPartitions, configs: spec.configs });
  }
  await startGroupAtEnd(admin, `${group}-releaser`, TOPICS.partials);
  await startGroupAtEnd(admin, `${group}-writer`, TOPICS.aggregates);
  await admin.disconnect();

  await wipeGatewaySessions(ctx);
  const since = Date.now();
  const services: Service[] = [];
  let loadgen: Awaited<ReturnType<typeof startPublisher>> | undefined;
  try {
    services.push(
      await startService(servers, 'writer', `${ctx.run}-stage7`, { KAFKA_GROUP_ID: `${group}-writer`, POLICY_FILE: ctx.policyFile }, opts.cpuProfDir),
    );
    services.push(
      await startService(
        servers,
        'processor',
        `${ctx.run}-stage7`,
        {
          KAFKA_GROUP_ID: group,
          KAFKA_INPUT_TOPIC_PREFIX: prefix,
          KAFKA_TOPIC_PREFIX: '',
          KAFKA_PARTITIONS: '3',
          POLICY_FILE: ctx.policyFile,
        },
        opts.cpuProfDir,
      ),
    );
    const gateway = await startGateway(ctx, `${ctx.run}-stage7`, prefix);
    services.push(gateway);
    const configAdmin = ctx.kafka.admin();
    await configAdmin.connect();
    await configAdmin.alterConfigs({
      validateOnly: false,
      resources: [
        { type: ConfigResourceTypes.TOPIC, name: readingsTopic, configEntries: Object.entries(auditConfigs).map(([name, value]) => ({ name, value })) },
      ],
    });
    await configAdmin.disconnect();
    loadgen = await startPublisher(opts.loadgen, {
      url: servers.mqttUrl,
      fleetSecret: servers.fleetSecret,
      clientIdPrefix: `bench-pipe-${ctx.run}`,
      devices: payloads.devices,
      maxInFlightPerDevice: 200,
    });
    const watch = new ProcWatch(
      [
        ...services.map((s) => ({ name: s.name, pid: s.pid })),
        { name: 'mosquitto', pid: servers.pids.mosquitto },
        { name: 'kafka', pid: servers.pids.kafka },
        { name: 'influxdb', pid: servers.pids.influxdb },
        { name: PUBLISHER[opts.loadgen], pid: loadgen.pid },
        { name: 'bench', pid: process.pid },
      ],
      2000,
    ).start();
    const scrapeCount = new Map<string, number>();
    for (const s of services) countScrapes(s, scrapeCount);
    ctx.progress('7 pipeline', "measuring the CPU one /metrics scrape costs each service, to charge the bench's scrapes to the bench");
    const scrapeCost = await measureScrapeCost(services, cpuSeconds);
    ctx.progress(
      '7 pipeline',
      `  one scrape: ${Object.entries(scrapeCost)
        .map(([name, sec]) => `${name} ${round(sec * 1e6)} µs`)
        .join(', ')}`,
    );
    const poller = startVisibilityPoller(servers, { windowSeconds: opts.windowSeconds, graceSeconds: GRACE_SECONDS, since });

    const steps: StepResult[] = [];
    let seqStart = 1;
    let totalAcked = 0;
    /** Publishes at `rate` for the warm-up, then measures `seconds` of it, then waits for the gateway to drain. */
    const runStep = async (label: string, role: StepRole, rate: number, seconds: number): Promise<StepResult> => {
      rate = Math.max(1, Math.round(rate));
      ctx.progress('7 pipeline', `${label}: ${rate} readings/s, ${opts.warmupSeconds} s warm-up then ${seconds} s measured`);
      if (opts.warmupSeconds > 0) {
        const warm = await loadgen!.run({ rate, seconds: opts.warmupSeconds, seqStart, allow: Infinity });
        totalAcked += warm.acked;
        seqStart = Math.max(seqStart, ...Object.values(warm.seqEnd));
      }
      const before = watch.snapshot();
      const scrapesBefore = new Map(scrapeCount);
      const t0 = watch.elapsed();
      const ackBefore = histogram(await gateway.metrics(), 'lethe_gateway_ack_latency_seconds');
      const countsBefore = await gatewayCounts(gateway);
      const startMs = Date.now();
      let lastLog = Date.now();
      // A step the pipeline cannot carry is stopped once the gateway is more than
      // BACKLOG_SECONDS of readings behind: an ever longer queue in Mosquitto only slows
      // everything down (and past max_queued_messages Mosquitto drops) and would spoil the
      // steps after it.
      const maxBacklog = Math.max(5000, rate * BACKLOG_SECONDS);
      let acked = 0;
      let overloaded = false;
      let watching = true;
      const watchdog = (async () => {
        while (watching) {
          await sleep(500);
          const c = await gatewayCounts(gateway);
          const behind = totalAcked + acked - c.forwarded - c.rejected;
          if (!overloaded && behind > maxBacklog) {
            overloaded = true;
            ctx.progress('7 pipeline', `  ${label}: the gateway is ${behind} readings behind (> ${BACKLOG_SECONDS} s at this rate): stopping the step`);
            loadgen!.stop();
          }
          if (Date.now() - lastLog >= 10_000) {
            lastLog = Date.now();
            ctx.progress(
              '7 pipeline',
              `  ${label}: ${acked} published, ${c.forwarded - countsBefore.forwarded} forwarded, ${Math.round((Date.now() - startMs) / 1000)} s`,
            );
          }
        }
      })();
      const published = await loadgen!.run({ rate, seconds, seqStart, allow: Infinity }, (p) => {
        acked = p.acked;
      });
      watching = false;
      await watchdog;
      totalAcked += published.acked;
      const publishEnd = Date.now();
      // Drain: the gateway has forwarded (or refused) everything Mosquitto acknowledged.
      let counts = await gatewayCounts(gateway);
      const drainDeadline = Date.now() + 120_000;
      while (counts.forwarded + counts.rejected < totalAcked && Date.now() < drainDeadline) {
        await sleep(100);
        counts = await gatewayCounts(gateway);
      }
      const endMs = Date.now();
      const after = watch.snapshot();
      const scrapes = Object.fromEntries([...scrapeCount].map(([name, n]) => [name, n - (scrapesBefore.get(name) ?? 0)]));
      const windowsInTime = await windowsOnTime(startMs, publishEnd);
      const forwarded = counts.forwarded - countsBefore.forwarded;
      const usage = chargeScrapesToBench(
        after.map((u) => ({ ...u, cpuSeconds: u.cpuSeconds - (before.find((b) => b.name === u.name)?.cpuSeconds ?? 0) })),
        scrapes,
        scrapeCost,
      );
      const achievedRate = published.acked / published.seconds;
      const step: StepResult = {
        label,
        role,
        percent: round((rate / baseRate) * 100, 1),
        targetRate: rate,
        seconds,
        published,
        forwarded,
        drainSeconds: (endMs - publishEnd) / 1000,
        achievedRate,
        usage,
        scrapes,
        peakRssMb: peakBetween(watch.samples, t0, watch.elapsed()),
        gatewayAck: histogramDelta(histogram(await gateway.metrics(), 'lethe_gateway_ack_latency_seconds'), ackBefore),
        startMs,
        endMs,
        watchFrom: t0,
        watchTo: watch.elapsed(),
        windows: [],
        windowsAfterInput: [],
        windowsNeverSeen: 0,
        windowsInTime,
        otherCores: watch.otherCores(before, after),
      };
      steps.push(step);
      ctx.progress(
        '7 pipeline',
        `  ${label}: ${published.acked} published at ${round(achievedRate)}/s in ${published.seconds.toFixed(1)} s${overloaded ? ' (stopped: overloaded)' : ''}, ${forwarded} forwarded, drained ${step.drainSeconds.toFixed(1)} s after the last publish${windowsInTime ? '' : ', windows late in InfluxDB'}${keptUp(step) ? '' : ': not sustained'}`,
      );
      seqStart = Math.max(seqStart, ...Object.values(published.seqEnd));
      // An overloaded step leaves queues behind the gateway too (Kafka lag, open windows): let them go before the next.
      if (!keptUp(step)) await sleep(BACKLOG_SECONDS * 2000);
      return step;
    };
    /**
     * Whether the windows a step's readings closed (as the report counts them) were visible in
     * InfluxDB in time: the report would call a step with late windows not sustained, so the
     * search and the repeats must not build on it. They closed by the step's last publish; the
     * answer waits for the last of them to show and settle (a few seconds), at most a minute.
     */
    const windowsOnTime = async (startMs: number, publishEnd: number): Promise<boolean> => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        await sleep(500);
        const ws = poller.watched().filter((w) => w.windowStart >= startMs - opts.windowSeconds * 1000 && w.closesAt <= publishEnd);
        const verdict = windowsOnTimeSoFar(ws, Date.now(), Date.now() < deadline ? undefined : 0);
        if (verdict !== undefined) return verdict;
      }
    };

    let half: number;
    if (opts.ratePercents) {
      for (const percent of opts.ratePercents) await runStep(`${percent} %`, 'fixed', (baseRate * percent) / 100, opts.stepSeconds);
      half = baseRate / 2;
    } else {
      const trials: Trial[] = [];
      const search: SearchOptions = { start: baseRate / 2, growth: 1.25, precision: 0.1, maxTrials: opts.searchTrials, floor: 100 };
      for (let rate = nextRate(trials, search); rate !== undefined; rate = nextRate(trials, search)) {
        const step = await runStep(`search ${trials.length + 1}`, 'search', rate, opts.stepSeconds);
        trials.push({ rate: step.targetRate, sustained: keptUp(step) });
      }
      const { lo } = bounds(trials);
      if (lo === 0) throw new Error(`the pipeline sustained none of the rates tried (${trials.map((t) => t.rate).join(', ')} readings/s)`);
      ctx.progress(
        '7 pipeline',
        `the search found ${lo} readings/s; ${opts.repeats} measured step(s) there, ${REPEATS.stepDown * 100} % lower after one that is not sustained`,
      );
      const repeats: Trial[] = [];
      const repeatOptions = { ...REPEATS, repeats: opts.repeats };
      for (let rate = nextRepeatRate(lo, repeats, repeatOptions); rate !== undefined; rate = nextRepeatRate(lo, repeats, repeatOptions)) {
        const below = Math.round((1 - rate / lo) * 100);
        const n = repeats.filter((t) => t.rate === rate).length + 1;
        const step = await runStep(`max ${n}/${opts.repeats}${below > 0 ? ` at −${below} %` : ''}`, 'max', rate, opts.stepSeconds);
        repeats.push({ rate, sustained: keptUp(step) });
      }
      half = repeats.at(-1)!.rate / 2;
      await runStep('half', 'half', half, opts.stepSeconds);
    }
    if (opts.soakSeconds > 0) await runStep('soak', 'soak', half, opts.soakSeconds);
    // The last windows close a window + grace after the last reading; wait (≤ 60 s more) until
    // every window of the publishing time has shown up in InfluxDB.
    await sleep((opts.windowSeconds + GRACE_SECONDS + 2) * 1000);
    const lastPublish = Math.max(...steps.map((s) => s.startMs + s.published.seconds * 1000));
    for (let i = 0; i < 120 && poller.unseenBefore(lastPublish) > 0; i++) await sleep(500);
    // The window holding the last reading has no later reading to close it: the processor closes
    // it WINDOW_MAX_WAIT_SECONDS after its end (unset in the bench: the policy's max lateness).
    // Counting before then missed it whenever the last full window had closed by event time (a
    // step ending more than the grace into a window).
    const windowMs = opts.windowSeconds * 1000;
    const lastWindowCloses = Math.floor(lastPublish / windowMs) * windowMs + windowMs + policy.rawData.maxLateness;
    if (Date.now() < lastWindowCloses) {
      ctx.progress(
        '7 pipeline',
        `waiting ${round((lastWindowCloses - Date.now()) / 1000)} s for the processor to close the last window (WINDOW_MAX_WAIT_SECONDS after its end)`,
      );
      await sleep(lastWindowCloses - Date.now() + 1000);
    }
    const { seen: windows, neverSeen } = await poller.stop();
    // End to end: what Mosquitto acknowledged (warm-ups included), less what the services refused, against InfluxDB's counts.
    const refused = (await gatewayCounts(gateway)).rejected;
    const processor = services.find((s) => s.name === 'processor')!;
    const dropped = Object.fromEntries(
      samples(await processor.metrics(), 'lethe_processor_records_total')
        .filter((x) => x.labels.topic === readingsTopic && x.labels.outcome !== 'accepted' && x.labels.outcome !== 'duplicate' && x.value > 0)
        .map((x) => [x.labels.outcome!, x.value]),
    );
    ctx.progress('7 pipeline', `auditing InfluxDB: are the ${totalAcked} acknowledged readings counted in the devices' points?`);
    const influx = await countReadingsInInflux(servers, { fromMs: since - 10_000, toMs: Date.now() + 1000, windowSeconds: opts.windowSeconds });
    const droppedTotal = Object.values(dropped).reduce((n, x) => n + x, 0);
    const endToEnd: EndToEnd = {
      acknowledged: totalAcked,
      refusedByGateway: refused,
      droppedByProcessor: dropped,
      countedInInflux: influx.counted,
      missing: totalAcked - refused - droppedTotal - influx.counted,
      settledAfterSeconds: influx.settledAfterSeconds,
    };
    ctx.progress(
      '7 pipeline',
      `  InfluxDB counts ${influx.counted} readings: ${endToEnd.missing} missing, ${refused} refused by the gateway, ${droppedTotal} dropped by the processor`,
    );
    const mb = (bytes: number) => round(bytes / 2 ** 20, 1);
    const heap = await Promise.all(
      services.map(async (s): Promise<ServiceHeap> => {
        const text = await s.metrics();
        return {
          name: s.name,
          rssMb: mb(counter(text, 'lethe_process_resident_memory_bytes')),
          heapUsedMb: mb(counter(text, 'lethe_nodejs_heap_size_used_bytes')),
          heapTotalMb: mb(counter(text, 'lethe_nodejs_heap_size_total_bytes')),
          externalMb: mb(counter(text, 'lethe_nodejs_external_memory_bytes')),
        };
      }),
    );
    const rssSeconds = watch.elapsed();
    watch.stop();
    const rssSamples = watch.samples;

    ctx.progress('7 pipeline', `auditing ${readingsTopic}: every acknowledged (device, seq) and its publish → Kafka time`);
    let lastAuditLog = 0;
    const inKafka = { windowMs: opts.windowSeconds * 1000, counts: new Map<number, number>() };
    const audits = await auditReadings(
      ctx.kafka,
      readingsTopic,
      steps.map((s) => ({ seqStart: s.published.seqStart, seqEnd: s.published.seqEnd, failed: s.published.failed })),
      (read, total) => {
        if (Date.now() - lastAuditLog > 5000) {
          lastAuditLog = Date.now();
          ctx.progress('7 pipeline', `  audit: ${read} of ${total} records read`);
        }
      },
      inKafka,
      (ts) => mixEnd(policy, ts) !== undefined,
    );
    // Each step answers for the windows from the previous step's last publish to its own (its warm-up included).
    const inInflux = await readingsPerWindow(servers, { fromMs: since - 10_000, toMs: Date.now() + 1000, windowSeconds: opts.windowSeconds });
    const publishEndOf = (s: StepResult) => s.startMs + s.published.seconds * 1000;
    for (const [i, s] of steps.entries()) {
      const a = audits[i]!;
      const from = i === 0 ? 0 : publishEndOf(steps[i - 1]!);
      const uncountedInInflux = uncountedIn(from, publishEndOf(s), inKafka.counts, inInflux);
      s.loss = { expected: a.expected, found: a.found, missing: a.missing, duplicates: a.duplicates, uncountedInInflux };
      s.publishToKafka = a.latency.summaryMs();
      if (a.heldLatency.n > 0) s.publishToKafkaHeld = a.heldLatency.summaryMs();
      // Windows that start during the step (the first one after its start).
      const inStep = windows.filter((w) => w.windowStart >= s.startMs - opts.windowSeconds * 1000 && w.windowStart < s.endMs);
      const closedByData = (w: WindowSeen) => w.closesAt <= s.startMs + s.published.seconds * 1000;
      s.windows = inStep.filter(closedByData);
      s.windowsAfterInput = inStep.filter((w) => !closedByData(w));
      // Windows wholly inside the publishing time must have data; one never seen in InfluxDB is a failure.
      s.windowsNeverSeen = neverSeen.filter((t) => t >= s.startMs && t + opts.windowSeconds * 1000 <= s.startMs + s.published.seconds * 1000).length;
    }

    const soak = steps.find((s) => s.role === 'soak');
    const span: RssSpan = soak ? { what: 'soak', from: soak.watchFrom, to: soak.watchTo } : { what: 'second half', from: rssSeconds / 2, to: rssSeconds };
    const trends = rssTrends(rssSamples, span);

    const rows = steps.map((s): Row => {
      const visible = new Histogram();
      const first = new Histogram();
      for (const w of s.windows) {
        visible.record((w.completeAt - w.closesAt) * 1000);
        first.record((w.firstSeenAt - w.closesAt) * 1000);
      }
      const v = visible.summaryMs();
      const f = first.summaryMs();
      const ack = s.gatewayAck;
      const ms = (x: number) => round(x * 1000, 1);
      // The report's table of steps reads the first three by position (report.ts): figures added
      // later go at the end.
      const latency: Latency[] = [
        {
          what: 'device publish → readings record appended in Kafka (LogAppendTime − ts, every reading not held by the write mix)',
          p50Ms: s.publishToKafka!.p50,
          p99Ms: s.publishToKafka!.p99,
          maxMs: s.publishToKafka!.max,
          samples: s.publishToKafka!.n,
        },
        {
          what: 'MQTT arrival at the gateway → Kafka ack (gateway histogram, bucket-interpolated)',
          p50Ms: ms(histogramQuantile(ack, 0.5)),
          p99Ms: ms(histogramQuantile(ack, 0.99)),
          samples: ack.count,
        },
        {
          what: `window close (end + ${GRACE_SECONDS} s grace) → all its devices' reading counts visible in InfluxDB (read-only token, polled every 500 ms), per window`,
          p50Ms: v.p50,
          p99Ms: v.p99,
          maxMs: v.max,
          samples: v.n,
        },
        { what: 'window close → first reading counts visible in InfluxDB, per window', p50Ms: f.p50, p99Ms: f.p99, maxMs: f.max, samples: f.n },
        ...(s.publishToKafkaHeld
          ? [
              {
                what: 'device publish → readings record appended in Kafka, readings of the first slot of an epoch (held by the write mix until its end or until full, P9; not in the first figure)',
                p50Ms: s.publishToKafkaHeld.p50,
                p99Ms: s.publishToKafkaHeld.p99,
                maxMs: s.publishToKafkaHeld.max,
                samples: s.publishToKafkaHeld.n,
              },
            ]
          : []),
      ];
      return {
        id: `7 ${s.label}`,
        title: `Full pipeline at ${s.label} (${s.targetRate} readings/s)`,
        rate: round(s.achievedRate),
        unit: 'readings/s',
        latency,
        ...cpuAndRss(s.usage, Math.max(1, s.forwarded)),
        peakRssMb: Object.fromEntries(Object.entries(s.peakRssMb).map(([k, mb]) => [k, round(mb)])),
        otherCores: round(s.otherCores, 2),
        method:
          `Devices publish QoS 1 at ${s.targetRate} readings/s (${s.percent} % of ${round(baseRate)}) for ${s.seconds} s through Mosquitto, the real gateway (MQTT_CONNECTIONS ${gatewayConnections(ctx)}), processor (${opts.windowSeconds} s windows, ${GRACE_SECONDS} s grace) and writer into InfluxDB; ` +
          `rate = readings acknowledged by Mosquitto ÷ publishing time; loss from the readings topic; CPU per reading forwarded, including the drain. ` +
          `The bench's /metrics scrapes in the step (${Object.entries(s.scrapes)
            .map(([name, n]) => `${name} ${n}`)
            .join(', ')}) are charged to the bench at ${Object.entries(scrapeCost)
            .map(([name, sec]) => `${name} ${round(sec * 1e6)}`)
            .join(', ')} µs of CPU each (measured idle before the steps).`,
        notes: [
          `Loss: ${s.loss!.missing} of ${s.loss!.expected} acknowledged readings missing from Kafka (${s.loss!.duplicates} duplicates); ${s.published.failed.length} publishes not acknowledged by Mosquitto; gateway drained ${s.drainSeconds.toFixed(1)} s after the last publish.`,
          `${s.windows.length} windows seen in InfluxDB${s.windowsAfterInput.length > 0 ? `, and ${s.windowsAfterInput.length} more that ended within the grace of the step's last publish: no later reading closed them, so the processor closed them once the input had stopped for WINDOW_MAX_WAIT_SECONDS (60 s), or the next step's readings did; visible ${s.windowsAfterInput.map((w) => `${round((w.completeAt - w.closesAt) / 1000, 1)} s`).join(', ')} after end + grace, not counted above` : ''}${s.windowsNeverSeen > 0 ? `; **${s.windowsNeverSeen} windows of the publishing time not seen within 60 s of closing**` : ''}. CPU of processes outside this stage (other users of the machine, the kernel): ${round(s.otherCores, 2)} cores on average.`,
          ...(s.published.stoppedEarly
            ? [
                `**Overloaded: stopped after ${s.published.seconds.toFixed(1)} of ${s.seconds} s**, when the gateway was more than ${BACKLOG_SECONDS} s of readings behind; the rate is what was published until then.`,
              ]
            : []),
          ...(s.published.behindTicks > 0
            ? [`The publisher fell behind its schedule in ${s.published.behindTicks} ticks (every device at 200 unacknowledged).`]
            : []),
        ],
        extra: {
          targetRate: s.targetRate,
          loss: s.loss,
          drainSeconds: s.drainSeconds,
          forwarded: s.forwarded,
          windows: s.windows.length,
          windowsNeverSeen: s.windowsNeverSeen,
          windowsAfterInput: s.windowsAfterInput.length,
          otherCores: round(s.otherCores, 2),
          failedPublishes: s.published.failed.length,
          behindTicks: s.published.behindTicks,
          stoppedEarly: s.published.stoppedEarly,
          publishedSeconds: s.published.seconds,
          publishToMosquittoAck: Histogram.from(s.published.ackLatency).summaryMs(),
        },
      };
    });
    return {
      rows,
      steps: steps.map((s) => ({ ...s, published: { ...s.published, failed: s.published.failed.slice(0, 20) } })),
      baseRate,
      basis,
      rss: { seconds: rssSeconds, span, trends, samples: rssSamples, heap },
      scrapeCpuUs: Object.fromEntries(Object.entries(scrapeCost).map(([name, sec]) => [name, round(sec * 1e6, 1)])),
      endToEnd,
    };
  } finally {
    await loadgen?.close();
    for (const s of services.reverse()) {
      if (s.name === 'gateway') await stopGateway(ctx, s);
      else await s.stop();
    }
  }
}
