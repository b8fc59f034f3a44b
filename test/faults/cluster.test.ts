// Faults on a three-broker KRaft cluster (infra/local, LETHE_KAFKA_NODES=3; replication factor 3,
// min.insync.replicas 2, no unclean leader election): while the simulated city publishes, the
// leader of the sightings topic's partition 0 is killed (SIGKILL, restarted after 15 s), paused
// past the brokers' session timeout (15 s: the controller fences it and moves its leaderships)
// and paused briefly (3 s), and the active controller is killed; each node is found by its role
// when the fault is injected. The services get all three brokers. The reconciliation is the
// single broker's (suite.ts): nothing lost, nothing counted twice, the aggregates equal to a
// fault-free replay and InfluxDB equal to the aggregates.
//
// LETHE_FAULTS=ci (default, in `pnpm test`) injects each fault once; LETHE_FAULTS=full
// (`pnpm test:faults`) three times, and writes test/faults/last-run-cluster.md.
import { clusterFaultPlan, profileFromEnv } from './plan.ts';
import { describeFaultRun } from './suite.ts';

const profile = profileFromEnv();
describeFaultRun({ profile, plan: clusterFaultPlan(profile), kafkaNodes: 3, resultsFile: 'test/faults/last-run-cluster.md', command: 'pnpm test:faults' });
