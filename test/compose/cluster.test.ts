// The compose stack on three Kafka brokers, as docker-compose.cluster.yml says to run it:
//   docker compose -f docker-compose.yml -f docker-compose.cluster.yml up --build --wait
// on a Docker Engine of its own (test/compose/docker.ts), every service but Grafana. Checks as an
// operator would, with two processors (`--scale processor=2`): three brokers, each healthy, and
// both processors, each scraped by Prometheus; the register states
// replication factor 3, min.insync.replicas 2 and no unclean leader election for every topic, as
// the brokers report it; a broker killed (the one every service names first) does not stop
// readings reaching the api, and once it is back every partition is fully replicated again;
// `docker compose down -v` leaves nothing, the extra brokers' volumes included.
//
//   pnpm test:compose        # this file after stack.test.ts: ~5 min more, the images built
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Engine, progress, startEngine, stopEngine, waitFor } from './docker.ts';
import { downLeavesNothing, startStack, type Stack } from './stack.ts';

const FILES = ['docker-compose.yml', 'docker-compose.cluster.yml'];
const BROKERS = ['kafka', 'kafka-2', 'kafka-3'];

interface RegisterReplication {
  state: string;
  replicas?: number;
  minInsyncReplicas?: number;
  uncleanLeaderElection?: boolean;
}

let engine: Engine | undefined;
let stack: Stack | undefined;
let tornDown = false;

/** kafka-topics.sh inside a broker's container, against that broker. */
const topicsTool = (broker: string, args: readonly string[], timeoutS = 120) =>
  stack!.compose(['exec', '-T', broker, '/opt/kafka/bin/kafka-topics.sh', '--bootstrap-server', '127.0.0.1:9092', ...args], timeoutS);

describe.sequential('docker compose up with docker-compose.cluster.yml: three Kafka brokers', () => {
  beforeAll(async () => {
    engine = startEngine();
    stack = await startStack(engine, { files: FILES, scale: { processor: 2 } });
  }, 3_600_000);

  afterAll(() => {
    try {
      if (engine && stack && !tornDown) stack.compose(['down', '-v', '--remove-orphans', '--timeout', '30'], 300, true);
    } finally {
      if (engine) stopEngine(engine);
    }
  }, 600_000);

  it('runs three brokers, each healthy, and states replication 3, min.insync.replicas 2 and no unclean election for every topic', async () => {
    const running = stack!
      .compose(['ps', '--format', '{{.Service}} {{.State}} {{.Health}}', ...BROKERS], 60)
      .stdout.trim()
      .split('\n')
      .sort();
    expect(running).toEqual(BROKERS.map((b) => `${b} running healthy`));
    // The api reads the replication at its start and at every check (WATCH_INTERVAL_SECONDS, 30 s):
    // a topic the services created after the api started is stated from the next read on.
    const topics = await waitFor('the register stating every topic’s replication as read from the brokers', 300, async () => {
      const res = await fetch(`http://127.0.0.1:${stack!.apiPort}/v1/register`, { signal: AbortSignal.timeout(15_000) });
      if (!res.ok) return undefined;
      const body = (await res.json()) as { topics: Array<{ topic: string; replication: RegisterReplication }> };
      return body.topics.every((t) => t.replication.state === 'read') ? body.topics : undefined;
    });
    expect(topics.length).toBeGreaterThanOrEqual(5);
    for (const { topic, replication } of topics) {
      expect(replication, topic).toEqual({ state: 'read', replicas: 3, minInsyncReplicas: 2, uncleanLeaderElection: false });
    }
    progress(`  register: ${topics.length} topics, each on 3 brokers, min.insync.replicas 2`);
  }, 600_000);

  it('runs two processors, each healthy and scraped by Prometheus (`--scale processor=2`)', async () => {
    const processors = stack!.compose(['ps', '--format', '{{.Name}} {{.State}} {{.Health}}', 'processor'], 60).stdout.trim().split('\n');
    expect(processors.map((p) => p.split(' ').slice(1).join(' '))).toEqual(['running healthy', 'running healthy']);
    // Prometheus finds every replica by DNS (infra/prometheus), so the processors' metrics add up there.
    await waitFor('Prometheus scraping two processor replicas', 300, () => {
      const script = `fetch('http://prometheus:9090/api/v1/targets?state=active').then((r) => r.json()).then((b) => console.log(b.data.activeTargets.filter((t) => t.labels.service === 'processor' && t.health === 'up').length))`;
      const up = Number(stack!.compose(['exec', '-T', 'api', 'node', '-e', script], 60, true).stdout.trim());
      return up === 2 ? true : undefined;
    });
  }, 600_000);

  it('takes readings with a broker killed, and re-replicates every partition when it is back', async () => {
    // The broker every service names first in KAFKA_BROKERS, killed as a crash would (a manual
    // kill: the restart policy leaves it down until it is started again).
    stack!.compose(['kill', 'kafka'], 120);
    await stack!.publishAndFind('SW-0003', 'published with the broker kafka down');
    stack!.compose(['start', 'kafka'], 300);
    await waitFor('kafka healthy again', 300, () =>
      stack!.compose(['ps', '--format', '{{.Health}}', 'kafka'], 60, true).stdout.trim() === 'healthy' ? true : undefined,
    );
    // Asked of another broker: the returned broker's copies caught up with the leaders.
    const under = await waitFor(
      'no under-replicated partition',
      300,
      () => (topicsTool('kafka-2', ['--describe', '--under-replicated-partitions']).stdout.trim() === '' ? true : undefined),
      10,
    );
    expect(under).toBe(true);
    const described = topicsTool('kafka-2', ['--describe', '--topic', 'lethe.sightings.v1']).stdout;
    expect(described, 'the sightings topic described').toMatch(/ReplicationFactor: 3/);
    for (const line of described.split('\n').filter((l) => l.includes('Partition:'))) {
      expect(/Isr: (\S+)/.exec(line)?.[1]?.split(',').sort(), line).toEqual(['1', '2', '3']);
    }
    await stack!.publishAndFind('SW-0004', 'published with all three brokers back');
  }, 1_800_000);

  it('leaves no container, volume or network behind after docker compose down -v, the extra brokers’ volumes included', () => {
    const volumes = stack!.compose(['volumes', '--format', '{{.Name}}'], 60, true).stdout;
    const left = downLeavesNothing(stack!, engine!);
    tornDown = true;
    expect(left).toEqual({ containers: '', volumes: '', networks: '' });
    progress(`  removed volumes: ${volumes.trim().split('\n').join(' ')}`);
  }, 400_000);
});
