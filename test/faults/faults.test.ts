// Faults on real servers with a single Kafka broker: while the simulated city publishes through
// Mosquitto at QoS 1, each of gateway, processor, writer, Kafka, Mosquitto and InfluxDB is killed
// (SIGKILL, restarted after a pause) and paused (SIGSTOP, SIGCONT after a pause); then the run is
// reconciled (suite.ts, reconcile.ts). The same on a three-broker cluster: cluster.test.ts.
//
// LETHE_FAULTS=ci (default, in `pnpm test`) kills each component once and pauses two;
// LETHE_FAULTS=full (`pnpm test:faults`) injects every fault twice and writes test/faults/last-run.md.
import { faultPlan, profileFromEnv } from './plan.ts';
import { describeFaultRun } from './suite.ts';

const profile = profileFromEnv();
describeFaultRun({ profile, plan: faultPlan(profile), kafkaNodes: 1, resultsFile: 'test/faults/last-run.md', command: 'pnpm test:faults' });
