// Test infrastructure in containers, used by global-setup.ts when a Docker engine answers:
// Mosquitto, Kafka (KRaft) and InfluxDB 2 with the images pinned in docker-compose.yml,
// configured like infra/local: Mosquitto with the compose config, infra/mosquitto/acl and a
// password file from scripts/setup-secrets.ts (the gateway and every device); Kafka with
// automatic topic creation off and fast retention checks; InfluxDB onboarded with a random
// admin token. The integration, e2e and privacy projects each run the global setup, so one set
// of containers is shared in the process and stopped when the last project releases it.
//
// Without a Docker engine only the detection runs (it answers "no engine" in milliseconds); CI
// runs the integration project through this path once, on infra/docker's engine and images
// (`pnpm test:testcontainers`). Set LETHE_TEST_INFRA=native to skip the detection.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BoundPorts,
  GenericContainer,
  getContainerRuntimeClient,
  Wait,
  waitForContainer,
  type ContainerRuntimeClient,
  type StartedTestContainer,
} from 'testcontainers';
import { parse } from 'yaml';

/** Endpoints and credentials of running servers, as global-setup.ts consumes them. */
export interface FoundInfra {
  mqttUrl: string;
  /** Comma-separated host:port list. */
  kafkaBrokers: string;
  influxUrl: string;
  adminToken: string;
  /** Directory with fleet-secret, mqtt-gateway-password and the other generated secrets. */
  secretsDir: string;
}

export interface ContainerInfra extends FoundInfra {
  /** The Docker engine the containers run on, for the log. */
  engine: string;
  /** Gives back this user's share; the last one stops the containers. */
  release(): Promise<void>;
}

/** How long the engine detection may take before it counts as "no engine". */
export const DETECT_TIMEOUT_MS = 1500;
const STARTUP_TIMEOUT_MS = 180_000;
const INFLUX_RETENTION_SECONDS = 30 * 24 * 3600; // as infra/local/influxdb.sh
const KAFKA_HOST_PORT = 9095; // the listener advertised to clients outside the container
const KAFKA_START_SCRIPT = '/tmp/lethe-kafka-start.sh';
const KAFKA_WAITING = 'lethe: waiting for the start script';

/**
 * The container engine testcontainers finds (DOCKER_HOST, ~/.testcontainers.properties, the
 * usual sockets), or undefined when none answers within `timeoutMs`.
 */
export async function detectContainerEngine(timeoutMs = DETECT_TIMEOUT_MS): Promise<ContainerRuntimeClient | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(resolve, timeoutMs, undefined);
    timer.unref();
  });
  try {
    return await Promise.race([getContainerRuntimeClient().catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

interface Shared {
  users: number;
  started: Promise<{ infra: FoundInfra; engine: string; stop(): Promise<void> }>;
}
const SHARED = Symbol.for('lethe.test.testcontainers-infra');
const registry = globalThis as { [SHARED]?: Shared };

/**
 * Starts (or joins) the containerised infrastructure if a Docker engine answers; resolves to
 * undefined without one, so the caller falls through to the native servers.
 */
export async function testcontainersInfra(root: string): Promise<ContainerInfra | undefined> {
  if (process.env.LETHE_TEST_INFRA === 'native') return undefined;
  let shared = registry[SHARED];
  if (shared === undefined) {
    const client = await detectContainerEngine();
    if (client === undefined) {
      // Asked for containers (pnpm test:testcontainers): falling back to native servers would prove nothing about them.
      if (process.env.LETHE_TEST_INFRA === 'testcontainers')
        throw new Error(
          'LETHE_TEST_INFRA=testcontainers, but no Docker engine answers: run through infra/docker/with-engine.sh (pnpm test:testcontainers), or set DOCKER_HOST',
        );
      return undefined;
    }
    const { host, serverVersion } = client.info.containerRuntime;
    shared = { users: 0, started: startContainers(root, `${host}, engine ${serverVersion}`) };
    registry[SHARED] = shared;
  }
  const current = shared;
  let started;
  try {
    started = await current.started;
  } catch (error) {
    if (registry[SHARED] === current) delete registry[SHARED];
    throw new Error(
      'A Docker engine answers, but the test containers did not start (see the cause). Fix that, or use the native\n' +
        'servers instead with LETHE_TEST_INFRA=native (infra/local/up.sh), or point the tests at running servers (LETHE_TEST_*).',
      { cause: error },
    );
  }
  current.users += 1;
  let released = false;
  return {
    ...started.infra,
    engine: started.engine,
    async release() {
      if (released) return;
      released = true;
      current.users -= 1;
      if (current.users > 0) return;
      if (registry[SHARED] === current) delete registry[SHARED];
      await started.stop();
    },
  };
}

interface ComposeService {
  image: string;
  environment: Record<string, string>;
}

/** A service of docker-compose.yml: its pinned image (tests run what users run) and environment. */
function composeService(root: string, name: string): ComposeService {
  const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, { image?: string; environment?: unknown }>;
  };
  const service = compose.services[name];
  if (!service?.image) throw new Error(`docker-compose.yml has no image for service "${name}"`);
  const environment = service.environment ?? {};
  if (Array.isArray(environment) || typeof environment !== 'object') throw new Error(`docker-compose.yml: write ${name}.environment as a map`);
  return {
    image: service.image,
    environment: Object.fromEntries(Object.entries(environment).map(([key, value]) => [key, value === null ? '' : String(value)])),
  };
}

async function startContainers(root: string, engine: string): Promise<{ infra: FoundInfra; engine: string; stop(): Promise<void> }> {
  // The same generator as `pnpm run secrets` and infra/local/up.sh: the gateway and every device.
  const secretsDir = mkdtempSync(join(tmpdir(), 'lethe-testcontainers-secrets-'));
  const running: StartedTestContainer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.allSettled(running.map((container) => container.stop({ timeout: 10_000 })));
    rmSync(secretsDir, { recursive: true, force: true });
  };
  try {
    execFileSync(process.execPath, [join(root, 'scripts/setup-secrets.ts'), '--dir', secretsDir], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    const starting = [startMosquitto(root, secretsDir, running), startKafka(root, running), startInflux(root, running)] as const;
    await Promise.allSettled(starting); // on a failure, stop() must see every container that did start
    const [mqttUrl, kafkaBrokers, influx] = await Promise.all(starting);
    return { infra: { mqttUrl, kafkaBrokers, influxUrl: influx.url, adminToken: influx.adminToken, secretsDir }, engine, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function startMosquitto(root: string, secretsDir: string, running: StartedTestContainer[]): Promise<string> {
  // The compose stack's config (no anonymous access, password file, ACL); the image's
  // entrypoint hands /mosquitto to the mosquitto user before the broker reads the files.
  const container = await new GenericContainer(composeService(root, 'mosquitto').image)
    .withCopyFilesToContainer([
      { source: join(root, 'infra/mosquitto/mosquitto.conf'), target: '/mosquitto/config/mosquitto.conf' },
      { source: join(root, 'infra/mosquitto/acl'), target: '/mosquitto/config/acl' },
      { source: join(secretsDir, 'mosquitto-passwd'), target: '/mosquitto/run/passwd', mode: 0o600 },
    ])
    .withExposedPorts(1883)
    // Not a log line: Mosquitto logs "running" at `information`, which the compose config's
    // log_type (error, warning, notice) leaves out.
    .withWaitStrategy(Wait.forListeningPorts())
    .withStartupTimeout(STARTUP_TIMEOUT_MS)
    .start();
  running.push(container);
  return `mqtt://${container.getHost()}:${container.getMappedPort(1883)}`;
}

async function startKafka(root: string, running: StartedTestContainer[]): Promise<string> {
  // The compose broker settings, with one more listener for clients on the host. Its advertised
  // address needs the mapped port, known only once the container runs: the container waits for
  // a start script that exports it, as testcontainers' own Kafka module does.
  const { image, environment } = composeService(root, 'kafka');
  delete environment.KAFKA_ADVERTISED_LISTENERS; // exported by the start script
  const container = await new GenericContainer(image)
    .withEnvironment({
      ...environment,
      CLUSTER_ID: randomBytes(16).toString('base64url'),
      KAFKA_NODE_ID: '1',
      KAFKA_PROCESS_ROLES: 'broker,controller',
      KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
      KAFKA_LISTENERS: `BROKER://:9092,CONTROLLER://:9093,HOST://:${KAFKA_HOST_PORT}`,
      KAFKA_INTER_BROKER_LISTENER_NAME: 'BROKER',
      KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
      KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT,HOST:PLAINTEXT',
      // The pipeline creates its topics with the policy's retention, never implicitly.
      KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
      KAFKA_NUM_PARTITIONS: '1',
    })
    .withExposedPorts(KAFKA_HOST_PORT)
    .withCommand(['sh', '-c', `echo '${KAFKA_WAITING}'; while [ ! -s ${KAFKA_START_SCRIPT} ]; do sleep 0.1; done; exec sh ${KAFKA_START_SCRIPT}`])
    .withWaitStrategy(Wait.forLogMessage(KAFKA_WAITING))
    .withStartupTimeout(STARTUP_TIMEOUT_MS)
    .start();
  running.push(container);
  const address = `${container.getHost()}:${container.getMappedPort(KAFKA_HOST_PORT)}`;
  await container.copyContentToContainer([
    {
      content: `export KAFKA_ADVERTISED_LISTENERS=BROKER://localhost:9092,HOST://${address}\nexec /etc/kafka/docker/run\n`,
      target: KAFKA_START_SCRIPT,
      mode: 0o755,
    },
  ]);
  const client = await getContainerRuntimeClient();
  await waitForContainer(
    client,
    client.container.getById(container.getId()),
    Wait.forLogMessage(/Kafka Server started/).withStartupTimeout(STARTUP_TIMEOUT_MS),
    new BoundPorts(),
  );
  return address;
}

async function startInflux(root: string, running: StartedTestContainer[]): Promise<{ url: string; adminToken: string }> {
  const container = await new GenericContainer(composeService(root, 'influxdb').image)
    .withEnvironment({ INFLUXD_REPORTING_DISABLED: 'true' })
    .withExposedPorts(8086)
    .withWaitStrategy(Wait.forHttp('/health', 8086).forStatusCode(200))
    .withStartupTimeout(STARTUP_TIMEOUT_MS)
    .start();
  running.push(container);
  const url = `http://${container.getHost()}:${container.getMappedPort(8086)}`;
  // Onboarding as infra/local/influxdb.sh does it: random admin password and token.
  const adminToken = randomBytes(32).toString('hex');
  const response = await fetch(new URL('/api/v2/setup', url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      username: 'lethe-admin',
      password: randomBytes(16).toString('hex'),
      org: process.env.LETHE_TEST_INFLUX_ORG ?? 'lethe',
      bucket: process.env.LETHE_TEST_INFLUX_BUCKET ?? 'aggregates',
      retentionPeriodSeconds: INFLUX_RETENTION_SECONDS,
      token: adminToken,
    }),
  });
  if (response.status !== 201)
    throw new Error(`InfluxDB onboarding (POST ${url}/api/v2/setup) answered ${response.status}: ${(await response.text()).slice(0, 300)}`);
  return { url, adminToken };
}
