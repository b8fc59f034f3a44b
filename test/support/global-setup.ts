// Real infrastructure for integration and e2e tests, started once. In order of preference:
//   1. explicit endpoints from the environment (LETHE_TEST_MQTT_URL, LETHE_TEST_KAFKA_BROKERS,
//      LETHE_TEST_INFLUX_URL, LETHE_TEST_INFLUX_ADMIN_TOKEN, LETHE_TEST_SECRETS_DIR);
//   2. testcontainers, when a Docker engine answers (test/support/testcontainers-infra.ts;
//      LETHE_TEST_INFRA=native skips it, LETHE_TEST_INFRA=testcontainers makes it the only choice);
//   3. the native servers of infra/local (Mosquitto, Kafka, InfluxDB on loopback), started
//      here with infra/local/up.sh, which installs them into the cache when missing.
// There is no silent skip: if none works the run fails and says how to get them.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { initInflux } from '../../scripts/influx-init.ts';
import { startNativeServers } from './native-servers.ts';
import { testcontainersInfra } from './testcontainers-infra.ts';

export interface TestInfra {
  mqttUrl: string;
  kafkaBrokers: string[];
  influx: { url: string; org: string; bucket: string; adminToken: string; writerToken: string; readerToken: string };
  fleetSecret: string;
  gatewayPassword: string;
  /** The compose healthcheck's MQTT user (may connect, read and write nothing); absent from secrets made before it existed. */
  healthcheckPassword: string | undefined;
}

declare module 'vitest' {
  export interface ProvidedContext {
    infra: TestInfra;
  }
}

const ROOT = new URL('../../', import.meta.url).pathname;

/** The developer's own infra/local servers (LETHE_LOCAL_DIR and ports as they set them), started if they are not running. */
async function nativeInfra(): Promise<{ mqttUrl: string; kafkaBrokers: string; influxUrl: string; adminToken: string; secretsDir: string }> {
  try {
    // Progress shown: on a fresh machine this installs Kafka and builds InfluxDB.
    const servers = await startNativeServers({ output: 'inherit' });
    return {
      mqttUrl: servers.endpoints.MQTT_URL!,
      kafkaBrokers: servers.endpoints.KAFKA_BROKERS!,
      influxUrl: servers.influx.INFLUX_URL!,
      adminToken: servers.influx.INFLUX_ADMIN_TOKEN!,
      secretsDir: servers.secretsDir,
    };
  } catch (err) {
    throw new Error(
      'Integration tests need real Mosquitto, Kafka and InfluxDB, and infra/local/up.sh could not start them (see its output above).\n' +
        'Either fix that (it needs apt for mosquitto, Maven Central for Kafka, the Go proxy and crates.io for InfluxDB),\n' +
        'or point the tests at running servers with LETHE_TEST_MQTT_URL, LETHE_TEST_KAFKA_BROKERS, LETHE_TEST_INFLUX_URL,\n' +
        'LETHE_TEST_INFLUX_ADMIN_TOKEN and LETHE_TEST_SECRETS_DIR (holding fleet-secret and mqtt-gateway-password).',
      { cause: err },
    );
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const env = process.env;
  const explicit =
    env.LETHE_TEST_MQTT_URL && env.LETHE_TEST_KAFKA_BROKERS && env.LETHE_TEST_INFLUX_URL && env.LETHE_TEST_INFLUX_ADMIN_TOKEN && env.LETHE_TEST_SECRETS_DIR;
  const containers = explicit ? undefined : await testcontainersInfra(ROOT);
  const found = explicit
    ? {
        mqttUrl: env.LETHE_TEST_MQTT_URL!,
        kafkaBrokers: env.LETHE_TEST_KAFKA_BROKERS!,
        influxUrl: env.LETHE_TEST_INFLUX_URL!,
        adminToken: env.LETHE_TEST_INFLUX_ADMIN_TOKEN!,
        secretsDir: env.LETHE_TEST_SECRETS_DIR!,
      }
    : (containers ?? (await nativeInfra()));
  const source = explicit ? 'LETHE_TEST_* endpoints' : containers ? `testcontainers (${containers.engine})` : 'native infra/local servers';
  console.log(`[global-setup] ${project.name}: real infrastructure from ${source}`);
  const org = env.LETHE_TEST_INFLUX_ORG ?? 'lethe';
  const bucket = env.LETHE_TEST_INFLUX_BUCKET ?? 'aggregates';
  const tokens = await initInflux({ url: found.influxUrl, adminToken: found.adminToken, org, bucket });
  const secret = (name: string) => readFileSync(join(found.secretsDir, name), 'utf8').trim();
  project.provide('infra', {
    mqttUrl: found.mqttUrl,
    kafkaBrokers: found.kafkaBrokers.split(','),
    influx: { url: found.influxUrl, org, bucket, adminToken: found.adminToken, writerToken: tokens.writerToken, readerToken: tokens.readerToken },
    fleetSecret: secret('fleet-secret'),
    gatewayPassword: secret('mqtt-gateway-password'),
    healthcheckPassword: existsSync(join(found.secretsDir, 'mqtt-healthcheck-password')) ? secret('mqtt-healthcheck-password') : undefined,
  });
  return containers?.release;
}
