// Test projects: `unit` (pure logic, no servers), `integration`, `e2e` and `privacy` (real
// Mosquitto, Kafka and InfluxDB, provided once by test/support/global-setup.ts). `privacy`
// holds the guarantees P1–P9 as executable checks.
import { configDefaults, defineConfig } from 'vitest/config';

const realServers = {
  globalSetup: ['test/support/global-setup.ts'],
  testTimeout: 120_000,
  hookTimeout: 180_000,
  // The servers are shared; suites run one file at a time so they do not interfere.
  fileParallelism: false,
};

// Projects run in parallel unless given a group: the three that share the real servers run one
// after the other (integration with the server-less projects, then e2e, then privacy). Two
// pipelines on the same MQTT and Kafka topics see each other's readings, and their releasers
// share the release ledger, where the first claim of a window wins: a concurrent suite under
// another noise key withheld e2e windows (found in CI).
const after = (group: number) => ({ sequence: { groupOrder: group } });

// Integration tests that bring their own servers (a three-broker cluster, Mosquitto shards, a
// Kafka broker of their own) or none: `pnpm test:testcontainers` reruns the integration project on
// containers of the locally built images, and these would only repeat their first run's minutes.
const OWN_SERVERS = [
  'test/integration/kafka-cluster.test.ts',
  'test/integration/topologies.test.ts',
  'test/integration/keyring-peers.test.ts',
  'test/integration/api-shared-audit.test.ts',
];

// P1 and P2 again on a three-broker KRaft cluster of their own (every broker's copy searched and
// timed), and the cluster-only privacy tests (`*.cluster.test.ts`: a broker that was down while
// records expired). The cluster is started by the first file and shared by the project's files
// (test/support/kafka-cluster-setup.ts stops it at the end).
const PRIVACY_CLUSTER_ONLY = 'test/privacy/**/*.cluster.test.ts';
const PRIVACY_ON_CLUSTER = ['test/privacy/p1-no-raw-identifier-is-durable.test.ts', 'test/privacy/p2-raw-data-dies-on-time.test.ts', PRIVACY_CLUSTER_ONLY];

export default defineConfig({
  test: {
    // The tally closes each run with "N passed, N failed, N skipped" (and feeds .ci/run's total).
    reporters: ['default', './test/support/tally-reporter.ts'],
    projects: [
      // Pure logic, but property tests and CLI processes take seconds on a slow, shared
      // machine: the limit is for a machine several times slower than a developer's.
      {
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'bench/test/**/*.test.ts', 'test/unit/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...(process.env.LETHE_TEST_INFRA === 'testcontainers' ? OWN_SERVERS : [])],
          ...realServers,
        },
      },
      { test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], ...realServers, ...after(1) } },
      {
        test: {
          name: 'privacy',
          include: ['test/privacy/**/*.test.ts'],
          exclude: [...configDefaults.exclude, PRIVACY_CLUSTER_ONLY],
          ...realServers,
          ...after(2),
        },
      },
      // After `privacy`: its pipeline shares Mosquitto and InfluxDB with the shared broker's.
      {
        test: {
          name: 'privacy-cluster',
          include: PRIVACY_ON_CLUSTER,
          ...realServers,
          globalSetup: [...realServers.globalSetup, 'test/support/kafka-cluster-setup.ts'],
          ...after(3),
        },
      },
      // `pnpm demo` as a real process (no servers), and its pages in headless Chromium.
      { test: { name: 'demo', include: ['test/demo/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 120_000 } },
      // Kills and pauses every component, so it brings its own servers (test/faults/servers.ts):
      // the single broker's run and the cluster's, one after the other (the same ports).
      { test: { name: 'faults', include: ['test/faults/**/*.test.ts'], testTimeout: 3_600_000, hookTimeout: 300_000, fileParallelism: false } },
      { test: { name: 'browser', include: ['test/browser/**/*.test.ts'], testTimeout: 120_000, hookTimeout: 120_000 } },
      // `docker compose up` of the real docker-compose.yml on a Docker Engine of its own, with
      // locally built stand-ins for the third-party images (docs/compose-stand-ins.md). Each
      // test and hook sets its own limit (engine install, image builds, aggregate windows).
      { test: { name: 'compose', include: ['test/compose/**/*.test.ts'], fileParallelism: false } },
    ],
  },
});
