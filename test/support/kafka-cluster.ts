// A three-node KRaft cluster of infra/local (LETHE_KAFKA_NODES=3) in a directory of its own, on
// free loopback ports, for the tests that need Kafka beyond one broker (never the shared
// servers), and what they do to its nodes: find a partition's leader or the active controller,
// read a node's pid, kill it, see when the controller fenced it, wait until every replica is in
// sync again, ask one replica (a follower too) for its own log start offset.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { createKafka, type Admin } from '@lethe/kafka';
import { createLogger } from '@lethe/observability';
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

/** Where a cluster started with `reuse` keeps its infra/local variables (its ports), for the next caller. */
const clusterEnvFile = (localDir: string) => join(localDir, 'cluster-env.json');

export interface StartClusterOptions {
  /**
   * Share the cluster between callers (the test files of one vitest project, each in a process of
   * its own): the first picks the ports and writes them into `localDir`, the others start the same
   * cluster, whose running nodes up.sh leaves as they are (it starts only nodes that are down).
   */
  reuse?: boolean;
}

/** The infra/local variables of a cluster in `localDir` whose node i listens on port + 2(i-1) (its controller on the next). */
export const clusterEnv = (localDir: string, port: number): Record<string, string> => ({
  LETHE_LOCAL_DIR: localDir,
  LETHE_KAFKA_NODES: String(CLUSTER_NODES),
  LETHE_KAFKA_PORT: String(port),
  LETHE_KAFKA_CONTROLLER_PORT: String(port + 1),
  // The caller's opt-in SASL port belongs to its own broker (and cluster mode has no SASL yet).
  LETHE_KAFKA_SASL_PORT: '',
});

/** Starts the cluster in `localDir`; explains how to get what it needs when it cannot. */
export async function startKafkaCluster(localDir: string, { reuse = false }: StartClusterOptions = {}): Promise<KafkaCluster> {
  let env: Record<string, string>;
  if (reuse && existsSync(clusterEnvFile(localDir))) env = JSON.parse(readFileSync(clusterEnvFile(localDir), 'utf8')) as Record<string, string>;
  else {
    env = clusterEnv(localDir, await freePortBlock(2 * CLUSTER_NODES));
    if (reuse) {
      mkdirSync(localDir, { recursive: true });
      writeFileSync(clusterEnvFile(localDir), JSON.stringify(env));
    }
  }
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

/** Stops a cluster started with `reuse` in `localDir`, if there is one (its data stays for a look after the run). */
export async function stopSharedKafkaCluster(localDir: string): Promise<void> {
  if (!existsSync(clusterEnvFile(localDir))) return;
  const env = JSON.parse(readFileSync(clusterEnvFile(localDir), 'utf8')) as Record<string, string>;
  await runLocalScript('down.sh', ['kafka'], env);
}

/**
 * Waits until the cluster's metadata lists every node as a broker: each node has logged its
 * start, but the metadata a broker answers with may not list the others (or a node just
 * restarted, until the controller unfences it) yet.
 */
export async function waitForBrokers(brokers: readonly string[], timeoutMs: number): Promise<number> {
  const admin = createKafka({ brokers: [...brokers], clientId: 'cluster-wait', logger: createLogger({ service: 'test', level: 'silent' }) }).admin();
  await admin.connect();
  try {
    return await waitFor(
      `all ${brokers.length} brokers in the cluster metadata`,
      async () => (await admin.describeCluster()).brokers.length === brokers.length,
      timeoutMs,
    );
  } finally {
    await admin.disconnect();
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

/** Kafka's replica id for debugging tools: a ListOffsets request with it is answered by a follower too. */
const DEBUGGING_REPLICA_ID = -2;
const EARLIEST_TIMESTAMP = -2n;
const LATEST_TIMESTAMP = -1n;

export interface ReplicaOffset {
  /** Kafka's error code for the partition (0: none; 6: the broker has no replica of it (yet), …). */
  error: number;
  offset: number;
}

/**
 * One replica's own log start offset (`earliest`) or log end offset (`latest`) for each partition,
 * asked of the broker that holds it: a ListOffsets (v1) request with the debugging replica id,
 * which Kafka 3.9 answers from a follower's local log as well (KafkaApis: fetchOnlyFromLeader =
 * replicaId != DEBUGGING_REPLICA_ID; Partition.fetchOffsetForTimestamp), where kafkajs only ever
 * asks the leader. A follower serves reads (consumers' fetches of version 11 and later, and
 * fetches after it becomes leader) from its log start offset on (UnifiedLog.read refuses offsets
 * below it), so this is where a replica's readable records begin. Rejects when the broker does
 * not answer within `timeoutMs`.
 */
export function replicaOffsets(
  broker: string,
  topic: string,
  partitions: readonly number[],
  which: 'earliest' | 'latest',
  timeoutMs = 5_000,
): Promise<Map<number, ReplicaOffset>> {
  const [host, port] = [broker.slice(0, broker.lastIndexOf(':')), Number(broker.slice(broker.lastIndexOf(':') + 1))];
  const clientId = Buffer.from('lethe-replica-offsets');
  const name = Buffer.from(topic);
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4 + 4 + 2 + name.length + 4 + partitions.length * 12);
  let at = 0;
  at = body.writeInt16BE(2, at); // api key: ListOffsets
  at = body.writeInt16BE(1, at); // version 1
  at = body.writeInt32BE(1, at); // correlation id
  at = body.writeInt16BE(clientId.length, at);
  at += clientId.copy(body, at);
  at = body.writeInt32BE(DEBUGGING_REPLICA_ID, at);
  at = body.writeInt32BE(1, at); // one topic
  at = body.writeInt16BE(name.length, at);
  at += name.copy(body, at);
  at = body.writeInt32BE(partitions.length, at);
  for (const p of partitions) {
    at = body.writeInt32BE(p, at);
    at = body.writeBigInt64BE(which === 'earliest' ? EARLIEST_TIMESTAMP : LATEST_TIMESTAMP, at);
  }
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error(`${broker} did not answer ListOffsets within ${timeoutMs} ms`)), timeoutMs);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('connect', () => socket.write(Buffer.concat([size, body])));
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      const buf = Buffer.concat(chunks);
      if (buf.length < 4 || buf.length < 4 + buf.readInt32BE(0)) return;
      clearTimeout(timer);
      socket.end();
      // Response v1: correlation id, [topic name, [partition, error code, timestamp, offset]].
      const result = new Map<number, ReplicaOffset>();
      let r = 8;
      const topics = buf.readInt32BE(r);
      r += 4;
      for (let t = 0; t < topics; t++) {
        r += 2 + buf.readInt16BE(r);
        const count = buf.readInt32BE(r);
        r += 4;
        for (let i = 0; i < count; i++) {
          result.set(buf.readInt32BE(r), { error: buf.readInt16BE(r + 4), offset: Number(buf.readBigInt64BE(r + 14)) });
          r += 22;
        }
      }
      resolve(result);
    });
  });
}
