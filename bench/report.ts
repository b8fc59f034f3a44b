// The results file: a Markdown report for people (headline table, the issue's targets met or
// not with the measured numbers, ratios, RSS over time, then each stage's method and notes)
// and the same data as JSON beside it.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { round, type Row } from './context.ts';
import type { MachineInfo } from './infra.ts';
import type { BenchOptions } from './options.ts';
import type { PayloadSet } from './payloads.ts';
import type { PipelineResult, StepResult } from './stage-pipeline.ts';
import { Histogram } from './histogram.ts';
import { PUBLISHER } from './publisher.ts';
import { headline, SERVICES, sustained } from './headline.ts';
import { kept } from './stage-pipeline.ts';
import { FLAT_MB_PER_MIN, rssTargetMet, SOAK_TARGET_SECONDS } from './rss-trend.ts';

export interface Results {
  dir: string;
  machine: MachineInfo;
  opts: BenchOptions;
  rows: Row[];
  pipeline: PipelineResult | undefined;
  payloads: PayloadSet;
  run: string;
  startedAt: Date;
  seconds: number;
  error?: string;
}

/** Main process of each stage: the one its CPU and RSS columns are about. */
const MAIN: Record<string, string> = {
  '1': 'mosquitto',
  '2': 'kafka',
  '3': 'producer (kafkajs)',
  '4': 'gateway',
  '5': 'processor',
  '6': 'writer',
};

const fmt = (x: number | undefined, digits = 0) =>
  x === undefined || Number.isNaN(x) ? '—' : x === Infinity ? '∞' : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });

interface Target {
  target: string;
  measured: string;
  met: boolean | undefined;
}

/**
 * The machine's CPU per reading, summed over every process a step runs (services, brokers, the
 * load generator; not the bench itself), and the rate at which that sum fills the cores: a
 * ceiling for the full pipeline on this machine, whatever any one stage could do alone.
 */
function cpuBudget(r: Results): string[] {
  const steps = r.rows.filter((x) => x.id.startsWith('7'));
  if (steps.length === 0) return [];
  const cores = r.machine.cores;
  const mqtt = [PUBLISHER[r.opts.loadgen], 'mosquitto'];
  const lines = [
    `**CPU budget.** Every process of the step, in CPU µs per reading (the bench's own process left out), and the rate at which their sum would fill the ${cores} cores — the ceiling for the whole pipeline on this machine. The MQTT leg alone (the load generator publishing and Mosquitto) is what any pipeline, however fast, would spend before the gateway:`,
    '',
    '| step | all processes, µs per reading | ceiling on ' +
      cores +
      ' cores | MQTT leg (publisher + Mosquitto), µs per reading | its cores at 20,000 readings/s |',
    '| --- | ---: | ---: | ---: | ---: |',
  ];
  for (const row of steps) {
    const c = Object.entries(row.cpuUsPerMsg).filter(([k]) => k !== 'bench');
    const total = c.reduce((n, [, v]) => n + (Number.isFinite(v) ? v : 0), 0);
    const leg = mqtt.reduce((n, k) => n + (row.cpuUsPerMsg[k] ?? 0), 0);
    lines.push(`| ${row.id.slice(2)} | ${fmt(total)} | ${fmt((cores * 1e6) / total)} readings/s | ${fmt(leg, 1)} | ${fmt((leg * 20_000) / 1e6, 2)} |`);
  }
  return lines;
}

function targets(r: Results): Target[] {
  const p = r.pipeline;
  if (!p) return [];
  const h = headline(r.rows, p);
  const ok = sustained(p.steps);
  const out: Target[] = [];
  const max = h.maxZeroLossReadingsPerSecond;
  const repeats = h.maxZeroLossRepeats.length > 1 ? ` (repeats ${h.maxZeroLossRepeats.map((x) => fmt(x)).join(', ')})` : '';
  const ratio = h.ratioToRawMosquitto;
  const maxText =
    max === null
      ? `no step without loss or backlog (steps at ${p.steps.map((s) => s.targetRate).join(', ')} readings/s)`
      : `${fmt(max)} readings/s${repeats}: ${h.maxZeroLossBasis}; raw Mosquitto ${fmt(h.rawMosquittoMessagesPerSecond ?? NaN)} msg/s in this run → **${fmt(ratio ?? NaN, 3)}**`;
  out.push({
    target: 'Maximum zero-loss rate ≥ 0.3 × raw Mosquitto QoS 1 (same run, same publisher)',
    measured: maxText,
    met: ratio === null ? undefined : ratio >= 0.3,
  });
  out.push({ target: 'Stretch: ≥ 0.5 × raw Mosquitto', measured: ratio === null ? '—' : fmt(ratio, 3), met: ratio === null ? undefined : ratio >= 0.5 });
  out.push({
    target: "Lethe's services (gateway + processor + writer) ≤ 100 µs of CPU per reading at that rate",
    measured:
      h.servicesCpuUsPerReading === null
        ? '—'
        : `${fmt(h.servicesCpuUsPerReading, 1)} µs (${Object.entries(h.servicesCpuUsPerReadingByService)
            .map(([k, v]) => `${k} ${fmt(v, 1)}`)
            .join(' · ')})`,
    met: h.servicesCpuUsPerReading === null ? undefined : h.servicesCpuUsPerReading <= 100,
  });
  const e = p.endToEnd;
  const dropped = Object.entries(e.droppedByProcessor);
  // A step that fell behind is not what the pipeline carries; one it kept up with must lose nothing.
  const lossy = p.steps.filter((s) => s.loss && (s.loss.missing > 0 || s.loss.uncountedInInflux > 0));
  out.push({
    target: 'Zero loss end to end: every acknowledged reading counted in InfluxDB (in the steps the pipeline kept up with)',
    measured:
      `${fmt(e.countedInInflux)} of ${fmt(e.acknowledged)} readings acknowledged over the whole stage (warm-ups included) counted in the devices' points; ` +
      `${fmt(e.refusedByGateway)} refused by the gateway, ${dropped.length === 0 ? 'none' : dropped.map(([k, v]) => `${fmt(v)} ${k}`).join(', ')} dropped by the processor, **${fmt(e.missing)} missing**` +
      (lossy.length === 0
        ? '; every step lost nothing'
        : `; not counted, by step: ${lossy.map((s) => `${s.label} ${fmt(s.loss!.missing + s.loss!.uncountedInInflux)}${kept(s) ? ' (kept up)' : ' (fell behind)'}`).join(', ')}`),
    met: lossy.every((s) => !kept(s)),
  });
  const half = p.steps.find((s) => s.role === 'half') ?? p.steps.find((s) => s.role === 'fixed' && s.percent === 50);
  if (half?.publishToKafka) {
    out.push({
      target: 'Publish → Kafka p99 < 50 ms at half the maximum',
      measured:
        `p99 ${fmt(half.publishToKafka.p99, 1)} ms (p50 ${fmt(half.publishToKafka.p50, 1)} ms) at ${fmt(half.targetRate)} readings/s, over ${fmt(half.publishToKafka.n)} readings` +
        (half.publishToKafkaHeld
          ? `; besides, ${fmt(half.publishToKafkaHeld.n)} readings of the first slot of an epoch, held by the write mix (P9) by design: p99 ${fmt(half.publishToKafkaHeld.p99, 1)} ms`
          : ''),
      met: half.publishToKafka.p99 < 50,
    });
  }
  // Over the steps the pipeline sustained: in an overloaded step windows wait behind the backlog
  // by definition. Those are reported beside, not hidden.
  const visibility = (steps: readonly StepResult[]) => {
    const v = new Histogram();
    for (const s of steps) for (const w of s.windows) v.record((w.completeAt - w.closesAt) * 1000);
    return v.summaryMs();
  };
  const v = visibility(ok);
  const over = p.steps.filter((s) => !ok.includes(s));
  const o = visibility(over);
  const never = p.steps.reduce((n, s) => n + s.windowsNeverSeen, 0);
  out.push({
    target: 'Window close → visible in InfluxDB p99 < 2 s',
    measured:
      `p99 ${fmt(v.p99 / 1000, 2)} s (p50 ${fmt(v.p50 / 1000, 2)} s, max ${fmt(v.max / 1000, 2)} s) over ${v.n} windows of the steps without loss or backlog, 500 ms polling` +
      `${o.n > 0 ? `; in the other steps (${over.map((s) => s.label).join(', ')}) p99 ${fmt(o.p99 / 1000, 2)} s over ${o.n} windows` : ''}${never > 0 ? `; ${never} windows not seen within 60 s of closing` : ''}`,
    met: v.n > 0 ? v.p99 < 2000 && never === 0 : undefined,
  });
  const services = p.rss.trends.filter((t) => (SERVICES as readonly string[]).includes(t.name));
  const span = p.rss.span;
  const spanMinutes = (span.to - span.from) / 60;
  out.push({
    target: 'Every service RSS < 300 MB and flat over a 10-minute soak',
    measured:
      services
        .map(
          (t) =>
            `${t.name} peak ${fmt(t.peakMb)} MB over the stage; ${fmt(t.spanFirstMb)} → ${fmt(t.spanLastMb)} MB, ${t.slopeMbPerMin >= 0 ? '+' : ''}${t.slopeMbPerMin} MB/min over the ${span.what}`,
        )
        .join('; ') +
      `; ${span.what === 'soak' ? `the soak: ${fmt(spanMinutes, 1)} min at one rate` : `no soak: ${fmt(spanMinutes, 1)} min of the rate steps`}` +
      `${spanMinutes * 60 < SOAK_TARGET_SECONDS ? ` — NOT the 10 minutes the target names (BENCH_SOAK_SECONDS=${SOAK_TARGET_SECONDS})` : ''}; flat = within ±${FLAT_MB_PER_MIN} MB/min`,
    met: rssTargetMet(services, span),
  });
  return out;
}

function ratios(r: Results): string[] {
  const out: string[] = [];
  const perf = r.rows.find((x) => x.id === '2');
  const js = r.rows.find((x) => x.id === '3');
  if (perf && js)
    out.push(
      `kafkajs ÷ kafka-producer-perf-test: ${fmt(js.rate)} ÷ ${fmt(perf.rate)} = **${fmt(js.rate / perf.rate, 3)}** (same record size, acks=all, same 3-partition layout).`,
    );
  return out;
}

function cpuText(row: Row): string {
  return Object.entries(row.cpuUsPerMsg)
    .filter(([, v]) => Number.isFinite(v))
    .map(([k, v]) => `${k} ${fmt(v, 1)}`)
    .join(' · ');
}

export function markdown(results: Results): string {
  // Stages in the order of the issue (the writer runs last, see main.ts).
  const stage = (id: string) => id.split(' ')[0]!;
  // Stable: the pipeline's steps stay in the order they ran.
  const r = { ...results, rows: [...results.rows].sort((a, b) => stage(a.id).localeCompare(stage(b.id), 'en', { numeric: true })) };
  const m = r.machine;
  const L: string[] = [];
  const date = r.startedAt.toISOString().slice(0, 10);
  L.push(`# Lethe service benchmark — ${date}`, '');
  L.push(
    `Command: \`${r.opts.quick ? 'BENCH_QUICK=1 ' : ''}pnpm bench\`${r.opts.quick ? ' — **quick mode: short steps and small sizes, for iterating on the bench; not the reference figures**' : ''}. ` +
      `Run \`${r.run}\`, started ${r.startedAt.toISOString()}, ${fmt(r.seconds / 60, 1)} min. Every figure below was measured in this run on real servers (\`bench/\`, method per stage at the end).`,
    '',
  );
  if (r.error) L.push(`**The run stopped early: ${r.error}** The stages before it are reported.`, '');
  L.push('## Machine', '', '| | |', '| --- | --- |');
  L.push(`| CPU | ${m.cpuModel}, ${m.cores} cores |`, `| RAM | ${m.ramGiB} GiB |`, `| OS | ${m.os}, Linux ${m.kernel} |`, `| Node | ${m.node} |`);
  L.push(`| Kafka | ${m.kafka}, single broker on loopback; kafkajs ${m.kafkajs} |`, `| Mosquitto | ${m.mosquitto} |`, `| InfluxDB | ${m.influxdb} |`);
  L.push(`| Lethe | commit ${m.gitCommit}${m.gitDirty ? ' + uncommitted changes' : ''} |`, '');
  L.push(
    `Payloads: the simulator's readings of the 108-device fleet at the evening peak (${r.payloads.simulatedAt}, normal-day scenario), ${r.payloads.meanPayloadBytes} B on average ` +
      `(lamppost ${r.payloads.lamppostPayloadBytes} B); each becomes a readings record of ${r.payloads.readingRecordBytes} B on average plus ${fmt(r.payloads.sightingsPerReading, 1)} sightings, written as ${fmt(r.payloads.recordsPerReading, 1)} Kafka records per reading (a reading's sightings in one record per partition).`,
    '',
  );

  L.push(
    '## Headline',
    '',
    '"Other cores": CPU the machine spent on processes outside the stage (another test suite sharing the machine, the kernel), on average over the stage; the stage had 2 minus that.',
    '',
    '| # | stage | rate | latency p50 / p99 (first latency listed per stage) | CPU µs per message, by process | peak RSS MiB (main process) | other cores |',
    '| --- | --- | ---: | --- | --- | ---: | ---: |',
  );
  for (const row of r.rows) {
    const lat = row.latency[0];
    const main = MAIN[row.id] ?? (row.id.startsWith('7') ? 'gateway' : undefined);
    const rss = row.id.startsWith('7')
      ? ['gateway', 'processor', 'writer'].map((s) => `${s} ${fmt(row.peakRssMb[s])}`).join(', ')
      : `${main} ${fmt(main ? row.peakRssMb[main] : undefined)}`;
    L.push(
      `| ${row.id} | ${row.title} | ${fmt(row.rate)} ${row.unit} | ${lat ? `${fmt(lat.p50Ms, 1)} / ${fmt(lat.p99Ms, 1)} ms — ${lat.what}` : '—'} | ${cpuText(row)} | ${rss} | ${fmt(row.otherCores, 2)} |`,
    );
  }
  L.push('');

  const t = targets(r);
  if (t.length > 0) {
    L.push("## The issue's targets (2 cores)", '', '| target | measured | met |', '| --- | --- | --- |');
    for (const x of t) L.push(`| ${x.target} | ${x.measured} | ${x.met === undefined ? 'not measured as stated' : x.met ? '**met**' : '**not met**'} |`);
    L.push('');
  }
  const rt = ratios(r);
  if (rt.length > 0) L.push('## Ratios', '', ...rt.map((x) => `- ${x}`), '');

  if (r.pipeline) {
    const p = r.pipeline;
    L.push('## Full pipeline steps', '', `Percentages are of ${p.basis}; every step after a ${r.opts.warmupSeconds} s warm-up at its rate.`, '');
    L.push(
      '| step | target | achieved | not in Kafka / acknowledged | not counted in InfluxDB | dup. | drain | publish → Kafka p50 / p99 | gateway arrival → ack p50 / p99 | window close → complete in InfluxDB p50 / p99 (windows) | CPU µs per reading: gateway · processor · writer · mosquitto · kafka · influxdb |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | --- |',
    );
    for (const row of r.rows.filter((x) => x.id.startsWith('7'))) {
      const e = row.extra as {
        targetRate: number;
        loss: { missing: number; expected: number; duplicates: number; uncountedInInflux: number };
        drainSeconds: number;
        stoppedEarly: boolean;
        publishedSeconds: number;
      };
      // stage-pipeline.ts lists these three first, in this order (the held readings' figure after them).
      const [kafka, ack, vis] = row.latency;
      const c = row.cpuUsPerMsg;
      L.push(
        `| ${row.id.slice(2)} | ${fmt(e.targetRate)} | ${fmt(row.rate)}${e.stoppedEarly ? ` (stopped after ${fmt(e.publishedSeconds, 0)} s: overloaded)` : ''} | ${fmt(e.loss.missing)} / ${fmt(e.loss.expected)} | ${fmt(e.loss.uncountedInInflux)} | ${fmt(e.loss.duplicates)} | ${fmt(e.drainSeconds, 1)} s | ${fmt(kafka?.p50Ms, 1)} / ${fmt(kafka?.p99Ms, 1)} ms | ${fmt(ack?.p50Ms, 1)} / ${fmt(ack?.p99Ms, 1)} ms | ${fmt((vis?.p50Ms ?? NaN) / 1000, 2)} / ${fmt((vis?.p99Ms ?? NaN) / 1000, 2)} s (${vis?.samples ?? 0}) | ${['gateway', 'processor', 'writer', 'mosquitto', 'kafka', 'influxdb'].map((k) => fmt(c[k], 1)).join(' · ')} |`,
      );
    }
    L.push('', ...cpuBudget(r), '');
    L.push(
      `CPU µs per reading of the ${PUBLISHER[r.opts.loadgen]}, one process for all 108 devices: ${r.rows
        .filter((x) => x.id.startsWith('7'))
        .map((x) => `${x.id.slice(2)} ${fmt(x.cpuUsPerMsg[PUBLISHER[r.opts.loadgen]], 1)}`)
        .join(', ')}.`,
      '',
    );
    L.push('## RSS over time (stage 8)', '');
    L.push(
      `Sampled every 2 s over the whole of stage 7 (${fmt(p.rss.seconds / 60, 1)} min: the rate steps, then the soak at half the maximum); ` +
        `the slope over ${p.rss.span.what === 'soak' ? `the soak alone (${fmt((p.rss.span.to - p.rss.span.from) / 60, 1)} min at one rate)` : "the stage's second half (there was no soak)"}: ` +
        'the climb during the high-rate steps before it is memory V8 and the C allocator keep after a backlog, not growth under steady load.' +
        `${p.rss.span.to - p.rss.span.from < SOAK_TARGET_SECONDS ? ` **This is not the 10 minutes the target names**; \`BENCH_SOAK_SECONDS=${SOAK_TARGET_SECONDS} pnpm bench\` runs that.` : ''}`,
      '',
    );
    L.push(
      `| process | first MiB | last MiB | peak MiB | ${p.rss.span.what}: first → last MiB | slope over the ${p.rss.span.what} |`,
      '| --- | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const tr of p.rss.trends)
      L.push(
        `| ${tr.name} | ${fmt(tr.firstMb)} | ${fmt(tr.lastMb)} | ${fmt(tr.peakMb)} | ${fmt(tr.spanFirstMb)} → ${fmt(tr.spanLastMb)} | ${tr.slopeMbPerMin >= 0 ? '+' : ''}${tr.slopeMbPerMin} MiB/min |`,
      );
    L.push(
      '',
      "Where the services' memory was at the end, from their own metrics (prom-client's Node.js defaults): the JS heap in use (live objects and garbage not yet collected), what V8 reserved for it, and Buffers outside it; the rest of the RSS is the Node binary, code, stacks and the C allocator's own.",
      '',
    );
    L.push('| service | RSS MiB | JS heap used | JS heap reserved | external (Buffers) | rest |', '| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const h of p.rss.heap)
      L.push(
        `| ${h.name} | ${fmt(h.rssMb)} | ${fmt(h.heapUsedMb)} | ${fmt(h.heapTotalMb)} | ${fmt(h.externalMb)} | ${fmt(h.rssMb - h.heapTotalMb - h.externalMb)} |`,
      );
    L.push('');
  }

  L.push('## Stages: how each figure was measured', '');
  for (const row of r.rows) {
    L.push(`### ${row.id}. ${row.title}`, '', row.method, '');
    for (const l of row.latency)
      L.push(
        `- ${l.what}: p50 ${fmt(l.p50Ms, 2)} ms, p99 ${fmt(l.p99Ms, 2)} ms${l.maxMs !== undefined ? `, max ${fmt(l.maxMs, 1)} ms` : ''}${l.samples !== undefined ? ` (${fmt(l.samples)} samples)` : ''}`,
      );
    L.push(`- CPU µs per message: ${cpuText(row)}`);
    L.push(
      `- Peak RSS MiB: ${Object.entries(row.peakRssMb)
        .map(([k, v]) => `${k} ${fmt(v)}`)
        .join(' · ')}`,
    );
    for (const n of row.notes) L.push(`- ${n}`);
    L.push('');
  }
  L.push('## Limits of these figures', '');
  L.push(
    "- One machine with 2 cores runs everything at once: brokers, services, the load generator (one Node process for all 108 device connections) and the bench itself. Each stage's rate is what that stage gets while sharing the cores with the rest of its stage, not what it would get alone on a core.",
    '- Single Kafka broker (replication factor 1), so acks=all is one fsync-free local append; real clusters add replication latency.',
    "- Latencies from the services' Prometheus histograms are interpolated inside their buckets (gateway: 1, 2.5, 5, 10, 25, 50, 100 ms …); publish → Kafka comes from every record's LogAppendTime at 1 ms resolution; window visibility is polled every 500 ms.",
    '- "Max rate" stages keep the publisher at most BENCH_BACKLOG messages ahead of the consumer, so their latency includes that queue; the latency figures that matter for the targets are taken at fixed rates (stage 1 at half its max, stage 7 steps).',
    "- CPU µs per message divides each process's CPU time (utime + stime from /proc, all threads) over the stage by the messages of that stage; Kafka's and the JVM tool's include their background work (log flush, GC) and the perf tool's its JVM start-up.",
    '',
  );
  return L.join('\n');
}

/**
 * `<dir>/<name>`, or `<name>-2`, `-3`, … when results of that name are already there: a second run
 * on the same day must not overwrite the first (results are committed and cited by name).
 */
export function resultsBase(dir: string, name: string, exists: (path: string) => boolean = existsSync): string {
  const taken = (base: string) => exists(`${base}.md`) || exists(`${base}.json`);
  let base = join(dir, name);
  for (let n = 2; taken(base); n++) base = join(dir, `${name}-${n}`);
  return base;
}

export function writeResults(r: Results): string[] {
  mkdirSync(r.dir, { recursive: true });
  const date = r.startedAt.toISOString().slice(0, 10);
  const base = resultsBase(r.dir, `${date}${r.opts.quick ? '-quick' : ''}`);
  writeFileSync(`${base}.md`, markdown(r));
  const json = {
    date,
    run: r.run,
    seconds: round(r.seconds),
    quick: r.opts.quick,
    error: r.error,
    machine: r.machine,
    options: { ...r.opts, stages: [...r.opts.stages] },
    payloads: { ...r.payloads, devices: r.payloads.devices.length },
    headline: headline(r.rows, r.pipeline),
    rows: r.rows,
    targets: targets(r),
    pipeline: r.pipeline && {
      baseRate: r.pipeline.baseRate,
      basis: r.pipeline.basis,
      endToEnd: r.pipeline.endToEnd,
      steps: r.pipeline.steps,
      rss: r.pipeline.rss,
      scrapeCpuUs: r.pipeline.scrapeCpuUs,
    },
  };
  writeFileSync(`${base}.json`, `${JSON.stringify(json, (_k, v: unknown) => (v instanceof Histogram ? v.toJSON() : v), 2)}\n`);
  return [`${base}.md`, `${base}.json`];
}
