#!/usr/bin/env node
// A whole simulated day through the privacy stages, in one process and in simulated time:
// the city → the gateway's ingest stage (validation, minimization, epoch pseudonyms) → the
// processor's aggregation stage (windows, k-anonymity, differential privacy, ε ledger).
// Reports per person-derived stream how many figures were released and suppressed (and why)
// and the ε spent, and the processor stage's throughput with and without its privacy part.
// No servers: this measures the pure logic; bench/ (issue 5) measures the services.
//
//   node bench/privacy-day.ts [--scenario normal-day] [--hours 24] [--out bench/results/privacy-<date>.md]
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import {
  createAggregator,
  createBudgetLedger,
  createIngestStage,
  createKindKeyProviders,
  createNoiseSource,
  createPseudonymizers,
  DEFAULT_POLICY_PATH,
  loadPolicy,
  ManualClock,
  type ReleaseReport,
} from '@lethe/privacy';
import { DEFAULT_FLEET_PATH, loadFleet, ReadingRecordSchema, sightingsOf, SightingsTopicRecordSchema, TOPICS } from '@lethe/schemas';
import { createCity, loadScenario } from '@lethe/simulator';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'normal-day' },
    hours: { type: 'string', default: '24' },
    tick: { type: 'string', default: '5' },
    out: { type: 'string' },
  },
});
const hours = Number(values.hours);
const tickSeconds = Number(values.tick);
const policy = loadPolicy(DEFAULT_POLICY_PATH);
const fleet = loadFleet(DEFAULT_FLEET_PATH);
// Midnight Hong Kong time (UTC+8) of a fixed day, so the run covers one local day.
const start = Date.UTC(2026, 5, 1, 16, 0, 0);
const clock = new ManualClock(start);

const pseudonymizers = createPseudonymizers(policy, createKindKeyProviders(policy, { clock }));
const ingest = createIngestStage({ policy, fleet, pseudonymizers, clock });
const city = createCity({ devices: fleet.devices, scenario: loadScenario(values.scenario!), seed: 'bench', tickSeconds });

// 1. Simulate and ingest the day, keeping the Kafka records (as JSON text) per hour.
const ticks = Math.round((hours * 3600) / tickSeconds);
const hourly: Array<Array<{ topic: string; value: string }>> = [];
let readings = 0;
let sightings = 0;
const t0 = performance.now();
for (let t = 0; t < ticks; t++) {
  const now = start + t * tickSeconds * 1000;
  clock.set(now);
  const bucket = (hourly[Math.floor((t * tickSeconds) / 3600)] ??= []);
  for (const r of city.tick(new Date(now))) {
    const result = await ingest.ingest(r.topic, Buffer.from(JSON.stringify(r.payload)));
    if (!result.ok) throw new Error(`the simulator produced a reading the gateway refuses: ${result.rejected.reason} ${result.rejected.detail}`);
    readings++;
    sightings += result.sightings;
    for (const rec of result.records) bucket.push({ topic: rec.topic, value: rec.value });
  }
  if (t % Math.round(3600 / tickSeconds) === 0) process.stderr.write(`\r[privacy-day] simulating hour ${Math.floor((t * tickSeconds) / 3600) + 1}/${hours}`);
}
const ingestSeconds = (performance.now() - t0) / 1000;
process.stderr.write(`\r[privacy-day] simulated ${hours} h: ${readings} readings, ${sightings} sightings in ${ingestSeconds.toFixed(1)} s\n`);

// 2. Replay the records through the processor's stage, twice: environmental only (the
//    sightings parsed and dropped), then the full stage with the privacy part.
function run(privacy: boolean) {
  const replay = new ManualClock(start);
  const ledger = createBudgetLedger();
  const aggregator = createAggregator({ policy, clock: replay, graceMs: 5_000, noise: createNoiseSource(Buffer.alloc(32, 9)), ledger });
  const reports: ReleaseReport[] = [];
  let aggregates = 0;
  let maxHeld = 0;
  const began = performance.now();
  for (const [h, records] of hourly.entries()) {
    for (const rec of records) {
      const json: unknown = JSON.parse(rec.value);
      if (rec.topic === TOPICS.readings) {
        const r = ReadingRecordSchema.parse(json);
        replay.set(Math.max(replay.now(), r.ts));
        aggregator.addReading(r);
      } else {
        if (privacy) for (const s of sightingsOf(SightingsTopicRecordSchema.parse(json))) aggregator.addSighting(s);
      }
    }
    // Close windows as the hour goes by, as the processor's timer does.
    for (let m = 1; m <= 60; m++) {
      const out = aggregator.closeDue(start + h * 3_600_000 + m * 60_000);
      aggregates += out.records.length;
      reports.push(...out.reports);
    }
    maxHeld = Math.max(maxHeld, aggregator.pseudonymsHeld());
  }
  const out = aggregator.closeDue(start + (hours + 1) * 3_600_000);
  reports.push(...out.reports);
  aggregates += out.records.length;
  return { seconds: (performance.now() - began) / 1000, reports, aggregates, maxHeld, ledger };
}
const records = hourly.reduce((n, h) => n + h.length, 0);
const baseline = run(false);
const full = run(true);

// 3. Report.
const streams = [...new Set(full.reports.map((r) => r.stream))].sort();
const rows = streams.map((stream) => {
  const rs = full.reports.filter((r) => r.stream === stream);
  const released = rs.reduce((n, r) => n + r.released, 0);
  const sup = (k: keyof ReleaseReport['suppressed']) => rs.reduce((n, r) => n + r.suppressed[k], 0);
  const suppressed = sup('below_k') + sup('differencing') + sup('budget');
  // The local (Hong Kong) day spans two UTC days, each with its own budget line.
  const spent = full.ledger
    .entries()
    .filter((e) => e.stream === stream)
    .map((e) => `${e.day}: ${e.spent} / ${e.budget}`)
    .join('; ');
  return `| ${stream} | ${rs.length} | ${released} | ${sup('below_k')} | ${sup('differencing')} | ${sup('budget')} | ${((100 * suppressed) / Math.max(1, suppressed + released)).toFixed(1)} % | ${spent} |`;
});
const rate = (seconds: number) => Math.round(records / seconds).toLocaleString('en-US');
const report = `# Privacy stages over a simulated day — ${new Date().toISOString().slice(0, 10)}

Command: \`node bench/privacy-day.ts --scenario ${values.scenario} --hours ${hours} --tick ${tickSeconds}\` (pure logic, one process, simulated time).
Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}.
Policy: seeds/policy.yaml (k = ${policy.kinds.lamppost.k}, ε per release = ${policy.kinds.lamppost.epsilonPerRelease}, ε per day = ${policy.kinds.lamppost.epsilonPerDay}, window ${policy.kinds.lamppost.window / 1000} s, epoch ${policy.kinds.lamppost.epoch / 60_000} min).

Input: ${fleet.devices.length} devices, one reading per ${tickSeconds} s for ${hours} h = ${readings.toLocaleString('en-US')} readings carrying ${sightings.toLocaleString('en-US')} sightings → ${records.toLocaleString('en-US')} Kafka records.

## Released and suppressed person-derived figures

A figure is one number of one series in one window (a cell's people, a district's people, a junction pair's trips, a dwell bucket, a loop count).

| stream | releases (windows) | figures released | suppressed: < k | suppressed: differencing | suppressed: budget | suppression rate | ε spent / budget per UTC day |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}

## Processor stage throughput (records/s, one core, JSON parse + schema + aggregation)

| stage | records/s | time | aggregates | most pseudonyms held |
| --- | ---: | ---: | ---: | ---: |
| environmental only (sightings parsed, not aggregated) | ${rate(baseline.seconds)} | ${baseline.seconds.toFixed(1)} s | ${baseline.aggregates} | ${baseline.maxHeld} |
| full: + per-epoch person state, k, differencing, DP noise, ledger | ${rate(full.seconds)} | ${full.seconds.toFixed(1)} s | ${full.aggregates} | ${full.maxHeld} |

Gateway ingest stage (validate, minimize, pseudonymize) over the same day: ${Math.round(readings / ingestSeconds).toLocaleString('en-US')} readings/s (${ingestSeconds.toFixed(1)} s, including the simulator).
`;
const out = values.out ?? `bench/results/privacy-${new Date().toISOString().slice(0, 10)}.md`;
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, report);
console.log(report);
console.error(`[privacy-day] wrote ${out}`);
