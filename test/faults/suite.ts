// One fault run on real servers, as a vitest suite: while the simulated city publishes through
// Mosquitto at QoS 1, the plan's faults are injected one after the other — SIGKILL (restart after
// a pause) or SIGSTOP (SIGCONT after a pause) of a service, of a server, or of a Kafka node of the
// three-broker cluster picked by its role. Afterwards the run is reconciled (reconcile.ts):
// per-device sequence numbers from the devices' acknowledgements to the readings topic, the
// aggregates against a fault-free replay of the same input, every device's reading count against
// its distinct sequence numbers, and InfluxDB against the aggregates; and what was found is told
// per fault. faults.test.ts runs it on a single broker, cluster.test.ts on the cluster.
// The suite brings its own native servers (servers.ts) and takes them down at the end; the
// services' logs stay in the servers' run directory for a post-mortem.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { InfluxDB } from '@influxdata/influxdb-client';
import { createKafka, type Admin } from '@lethe/kafka';
import { createLogger } from '@lethe/observability';
import { loadPolicy, partialSeries } from '@lethe/privacy';
import { DEFAULT_FLEET_PATH, loadFleet, topicNames, type AggregateRecord } from '@lethe/schemas';
import { createCity, createFleetPublisher, loadScenario, runSimulation, type SimulatedReading } from '@lethe/simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { policyCopy, shortWindows } from '../support/policy-copy.ts';
import { counter, scrape } from '../support/prom-text.ts';
import { injectClusterFault } from './cluster-faults.ts';
import { isClusterTarget, type Fault, type Profile, type Target } from './plan.ts';
import {
  afterData,
  beforeReplay,
  collectAggregates,
  diffAggregates,
  differingRecords,
  expectedPoints,
  pointKey,
  readingCountMismatches,
  reconcileSequences,
  sightingKeys,
  tallyByFault,
  type Published,
} from './reconcile.ts';
import { faultTable, scenarioSummary, type FaultResult } from './report.ts';
import { startFaultServers, type FaultServers, type ServerName } from './servers.ts';
import { startManaged, type ManagedService } from './services.ts';
import { dumpTopic } from './topic-dump.ts';
import { gatewayTokensFile } from '../../services/keyring/src/gateway-tokens.ts';
import { sleep, waitFor } from '../support/wait.ts';

const WINDOW_SECONDS = 5;
const EPOCH_SECONDS = 30;
const WARMUP_MS = 5_000;
const SETTLE_MS = 3_000;
const TAIL_MS = 8_000;
/**
 * How long a stage may take to move again after a fault, a cluster's replicas to be in sync
 * again, and the first aggregates to reach InfluxDB (windows close 30 s after their end: the
 * grace below). For a machine three times slower than the one the figures in docs/faults.md come
 * from (the slowest recovery there is a Kafka restart, 15–25 s).
 */
const RECOVERY_TIMEOUT_MS = 120_000;
/**
 * Mosquitto saves its state every `autosave_interval` (10 s, infra/local/mosquitto.sh and the
 * compose config): readings it acknowledged within that long before a SIGKILL, and had not yet
 * handed to the gateway, may die with it. That is the documented bound; a loss anywhere else fails.
 */
const MOSQUITTO_WINDOW_MS = 10_000;
/**
 * And after its restart: Mosquitto 2.0.11 restores the gateway's shared subscription in a state
 * that delivers nothing, so what devices publish before the gateway has reconnected and
 * subscribed again (its reconnect period is 1–2 s) is acknowledged and dropped (docs/faults.md).
 */
const MOSQUITTO_RESUBSCRIBE_MS = 3_000;
/**
 * After an outage the backlog drains interleaved with fresh readings (four MQTT connections, each
 * with its own queue), so a partition's records arrive out of event-time order by up to the
 * outage's length. The grace is the disorder a window tolerates (docs/faults.md, bound 2): 30 s
 * covers the longest outage here, a Kafka restart (15–25 s on this machine), at the price of
 * windows closing 30 s after their end.
 */
const PROCESSOR_WINDOWS = { WINDOW_GRACE_SECONDS: '30' };
const ROOT = new URL('../../', import.meta.url).pathname;

const log = (line: string) => console.log(`[faults ${new Date().toISOString().slice(11, 19)}] ${line}`);
const seconds = (ms: number) => (ms / 1000).toFixed(1);

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms).unref())]);
}

/** The shipped policy with 5 s windows and 30 s epochs, so that windows, trips and dwell times close within the run. */
function testPolicyFile(): string {
  return policyCopy((doc) => {
    shortWindows(doc, `${WINDOW_SECONDS}s`, `${EPOCH_SECONDS}s`);
  });
}

export interface FaultRunOptions {
  profile: Profile;
  plan: Fault[];
  /** 1: a single broker; 3: the three-node KRaft cluster. */
  kafkaNodes: 1 | 3;
  /** Where the `full` profile writes its results (relative to the repository). */
  resultsFile: string;
  /** The command that runs this in full, for the results file. */
  command: string;
}

export function describeFaultRun({ profile, plan, kafkaNodes, resultsFile, command }: FaultRunOptions): void {
  const cluster = kafkaNodes > 1;
  const on = cluster ? `a ${kafkaNodes}-broker Kafka cluster` : 'a single Kafka broker';
  const NOISE_KEY = randomBytes(32).toString('hex');
  const KEYRING_TOKEN = randomBytes(24).toString('hex');

  describe(`faults on ${on} (${profile}: ${plan.length} faults)`, () => {
    const policyFile = testPolicyFile();
    const policy = loadPolicy(policyFile);
    // Prefixed, so the fault-free replay can read the same input into its own topics.
    const PREFIX = 'live.';
    const topics = topicNames(PREFIX);
    let servers: FaultServers;
    let admin: Admin;
    const services = new Map<string, ManagedService>();
    const svc = (name: string) => services.get(name)!;
    let reference: ManagedService | undefined;

    beforeAll(async () => {
      servers = await startFaultServers(log, { kafkaNodes });
      admin = createKafka({ brokers: servers.kafkaBrokers, clientId: 'faults-admin', logger: createLogger({ service: 'faults', level: 'silent' }) }).admin();
      await admin.connect();
      // Each node has logged its start; the metadata a broker answers with may not list the others yet.
      if (cluster)
        await waitFor(`all ${kafkaNodes} brokers in the cluster metadata`, async () => (await admin.describeCluster()).brokers.length === kafkaNodes, 90_000);
      const kafka = { KAFKA_BROKERS: servers.kafkaBrokers.join(','), POLICY_FILE: policyFile, KAFKA_TOPIC_PREFIX: PREFIX };
      const keyring = await startManaged('keyring', {
        ...kafka,
        KEYRING_GATEWAY_TOKENS: gatewayTokensFile({ gateway: KEYRING_TOKEN }),
        KEYRING_READING_INTERVAL_SECONDS: '1',
      });
      services.set('keyring', keyring);
      // The keyring keeps the pseudonym keys out of the gateway: a restarted gateway gives a phone
      // the same pseudonym as before (with keys in its own memory, a restart begins new ones).
      services.set(
        'gateway',
        await startManaged('gateway', {
          ...kafka,
          MQTT_URL: servers.mqttUrl,
          MQTT_USERNAME: 'lethe-gateway',
          MQTT_PASSWORD: servers.gatewayPassword,
          KEYRING_URL: `http://127.0.0.1:${keyring.current().port}`,
          KEYRING_TOKEN,
        }),
      );
      services.set('processor', await startManaged('processor', { ...kafka, ...PROCESSOR_WINDOWS, NOISE_KEY, TICK_MS: '200' }));
      services.set(
        'writer',
        await startManaged('writer', {
          ...kafka,
          INFLUX_URL: servers.influx.url,
          INFLUX_ORG: servers.influx.org,
          INFLUX_BUCKET: servers.influx.bucket,
          INFLUX_TOKEN: servers.influx.writerToken,
        }),
      );
      log(`services up: ${[...services.keys()].join(', ')}`);
    }, 300_000);

    afterAll(async () => {
      const logs = join(servers?.localDir ?? join(ROOT, '.local-faults'), 'service-logs');
      mkdirSync(logs, { recursive: true });
      for (const s of [reference, ...[...services.values()].reverse()]) {
        if (!s) continue;
        await s.stop().catch(() => undefined);
        s.saveLog(logs);
      }
      await admin?.disconnect().catch(() => undefined);
      await servers?.down();
      log(`service logs in ${logs}`);
    }, 120_000);

    /** A number that grows while the stage a target belongs to produces output; undefined while it cannot be read. */
    async function progress(target: Target): Promise<number | undefined> {
      try {
        if (target === 'writer' || target === 'influxdb') {
          const [committed] = await withTimeout(admin.fetchOffsets({ groupId: 'lethe-writer', topics: [topics.aggregates] }), 3000);
          return (committed?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
        }
        const topic = target === 'processor' ? topics.partials : topics.readings;
        return (await withTimeout(admin.fetchTopicOffsets(topic), 3000)).reduce((n, p) => n + Number(p.high), 0);
      } catch {
        return undefined;
      }
    }

    /**
     * Readings Kafka has acknowledged to the gateway, from its own metrics. On the cluster this is
     * how Kafka's progress is read: an admin client would send its offset queries to a stopped
     * leader, whose requests hang until kafkajs's 30 s request timeout.
     */
    async function forwarded(): Promise<number | undefined> {
      try {
        return counter(await scrape(`http://127.0.0.1:${svc('gateway').current().port}`), 'lethe_gateway_messages_forwarded_total');
      } catch {
        return undefined;
      }
    }

    function pidOf(target: Target): number {
      return target === 'kafka' || target === 'mosquitto' || target === 'influxdb' ? servers.pid(target) : svc(target).pid();
    }

    async function killServer(name: ServerName): Promise<void> {
      const pid = servers.pid(name);
      process.kill(pid, 'SIGKILL');
      await waitFor(
        `${name} (pid ${pid}) to die`,
        async () => {
          try {
            process.kill(pid, 0);
            return false;
          } catch {
            return true;
          }
        },
        10_000,
      );
    }

    async function inject(fault: Fault): Promise<FaultResult> {
      const { target, kind, downMs } = fault;
      if (isClusterTarget(target)) {
        const r = await injectClusterFault({ servers, admin, sightingsTopic: topics.sightings, forwarded, timeoutMs: RECOVERY_TIMEOUT_MS }, fault);
        log(
          `${kind} ${target} (node ${r.node}: ${r.roles.join(', ')}): down ${seconds(r.downForMs)} s, ${r.fencedMs === undefined ? 'not fenced' : `fenced after ${seconds(r.fencedMs)} s`}${r.restartMs === undefined ? '' : `, restart ${seconds(r.restartMs)} s`}, ` +
            `Kafka acknowledging the gateway's writes again ${seconds(r.recoveryMs)} s after the ${kind === 'kill' ? 'SIGKILL' : 'SIGSTOP'}, every replica in sync ${seconds(r.inSyncMs)} s after it was back; ` +
            `sightings/0 leader ${r.leader.before} → ${r.leader.after}, controller ${r.controller.before} → ${r.controller.after}`,
        );
        return { ...fault, ...r };
      }
      let at = Date.now();
      let restartMs: number | undefined;
      let resumed: number;
      let baseline: number | undefined;
      let backAt: number;
      if (kind === 'kill') {
        if (target === 'kafka' || target === 'mosquitto' || target === 'influxdb') await killServer(target);
        else await svc(target).kill();
        // When it died: what a device had acknowledged before this is what the fault may take.
        at = Date.now();
        await sleep(500);
        // Kafka's own progress cannot be read while it is down: its baseline is read once it is back.
        if (target !== 'kafka') baseline = await progress(target);
        await sleep(downMs - 500);
        resumed = performance.now();
        restartMs = target === 'kafka' || target === 'mosquitto' || target === 'influxdb' ? await servers.start(target) : await svc(target).restart();
        backAt = Date.now();
      } else {
        const pid = pidOf(target);
        process.kill(pid, 'SIGSTOP');
        at = Date.now();
        await sleep(500);
        // Kafka's own progress cannot be read while it is down: its baseline is read once it is back.
        if (target !== 'kafka') baseline = await progress(target);
        await sleep(downMs - 500);
        process.kill(pid, 'SIGCONT');
        backAt = Date.now();
        resumed = performance.now();
      }
      if (target === 'kafka') await waitFor('Kafka to answer', async () => (baseline = await progress(target)) !== undefined, RECOVERY_TIMEOUT_MS);
      const from = baseline ?? 0;
      await waitFor(`${target} to recover from ${kind}`, async () => ((await progress(target)) ?? -1) > from, RECOVERY_TIMEOUT_MS);
      const result: FaultResult = { ...fault, at, backAt, recoveryMs: performance.now() - resumed, ...(restartMs === undefined ? {} : { restartMs }) };
      log(
        `${kind} ${target}: down ${seconds(downMs)} s${restartMs === undefined ? '' : `, restart ${seconds(restartMs)} s`}, output moving again ${seconds(result.recoveryMs)} s after ${kind === 'kill' ? 'the restart began' : 'SIGCONT'}`,
      );
      return result;
    }

    /** Waits until a processor deployment's releaser has released every series past `lastTs`. */
    async function released(group: string, partialsTopic: string, lastTs: number, timeoutMs: number): Promise<number> {
      const ends = Object.fromEntries(partialSeries(policy).map((s) => [s.id, Math.floor(lastTs / s.size) * s.size + s.size]));
      return waitFor(
        `${group} to release every window up to the end of the data`,
        async () => {
          const [offsets] = await withTimeout(admin.fetchOffsets({ groupId: group, topics: [partialsTopic] }), 5000);
          const metadata = offsets?.partitions[0]?.metadata;
          const upTo = metadata ? ((JSON.parse(metadata) as { releasedUpTo?: Record<string, number> }).releasedUpTo ?? {}) : {};
          return Object.entries(ends).every(([series, end]) => (upTo[series] ?? 0) >= end);
        },
        timeoutMs,
      );
    }

    it(
      "loses no acknowledged reading beyond Mosquitto's own window, counts nothing twice, and InfluxDB matches a fault-free replay",
      async () => {
        const fleet = loadFleet(DEFAULT_FLEET_PATH);
        const published: Array<Published & { ackedAt: number }> = [];
        const city = createCity({
          devices: fleet.devices,
          scenario: loadScenario('rush-hour'),
          seed: `faults-${profile}`,
          tickSeconds: 5,
          travelTimeScale: 0.01,
        });
        const publisher = createFleetPublisher({ url: servers.mqttUrl, fleetSecret: servers.fleetSecret, clientIdPrefix: 'faults' });
        const stop = new AbortController();
        const onPublished = (r: SimulatedReading) => {
          const p = r.payload as { seq: number; ts: string };
          published.push({
            deviceId: r.deviceId,
            seq: p.seq,
            ts: Date.parse(p.ts),
            sightings: sightingKeys(policy, r.deviceId, r.payload as unknown as Record<string, unknown>),
            ackedAt: Date.now(),
          });
        };
        const simulation = runSimulation({
          city,
          publisher,
          tickSeconds: 1,
          signal: stop.signal,
          onPublished,
          onProgress: (p) => log(`published ${p.published} readings (${p.failed} failed)`),
        });

        // Warm up: aggregates reach InfluxDB before the first fault.
        const firstAggregatesMs = await waitFor('the first aggregates in InfluxDB', async () => ((await progress('writer')) ?? 0) > 0, RECOVERY_TIMEOUT_MS);
        log(`first aggregates committed by the writer after ${seconds(firstAggregatesMs)} s`);
        await sleep(WARMUP_MS);
        const results: FaultResult[] = [];
        for (const fault of plan) {
          results.push(await inject(fault));
          await sleep(SETTLE_MS);
        }
        await sleep(TAIL_MS);
        stop.abort();
        const summary = await simulation;
        await publisher.close();
        const lastTs = Math.max(...published.map((p) => p.ts));
        log(`published ${summary.published} readings in ${seconds(summary.elapsedSeconds * 1000)} s, ${summary.failed} failed; draining`);

        // Drain: every window released, every aggregate written.
        const drainMs = await released('lethe-processor-releaser', topics.partials, lastTs, 180_000);
        const aggregatesEnd = async () => (await admin.fetchTopicOffsets(topics.aggregates)).reduce((n, p) => n + Number(p.high), 0);
        // Stopped, so that what is compared below stops moving: both releasers keep releasing the
        // empty windows after the data by the clock, each at its own pace (a window released by one
        // and not yet by the other failed a CI run).
        await svc('processor').stop();
        await waitFor('the writer to commit every aggregate', async () => (await progress('writer')) === (await aggregatesEnd()), 120_000);
        log(`every window released ${seconds(drainMs)} s after the devices stopped; every aggregate committed`);

        // The fault-free replay: one processor in a fresh group, over the same retained input, into its own topics.
        reference = await startManaged(
          'processor',
          {
            KAFKA_BROKERS: servers.kafkaBrokers.join(','),
            POLICY_FILE: policyFile,
            ...PROCESSOR_WINDOWS,
            NOISE_KEY,
            TICK_MS: '200',
            KAFKA_GROUP_ID: 'faults-reference',
            KAFKA_TOPIC_PREFIX: 'reference.',
            KAFKA_INPUT_TOPIC_PREFIX: PREFIX,
          },
          'reference-processor',
        );
        const replayMs = await released('faults-reference-releaser', topicNames('reference.').partials, lastTs, 180_000);
        log(`fault-free replay released everything in ${seconds(replayMs)} s`);
        await reference.stop();

        // 1. Sequence numbers.
        const [readings, sightings] = [
          await dumpTopic(servers.kafkaBrokers, admin, topics.readings),
          await dumpTopic(servers.kafkaBrokers, admin, topics.sightings),
        ];
        const seq = reconcileSequences(published, readings, sightings);
        const mosquittoKills = results.filter((r) => r.target === 'mosquitto' && r.kind === 'kill');
        const inMosquittoWindow = (p: { ackedAt: number }) =>
          mosquittoKills.some((k) => p.ackedAt > k.at - MOSQUITTO_WINDOW_MS && p.ackedAt <= k.backAt + MOSQUITTO_RESUBSCRIBE_MS);
        const lostInWindow = published.filter((p) => inMosquittoWindow(p) && seq.lost.some((l) => l.deviceId === p.deviceId && l.seq === p.seq));
        const lostElsewhere = seq.lost.filter((l) => !lostInWindow.some((p) => p.deviceId === l.deviceId && p.seq === l.seq));
        // When the lost readings were acknowledged to the devices, as runs of consecutive seconds.
        const lostAt = (seq.lost as Array<Published & { ackedAt: number }>).map((l) => l.ackedAt).sort((a, b) => a - b);
        const runs: Array<{ from: number; to: number; n: number }> = [];
        for (const t of lostAt) {
          const last = runs.at(-1);
          if (last && t - last.to <= 2000) Object.assign(last, { to: t, n: last.n + 1 });
          else runs.push({ from: t, to: t, n: 1 });
        }
        const hms = (t: number) => new Date(t).toISOString().slice(11, 23);
        for (const r of runs) log(`lost: ${r.n} readings acknowledged ${hms(r.from)}–${hms(r.to)}`);
        log(
          `sequence numbers: ${seq.acknowledged} acknowledged, ${seq.onTopic} on the readings topic, ${seq.lost.length} lost (${lostInWindow.length} in Mosquitto's window), ` +
            `${seq.duplicates} redelivered copies, ${seq.unacknowledged} delivered but unacknowledged; sightings ${seq.sightingsOnTopic}/${seq.sightingsExpected}, ${seq.sightingDuplicates} copies`,
        );

        // 2. Aggregates vs the fault-free replay.
        const live = collectAggregates(await dumpTopic(servers.kafkaBrokers, admin, topics.aggregates));
        const ref = collectAggregates(await dumpTopic(servers.kafkaBrokers, admin, topicNames('reference.').aggregates));
        const { compared, before } = beforeReplay(live.records, ref.records);
        const liveAfter = afterData(compared, lastTs);
        const refAfter = afterData(ref.records, lastTs);
        const diff = diffAggregates(refAfter.compared, liveAfter.compared);
        const figures = (rs: AggregateRecord[]) =>
          rs
            .filter((r) => r.measurement !== 'privacy' || r.fields.released !== 0)
            .map((r) => `${r.tags.stream ?? r.measurement}|${r.windowStart}: ${JSON.stringify(r.fields)}`);
        const figuresBeforeReplay = figures(before);
        const figuresAfterData = figures([...liveAfter.after, ...refAfter.after]);
        // 3. Reading counts vs distinct sequence numbers.
        const countMismatches = readingCountMismatches(live.records, readings);
        // 4. InfluxDB vs the aggregates.
        const rows = await new InfluxDB({ url: servers.influx.url, token: servers.influx.adminToken })
          .getQueryApi(servers.influx.org)
          .collectRows<Record<string, unknown>>(`from(bucket: "${servers.influx.bucket}") |> range(start: 0)`);
        const inInflux = new Map<string, number>();
        for (const row of rows) {
          const tags = Object.fromEntries(Object.entries(row).filter(([k]) => !k.startsWith('_') && k !== 'result' && k !== 'table')) as Record<string, string>;
          inInflux.set(pointKey(String(row._measurement), tags, Date.parse(String(row._time)), String(row._field)), Number(row._value));
        }
        const wanted = expectedPoints(live.records.values());
        const influxMissing = [...wanted].filter(([k, v]) => inInflux.get(k) !== v).map(([k, v]) => `${k}: expected ${v}, InfluxDB ${inInflux.get(k)}`);
        const influxExtra = [...inInflux.keys()].filter((k) => !wanted.has(k));
        log(
          `aggregates: ${live.records.size} (+${live.copies} identical copies), replay ${ref.records.size} (${before.length} privacy records of empty windows before the first reading, ${liveAfter.after.length} live and ${refAfter.after.length} replayed after the last); InfluxDB ${inInflux.size} values for ${wanted.size} expected`,
        );

        // Per fault: what the reconciliation found during it. A Mosquitto SIGKILL's span begins
        // its save window earlier, where what it may take was acknowledged.
        const spanStarts = results.map((r) => (r.target === 'mosquitto' && r.kind === 'kill' ? r.at - MOSQUITTO_WINDOW_MS : r.at));
        const ackedAt = new Map(published.map((p) => [`${p.deviceId}#${p.seq}`, p.ackedAt]));
        const tally = tallyByFault(spanStarts, {
          lost: (seq.lost as Array<Published & { ackedAt: number }>).map((l) => l.ackedAt),
          countedTwice: countMismatches,
          differing: differingRecords(refAfter.compared, liveAfter.compared),
          redelivered: seq.redelivered.map((r) => ({ at: ackedAt.get(`${r.deviceId}#${r.seq}`) ?? r.ts, copies: r.copies })),
        });
        const table = faultTable(results, tally.byFault, cluster);
        const scenarios = scenarioSummary(results, tally.byFault);
        const beforeFaults = `Before the first fault: ${tally.before.lost} readings lost, ${tally.before.countedTwice} counted twice, ${tally.before.differing} aggregates differing from the replay, ${tally.before.copies} copies absorbed.`;
        console.log(`${table}\n\n${scenarios}\n\n${beforeFaults}`);
        if (profile === 'full') {
          writeFileSync(
            join(ROOT, resultsFile),
            [
              `# Last full fault run on ${on} (${new Date().toISOString()})`,
              '',
              `Command: \`${command}\`. ${plan.length} faults while ${fleet.devices.length} devices published one reading per second each at QoS 1 (${summary.published} readings in ${seconds(summary.elapsedSeconds * 1000)} s).`,
              cluster
                ? "A fault's node is found when it is injected: the leader of the sightings topic's partition 0, or the active controller (kafka-metadata-quorum). " +
                  "A killed node stays down until the controller has fenced it (its session timed out; the controller's log says when) and Kafka acknowledges the gateway's writes without it, then 3 s more; a long pause lasts until the node is fenced, then 3 s; a short pause 3 s. " +
                  "Recovery is from the SIGKILL or SIGSTOP until Kafka acknowledges the gateway's writes again; the next fault waits until every replica is in sync."
                : 'Recovery ("output moving again") is from the restart command or the SIGCONT until the stage\'s output moves.',
              'A finding belongs to the last fault injected before Mosquitto acknowledged its reading to the device (readings lost, copies) or before its window began (counted twice, aggregates).',
              '',
              table,
              '',
              scenarios,
              '',
              `- ${beforeFaults}`,
              `- Sequence numbers: ${seq.acknowledged} acknowledged to the devices, ${seq.lost.length} missing from the readings topic (${lostInWindow.length} acknowledged within ${seconds(MOSQUITTO_WINDOW_MS)} s before a Mosquitto SIGKILL or ${seconds(MOSQUITTO_RESUBSCRIBE_MS)} s after its restart), ${seq.duplicates} redelivered copies (absorbed), ${seq.unacknowledged} on the topic though the device saw no acknowledgement.`,
              `- Sightings: ${seq.sightingsOnTopic} of ${seq.sightingsExpected} expected, ${seq.sightingDuplicates} redelivered copies.`,
              `- Aggregates: ${live.records.size} distinct records (${live.copies} identical copies from replays), ${ref.records.size} in the fault-free replay, ${diff.length} differences (${before.length} privacy records of empty windows before the first reading, which the replay cannot see), ${live.conflicting.length} released twice with different values.`,
              `- Device reading counts that differ from their distinct sequence numbers: ${countMismatches.length}.`,
              `- InfluxDB: ${inInflux.size} values, ${influxMissing.length} missing or different, ${influxExtra.length} extra.`,
              '',
            ].join('\n'),
          );
        }

        expect(summary.failed, 'publishes the devices saw fail').toBe(0);
        expect(
          lostElsewhere.map((l) => `${l.deviceId}#${l.seq}`),
          "acknowledged readings lost outside Mosquitto's window",
        ).toEqual([]);
        expect(seq.sightingsOnTopic, 'sightings of the readings that arrived').toBe(seq.sightingsExpected);
        expect(live.conflicting, 'aggregates released twice with different values').toEqual([]);
        expect(diff, 'aggregates vs the fault-free replay').toEqual([]);
        expect(figuresBeforeReplay, 'figures released before the first reading').toEqual([]);
        expect(figuresAfterData, 'figures released for windows after the last reading').toEqual([]);
        expect(
          countMismatches.map((m) => `${m.id}: readings ${m.readings}, distinct sequence numbers ${m.distinct}`),
          'device reading counts vs distinct sequence numbers',
        ).toEqual([]);
        expect(influxMissing, 'aggregates missing or different in InfluxDB').toEqual([]);
        expect(influxExtra, 'values in InfluxDB that no aggregate explains').toEqual([]);
        for (const r of results) expect(r.recoveryMs, `${r.kind} ${r.target}: recovery`).toBeLessThan(RECOVERY_TIMEOUT_MS);
      },
      60 * 60_000,
    );
  });
}
