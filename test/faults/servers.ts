// The fault suite's own Mosquitto, Kafka and InfluxDB: a dedicated native instance of
// infra/local (its own directory and ports), because the suite kills and pauses them, which the
// servers shared by the other suites must never see. Each run starts from empty data, so the
// topics, consumer groups and bucket hold this run's records only. Kafka is a single broker, or
// (kafkaNodes: 3) the three-node KRaft cluster of infra/local/kafka-cluster.sh, in a directory of
// its own beside the single broker's, so that one run's post-mortem files survive the other.
import { join } from 'node:path';
import { initInflux } from '../../scripts/influx-init.ts';
import { activeController, nodePid } from '../support/kafka-cluster.ts';
import { runLocalScript, startNativeServers, type ServerName } from '../support/native-servers.ts';

export type { ServerName };

const ROOT = new URL('../../', import.meta.url).pathname;

export interface FaultServers {
  /** The instance's run directory (server logs, pid files, the services' logs after the run). */
  localDir: string;
  mqttUrl: string;
  kafkaBrokers: string[];
  /** 1 (a single broker) or the cluster's node count. */
  kafkaNodes: number;
  influx: { url: string; org: string; bucket: string; adminToken: string; writerToken: string; readerToken: string };
  fleetSecret: string;
  gatewayPassword: string;
  /** The server's current pid (from its pid file); for Kafka, the single broker's. */
  pid(name: ServerName): number;
  /** Starts a server that was killed (its script waits until it answers); resolves with the milliseconds that took. */
  start(name: ServerName): Promise<number>;
  /** Cluster: node `node`'s pid (from its pid file). */
  nodePid(node: number): number;
  /** Cluster: starts a node that was killed (kafka.sh start-node, up to its "started" line); resolves with the milliseconds that took. */
  startNode(node: number): Promise<number>;
  /** Cluster: the node that is the active controller now. */
  activeController(): Promise<number>;
  /** Stops all three (every node of a cluster) and keeps their data for a post-mortem (the next run wipes it). */
  down(): Promise<void>;
}

export interface FaultServerOptions {
  /** Kafka nodes: 1 (default) or 3 (the cluster). */
  kafkaNodes?: number;
}

/**
 * Ports and directory, overridable so two copies of the suite (or CI beside a developer) can
 * coexist. The cluster's node i listens on LETHE_FAULTS_KAFKA_PORT + 2(i-1) and, for its
 * controller, LETHE_FAULTS_KAFKA_CONTROLLER_PORT + 2(i-1); it runs in `<LETHE_FAULTS_LOCAL_DIR>-cluster`.
 */
export function faultServerEnv({ kafkaNodes = 1 }: FaultServerOptions = {}): Record<string, string> {
  const env = process.env;
  const localDir = env.LETHE_FAULTS_LOCAL_DIR ?? join(ROOT, '.local-faults');
  return {
    LETHE_LOCAL_DIR: kafkaNodes === 1 ? localDir : `${localDir}-cluster`,
    LETHE_MQTT_PORT: env.LETHE_FAULTS_MQTT_PORT ?? '31883',
    LETHE_KAFKA_PORT: env.LETHE_FAULTS_KAFKA_PORT ?? '39092',
    LETHE_KAFKA_CONTROLLER_PORT: env.LETHE_FAULTS_KAFKA_CONTROLLER_PORT ?? '39093',
    LETHE_INFLUX_PORT: env.LETHE_FAULTS_INFLUX_PORT ?? '38086',
    LETHE_KAFKA_NODES: String(kafkaNodes),
    // The caller's opt-in listeners belong to its own servers (and a cluster has no SASL listener).
    LETHE_KAFKA_SASL_PORT: '',
    LETHE_MQTT_TLS_PORT: '',
  };
}

export async function startFaultServers(log: (line: string) => void, options: FaultServerOptions = {}): Promise<FaultServers> {
  const env = faultServerEnv(options);
  const kafkaNodes = Number(env.LETHE_KAFKA_NODES);
  const started = performance.now();
  log(
    `fresh native servers in ${env.LETHE_LOCAL_DIR} (mqtt :${env.LETHE_MQTT_PORT}, kafka ${kafkaNodes === 1 ? '' : `${kafkaNodes} nodes from `}:${env.LETHE_KAFKA_PORT}, influxdb :${env.LETHE_INFLUX_PORT})`,
  );
  const servers = await startNativeServers({ env, fresh: true });
  const org = 'lethe';
  const bucket = 'aggregates';
  const adminToken = servers.influx.INFLUX_ADMIN_TOKEN!;
  const tokens = await initInflux({ url: servers.influx.INFLUX_URL!, adminToken, org, bucket });
  log(`servers up in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const kafkaBrokers = servers.endpoints.KAFKA_BROKERS!.split(',');
  const cluster = (what: string) => {
    if (kafkaNodes === 1) throw new Error(`${what} needs the cluster (kafkaNodes: 3)`);
  };
  return {
    localDir: servers.localDir,
    mqttUrl: servers.endpoints.MQTT_URL!,
    kafkaBrokers,
    kafkaNodes,
    influx: { url: servers.influx.INFLUX_URL!, org, bucket, adminToken, writerToken: tokens.writerToken, readerToken: tokens.readerToken },
    fleetSecret: servers.secret('fleet-secret'),
    gatewayPassword: servers.secret('mqtt-gateway-password'),
    pid: servers.pid,
    start: servers.start,
    nodePid(node) {
      cluster('nodePid');
      return nodePid(servers.localDir, node);
    },
    async startNode(node) {
      cluster('startNode');
      const t = performance.now();
      await runLocalScript('kafka.sh', ['start-node', String(node)], env);
      return performance.now() - t;
    },
    activeController() {
      cluster('activeController');
      return activeController(env, kafkaBrokers);
    },
    down: servers.down,
  };
}
