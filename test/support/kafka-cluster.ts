// A three-node KRaft cluster of infra/local (LETHE_KAFKA_NODES=3) in a directory of its own, on
// free loopback ports, for the tests that need Kafka beyond one broker (never the shared
// servers), and what they do to its nodes: find a partition's leader or the active controller,
// read a node's pid, kill it, see when the controller fenced it, wait until every replica is in
// sync again.
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Admin } from '@lethe/kafka';
import { runLocalScript, startNativeServers } from './native-servers.ts';
import { freePort } from './services.ts';
import { waitFor } from './wait.ts';

export const CLUSTER_NODES = 3;

/** True when nothing listens on 127.0.0.1:port. */
const canListen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

/** A port P with P … P+count-1 all free (node i uses P+2(i-1) and, for its controller, P+2(i-1)+1). */
export async function freePortBlock(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = await freePort();
    if (base + count > 65_535) continue;
    const free = await Promise.all(Array.from({ length: count }, (_, i) => canListen(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error(`found no ${count} consecutive free ports on 127.0.0.1`);
}

export interface KafkaCluster {
  brokers: string[];
  /** The environment of infra/local's scripts for this cluster (kafka.sh start-node N, …). */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** Starts the cluster in `localDir`; explains how to get what it needs when it cannot. */
export async function startKafkaCluster(localDir: string): Promise<KafkaCluster> {
  const port = await freePortBlock(2 * CLUSTER_NODES);
  const env = {
    LETHE_LOCAL_DIR: localDir,
    LETHE_KAFKA_NODES: String(CLUSTER_NODES),
    LETHE_KAFKA_PORT: String(port),
    LETHE_KAFKA_CONTROLLER_PORT: String(port + 1),
    // The caller's opt-in SASL port belongs to its own broker (and cluster mode has no SASL yet).
    LETHE_KAFKA_SASL_PORT: '',
  };
  try {
    const servers = await startNativeServers({ env, services: ['kafka'] });
    return { brokers: servers.endpoints.KAFKA_BROKERS!.split(','), env, stop: () => runLocalScript('down.sh', ['kafka'], env).then(() => undefined) };
  } catch (err) {
    await runLocalScript('down.sh', ['kafka'], env).catch(() => undefined);
    throw new Error(
      'This test starts its own three-broker Kafka with `LETHE_KAFKA_NODES=3 infra/local/up.sh kafka` and it failed (see the cause).\n' +
        'It needs Java 17 and the Kafka jars: `bash infra/local/install-kafka.sh` (Maven Central), then `LETHE_KAFKA_NODES=3 bash infra/local/kafka.sh start` to see the error.',
      { cause: err },
    );
  }
}

/** The pid of a running node, from its pid file (kafka.sh writes $LETHE_LOCAL_DIR/pids/kafka-<node>.pid). */
export const nodePid = (localDir: string, node: number): number => Number(readFileSync(join(localDir, 'pids', `kafka-${node}.pid`), 'utf8').trim());

/** Running, not a zombie (a killed node is reaped by whoever adopted it, not by us). */
export function isAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** SIGKILL, then wait until the process is gone. */
export async function killNodeProcess(pid: number): Promise<void> {
  process.kill(pid, 'SIGKILL');
  await waitFor(`pid ${pid} to die`, () => !isAlive(pid), 10_000);
}

/** The node leading a partition now. */
export async function partitionLeader(admin: Admin, topic: string, partition: number): Promise<number> {
  const p = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]?.partitions.find((x) => x.partitionId === partition);
  if (!p) throw new Error(`${topic} has no partition ${partition}`);
  return p.leader;
}

/** The active controller (the KRaft quorum's leader), asked of each broker in turn until one answers. */
export async function activeController(env: Record<string, string>, brokers: readonly string[]): Promise<number> {
  let last: unknown;
  for (const broker of brokers) {
    try {
      const out = await runLocalScript('kafka.sh', ['tool', 'kafka-metadata-quorum', '--bootstrap-server', broker, 'describe', '--status'], env);
      const id = /^LeaderId:\s*(\d+)/m.exec(out)?.[1];
      if (id !== undefined) return Number(id);
      last = new Error(`no LeaderId in kafka-metadata-quorum's answer:\n${out.slice(-1000)}`);
    } catch (err) {
      last = err;
    }
  }
  throw new Error('no broker told the active controller', { cause: last });
}

/** Partitions whose in-sync replicas are fewer than their replicas, of every topic, internal ones included. */
export async function underReplicated(admin: Admin): Promise<string[]> {
  // No topics asked: kafkajs asks for all of them.
  const { topics } = await admin.fetchTopicMetadata();
  return topics.flatMap((t) => t.partitions.filter((p) => p.isr.length < p.replicas.length).map((p) => `${t.name}/${p.partitionId}`));
}

/**
 * Waits until every replica of every partition of every topic is in sync; internal topics too:
 * with a node down and another out of the ISR of a __consumer_offsets partition, that group
 * coordinator is below min.insync.replicas and refuses offset commits.
 */
export async function waitForFullIsr(admin: Admin, timeoutMs: number): Promise<number> {
  let last: string[] = [];
  return waitFor('every replica of every partition in sync', async () => (last = await underReplicated(admin)).length === 0, timeoutMs, {
    everyMs: 500,
    context: () => `under-replicated: ${last.slice(0, 10).join(', ')}${last.length > 10 ? ', …' : ''}`,
  });
}

/** Kafka 3.9's controller log line when a broker's session times out (it then moves the broker's leaderships). */
const FENCING = /^\[(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d),(\d{3})\] INFO \[QuorumController id=\d+\] Fencing broker (\d+) because its session has timed out/gm;

export interface FenceWatch {
  /** When the active controller fenced `node` since the watch began (epoch ms), if it did. */
  fencedAt(node: number): number | undefined;
}

/**
 * Watches the nodes' logs (logs/kafka-<i>.log), from their current ends on, for the active
 * controller fencing a broker whose session timed out. The log, not a client: the cluster's
 * metadata lists only unfenced brokers, but a client asking for it may pick the stopped node and
 * wait out its request timeout. Log timestamps are the machine's local time, as `Date` parses them.
 */
export function watchFencing(localDir: string, nodes: number): FenceWatch {
  const files = Array.from({ length: nodes }, (_, i) => join(localDir, 'logs', `kafka-${i + 1}.log`));
  const from = files.map((f) => (existsSync(f) ? statSync(f).size : 0));
  const appended = (file: string, offset: number): string => {
    const size = existsSync(file) ? statSync(file).size : 0;
    if (size <= offset) return '';
    const buffer = Buffer.alloc(size - offset);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, buffer, 0, buffer.length, offset);
    } finally {
      closeSync(fd);
    }
    return buffer.toString('utf8');
  };
  return {
    fencedAt(node) {
      let first: number | undefined;
      files.forEach((file, i) => {
        for (const m of appended(file, from[i]!).matchAll(FENCING)) {
          if (Number(m[4]) !== node) continue;
          const t = new Date(`${m[1]}T${m[2]}.${m[3]}`).getTime();
          first = Math.min(first ?? t, t);
        }
      });
      return first;
    },
  };
}
