// Checks the native load generator against a Mosquitto of its own, then weighs its CPU against
// the mqtt.js one on the same runs: every publish acknowledged and delivered exactly once, the
// payloads byte for byte as payloads.ts builds them (tails in turn, µs timestamps within the
// run), the seq ranges of the summary, the latency histogram's count. Not a vitest test: it
// needs Go and a Mosquitto binary, and half a minute of real traffic.
//
//   node bench/check-loadgen-native.ts                        5 devices, tiny payloads, 2,000/s
//   node bench/check-loadgen-native.ts --fleet --rate 10000   the bench's fleet and payloads
//
// Exit 1 on any failed check.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connectAsync } from 'mqtt';
import { freePort } from '../test/support/services.ts';
import { sleep, waitFor } from '../test/support/wait.ts';
import { Histogram } from './histogram.ts';
import { startLoadgen, type Loadgen } from './loadgen-client.ts';
import { startNativeLoadgen } from './loadgen-native.ts';
import type { LoadgenConfig, LoadgenRun, LoadgenSummary } from './loadgen.ts';
import { buildPayloads, payloadHead, type DeviceTemplates } from './payloads.ts';
import { cpuSeconds } from './proc.ts';

const args = parseArgs({ options: { fleet: { type: 'boolean', default: false }, rate: { type: 'string', default: '2000' } } }).values;
const MOSQUITTO = '/usr/sbin/mosquitto';
const RATE = Number(args.rate);
const BACKLOG = 5000;
const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

const problems: string[] = [];
const check = (ok: boolean, what: string) => void (ok || problems.push(what));

const devices: DeviceTemplates[] = args.fleet
  ? (await buildPayloads()).devices
  : [1, 2, 3, 4, 5].map((i) => ({
      deviceId: `LP-000${i}`,
      kind: 'lamppost',
      topic: `lethe/v1/lamppost/LP-000${i}/reading`,
      tails: [`"pm25":1}`, `"pm25":2,"noiseDb":40.5}`],
    }));
const tailsOf = new Map(devices.map((d) => [d.deviceId, d.tails]));

/** Mosquitto on a free loopback port, anonymous and any password, no in-flight or queue limits. */
async function startMosquitto(): Promise<{ url: string; process: ChildProcess; dir: string }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'lethe-check-loadgen-'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'max_inflight_messages 0',
      'max_queued_messages 0',
      'persistence false',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      '',
    ].join('\n'),
  );
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
  const listening = () =>
    new Promise<boolean>((resolve, reject) => {
      if (child.exitCode !== null) return reject(new Error(`mosquitto exited with ${child.exitCode}`));
      const s = createConnection({ host: '127.0.0.1', port });
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
  try {
    await waitFor(`mosquitto to listen on 127.0.0.1:${port}`, listening, 5000, { everyMs: 50 });
  } catch (err) {
    child.kill();
    throw err;
  }
  return { url: `mqtt://127.0.0.1:${port}`, process: child, dir };
}

interface Received {
  raw: string;
  deviceId?: unknown;
  seq?: unknown;
  ts?: unknown;
}

/** What the subscriber got since the last reset. */
let got: Received[] = [];

/** True if the device's payloads, in seq order, are its tails one after the other (from any first one). */
function tailsInTurn(deviceId: string, list: Received[]): boolean {
  const tails = tailsOf.get(deviceId)!;
  const rest = list.map((m) => m.raw.slice(payloadHead(deviceId, m.seq as number, m.ts as string).length));
  if (rest.length === 0) return true;
  return tails.some((first, t0) => first === rest[0] && rest.every((r, i) => r === tails[(t0 + i) % tails.length]));
}

interface Phase {
  name: string;
  summary: LoadgenSummary;
  cpuUs: number;
}

/** One run, checked against what the subscriber received; its CPU is the publisher's for the run and its PUBACKs. */
async function phase(lg: Loadgen, who: string, name: string, run: LoadgenRun, during?: (lg: Loadgen) => () => void): Promise<Phase> {
  got = [];
  const cpuBefore = cpuSeconds(lg.pid);
  const end = during?.(lg);
  const s = await lg.run(run);
  end?.();
  const cpuUs = (cpuSeconds(lg.pid) - cpuBefore) * 1e6;
  const deadline = Date.now() + 30_000;
  while (got.length < s.acked && Date.now() < deadline) await sleep(20);
  await sleep(300); // a duplicate would come now
  const at = `${who} ${name}`;
  check(s.published > 0, `${at}: nothing published`);
  check(s.acked === s.published, `${at}: ${s.acked} acknowledged of ${s.published}`);
  check(s.failed.length === 0, `${at}: ${s.failed.length} failed`);
  check(got.length === s.acked, `${at}: subscriber received ${got.length}, ${s.acked} acknowledged`);
  check(s.ackLatency.n === s.acked, `${at}: histogram n ${s.ackLatency.n}, ${s.acked} acknowledged`);
  check(s.lastPublishUs >= s.startedUs && s.lastAckUs >= s.lastPublishUs, `${at}: times out of order`);
  check(Histogram.from(s.ackLatency).n === s.acked, `${at}: histogram does not merge`);
  const span = Object.values(s.seqEnd).reduce((a, e) => a + e - s.seqStart, 0);
  check(span === s.published, `${at}: seq ranges cover ${span}, ${s.published} published`);
  const byDevice = new Map<string, Received[]>();
  for (const m of got) {
    try {
      Object.assign(m, JSON.parse(m.raw) as object);
    } catch {
      check(false, `${at}: unparsable payload ${m.raw.slice(0, 80)}`);
      continue;
    }
    const tsUs = typeof m.ts === 'string' && TS.test(m.ts) ? Date.parse(`${m.ts.slice(0, 23)}Z`) * 1000 + Number(m.ts.slice(23, 26)) : NaN;
    const ok =
      typeof m.deviceId === 'string' &&
      Number.isInteger(m.seq) &&
      tsUs >= Math.floor(s.startedUs) &&
      tsUs <= s.lastPublishUs &&
      m.raw.startsWith(payloadHead(m.deviceId, m.seq as number, m.ts as string));
    if (!ok) {
      check(false, `${at}: bad payload ${m.raw.slice(0, 120)}`);
      continue;
    }
    let list = byDevice.get(m.deviceId as string);
    if (!list) byDevice.set(m.deviceId as string, (list = []));
    list.push(m);
  }
  for (const d of devices) {
    const list = (byDevice.get(d.deviceId) ?? []).sort((a, b) => (a.seq as number) - (b.seq as number));
    const expected = s.seqEnd[d.deviceId]! - s.seqStart;
    const exact = list.length === expected && list.every((m, i) => m.seq === s.seqStart + i);
    check(exact, `${at}: ${d.deviceId} seqs are not exactly ${s.seqStart}…${s.seqEnd[d.deviceId]! - 1}`);
    check(tailsInTurn(d.deviceId, list), `${at}: ${d.deviceId} tails not taken in turn`);
  }
  const lat = Histogram.from(s.ackLatency).summaryMs();
  console.log(
    `${at.padEnd(24)} ${String(s.published).padStart(6)} published in ${s.seconds.toFixed(2)} s (${Math.round(s.published / s.seconds)}/s), ` +
      `PUBACK p50 ${lat.p50} ms p99 ${lat.p99} ms, behind ${s.behindTicks} ticks, CPU ${(cpuUs / s.published).toFixed(1)} µs/message`,
  );
  return { name, summary: s, cpuUs };
}

/** The same three runs for either publisher: fixed rate, as fast as the subscriber takes them, stopped early. */
async function exercise(who: string, lg: Loadgen): Promise<Phase[]> {
  const fixed = await phase(lg, who, 'fixed', { rate: RATE, seconds: 3, seqStart: 1, allow: Infinity });
  const next = (p: Phase) => Math.max(...Object.values(p.summary.seqEnd));
  // As the bench's max-rate stages do: the cap follows the consumer, BACKLOG ahead.
  const fast = await phase(lg, who, 'as fast as allowed', { rate: null, seconds: 2, seqStart: next(fixed), allow: BACKLOG }, (l) => {
    const feed = setInterval(() => l.allow(got.length + BACKLOG), 50);
    return () => clearInterval(feed);
  });
  const stopped = await phase(lg, who, 'stopped', { rate: RATE, seconds: 10, seqStart: next(fast), allow: Infinity }, (l) => {
    const timer = setTimeout(() => l.stop(), 500);
    return () => clearTimeout(timer);
  });
  check(stopped.summary.stoppedEarly && stopped.summary.seconds < 2, `${who}: stop did not end the run`);
  check(Math.abs(fixed.summary.published - RATE * 3) <= RATE * 0.03, `${who}: fixed rate published ${fixed.summary.published}, not ~${RATE * 3}`);
  return [fixed, fast, stopped];
}

async function main(): Promise<void> {
  const broker = await startMosquitto();
  const sub = await connectAsync(broker.url, { clientId: 'check-loadgen-sub', clean: true, protocolVersion: 4, reconnectPeriod: 0 });
  sub.on('message', (_topic, payload) => void got.push({ raw: payload.toString() }));
  await sub.subscribeAsync('lethe/#', { qos: 1 });
  const config = (prefix: string): LoadgenConfig => ({
    url: broker.url,
    fleetSecret: 'check-secret',
    clientIdPrefix: prefix,
    devices,
    maxInFlightPerDevice: 50,
  });
  const totals: Array<[string, Phase[]]> = [];
  try {
    for (const [who, start] of [
      ['native', startNativeLoadgen],
      ['mqtt.js', startLoadgen],
    ] as const) {
      const lg = await start(config(`check-${who.replace('.', '')}`));
      try {
        totals.push([who, await exercise(who, lg)]);
      } finally {
        await lg.close();
      }
    }
  } finally {
    await sub.endAsync();
    broker.process.kill('SIGTERM');
    rmSync(broker.dir, { recursive: true, force: true });
  }
  console.log('\nCPU of the publisher process per message (user + system, /proc/<pid>/stat), all three runs:');
  for (const [who, phases] of totals) {
    const messages = phases.reduce((a, p) => a + p.summary.published, 0);
    const cpu = phases.reduce((a, p) => a + p.cpuUs, 0);
    console.log(`  ${who.padEnd(8)} ${(cpu / messages).toFixed(1)} µs/message over ${messages} messages`);
  }
  if (problems.length > 0) {
    console.error(`\n${problems.length} check(s) failed:\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
  console.log('\nall checks passed');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
