// The fault suite's own Mosquitto, Kafka and InfluxDB: a dedicated native instance of
// infra/local (its own directory and ports), because the suite kills and pauses them, which the
// servers shared by the other suites must never see. Each run starts from empty data, so the
// topics, consumer groups and bucket hold this run's records only.
import { join } from 'node:path';
import { initInflux } from '../../scripts/influx-init.ts';
import { startNativeServers, type ServerName } from '../support/native-servers.ts';

export type { ServerName };

const ROOT = new URL('../../', import.meta.url).pathname;

export interface FaultServers {
  mqttUrl: string;
  kafkaBrokers: string[];
  influx: { url: string; org: string; bucket: string; adminToken: string; writerToken: string; readerToken: string };
  fleetSecret: string;
  gatewayPassword: string;
  /** The server's current pid (from its pid file). */
  pid(name: ServerName): number;
  /** Starts a server that was killed (its script waits until it answers); resolves with the milliseconds that took. */
  start(name: ServerName): Promise<number>;
  /** Stops all three and keeps their data for a post-mortem (the next run wipes it). */
  down(): Promise<void>;
}

/** Ports and directory, overridable so two copies of the suite (or CI beside a developer) can coexist. */
export function faultServerEnv(): Record<string, string> {
  const env = process.env;
  return {
    LETHE_LOCAL_DIR: env.LETHE_FAULTS_LOCAL_DIR ?? join(ROOT, '.local-faults'),
    LETHE_MQTT_PORT: env.LETHE_FAULTS_MQTT_PORT ?? '31883',
    LETHE_KAFKA_PORT: env.LETHE_FAULTS_KAFKA_PORT ?? '39092',
    LETHE_KAFKA_CONTROLLER_PORT: env.LETHE_FAULTS_KAFKA_CONTROLLER_PORT ?? '39093',
    LETHE_INFLUX_PORT: env.LETHE_FAULTS_INFLUX_PORT ?? '38086',
  };
}

export async function startFaultServers(log: (line: string) => void): Promise<FaultServers> {
  const env = faultServerEnv();
  const started = performance.now();
  log(`fresh native servers in ${env.LETHE_LOCAL_DIR} (mqtt :${env.LETHE_MQTT_PORT}, kafka :${env.LETHE_KAFKA_PORT}, influxdb :${env.LETHE_INFLUX_PORT})`);
  const servers = await startNativeServers({ env, fresh: true });
  const org = 'lethe';
  const bucket = 'aggregates';
  const adminToken = servers.influx.INFLUX_ADMIN_TOKEN!;
  const tokens = await initInflux({ url: servers.influx.INFLUX_URL!, adminToken, org, bucket });
  log(`servers up in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return {
    mqttUrl: servers.endpoints.MQTT_URL!,
    kafkaBrokers: servers.endpoints.KAFKA_BROKERS!.split(','),
    influx: { url: servers.influx.INFLUX_URL!, org, bucket, adminToken, writerToken: tokens.writerToken, readerToken: tokens.readerToken },
    fleetSecret: servers.secret('fleet-secret'),
    gatewayPassword: servers.secret('mqtt-gateway-password'),
    pid: servers.pid,
    start: servers.start,
    down: servers.down,
  };
}
