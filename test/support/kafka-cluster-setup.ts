// Global setup of the vitest projects that run on a three-broker KRaft cluster of their own
// (`privacy-cluster`: P1, P2 and a broker that was down, on every copy). It only names the
// cluster's run directory (LETHE_PRIVACY_CLUSTER_DIR, default <repo>/.local-privacy-cluster) and
// wipes what an earlier run left there; the first test file that needs the cluster starts it
// (test/privacy/kafka-under-test.ts: startKafkaCluster with `reuse`, on free ports it writes into
// the directory), the project's other files find it running, and this setup's teardown stops it
// at the end of the run. Nothing starts when the project has no test to run, and the shared
// servers of the other projects are never touched. The directory stays after the run, for a look
// at the nodes' logs (logs/kafka-<node>.log) when a test failed.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { stopSharedKafkaCluster } from './kafka-cluster.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The run directory of the project's shared cluster; undefined in projects that use the shared broker. */
    kafkaCluster: { localDir: string } | undefined;
  }
}

const ROOT = new URL('../../', import.meta.url).pathname;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const localDir = process.env.LETHE_PRIVACY_CLUSTER_DIR ?? join(ROOT, '.local-privacy-cluster');
  // An earlier run's cluster, if it was left running (a run killed before its teardown).
  await stopSharedKafkaCluster(localDir);
  rmSync(localDir, { recursive: true, force: true });
  project.provide('kafkaCluster', { localDir });
  return () => stopSharedKafkaCluster(localDir);
}
