// Faults on the nodes of the three-broker cluster. The node is picked at injection time by its
// role (the leader of the sightings topic's partition 0, or the active controller), then
// SIGKILLed and restarted, or SIGSTOPped and continued. A fault `untilFenced` keeps the node down
// until the controller has fenced it (its log says so) and, for a kill, until Kafka acknowledges
// the gateway's writes again without it, then `downMs` more; otherwise for `downMs`. Recovery is
// measured from the fault itself, until Kafka acknowledges the gateway's writes again (its
// forwarded-readings counter moves). The fault ends when every replica of every partition is in
// sync again, so the next one never meets a partition with fewer than three copies (two down would
// be below min.insync.replicas).
import type { Admin } from '@lethe/kafka';
import { isAlive, killNodeProcess, partitionLeader, waitForFullIsr, watchFencing } from '../support/kafka-cluster.ts';
import { sleep, waitFor } from '../support/wait.ts';
import type { Fault } from './plan.ts';
import type { FaultServers } from './servers.ts';

export interface ClusterFaultDeps {
  servers: FaultServers;
  admin: Admin;
  sightingsTopic: string;
  /** The gateway's count of readings Kafka has acknowledged; undefined while it cannot be read. */
  forwarded: () => Promise<number | undefined>;
  /** How long the controller may take to fence the node, Kafka to acknowledge writes again, and the replicas to be in sync again. */
  timeoutMs: number;
}

export interface ClusterFaultResult {
  node: number;
  /** The node's roles when it was hit, e.g. "leader of lethe.sightings.v1/0, active controller". */
  roles: string[];
  /** When it died (kill) or was stopped (pause). */
  at: number;
  /** When it answered again (kill: restarted) or got SIGCONT (pause). */
  backAt: number;
  /** From the fault to the restart command or SIGCONT. */
  downForMs: number;
  /** From the fault to the controller fencing the node; undefined if it was back before. */
  fencedMs?: number;
  /** kill: `kafka.sh start-node`, up to the node's "started" line. */
  restartMs?: number;
  /** From the SIGKILL or SIGSTOP to Kafka acknowledging the gateway's writes again. */
  recoveryMs: number;
  /** From the restart or SIGCONT to every replica in sync again. */
  inSyncMs: number;
  /** The leader of the sightings topic's partition 0 and the active controller, before the fault and once every replica is in sync again. */
  leader: { before: number; after: number };
  controller: { before: number; after: number };
}

/** The leader of the sightings topic's partition 0 and the active controller, now. */
async function roles(servers: FaultServers, admin: Admin, sightingsTopic: string): Promise<{ leader: number; controller: number }> {
  const [leader, controller] = await Promise.all([partitionLeader(admin, sightingsTopic, 0), servers.activeController()]);
  return { leader, controller };
}

export async function injectClusterFault(
  { servers, admin, sightingsTopic, forwarded, timeoutMs }: ClusterFaultDeps,
  fault: Fault,
): Promise<ClusterFaultResult> {
  const before = await roles(servers, admin, sightingsTopic);
  const node = fault.target === 'controller' ? before.controller : before.leader;
  const hit = [...(node === before.leader ? [`leader of ${sightingsTopic}/0`] : []), ...(node === before.controller ? ['active controller'] : [])];
  const pid = servers.nodePid(node);
  const fencing = watchFencing(servers.localDir, servers.kafkaNodes);
  const readForwarded = async () => {
    const n = await forwarded();
    if (n === undefined) throw new Error("the gateway's /metrics did not answer");
    return n;
  };

  if (fault.kind === 'kill') await killNodeProcess(pid);
  else process.kill(pid, 'SIGSTOP');
  const at = Date.now();
  const faulted = performance.now();
  let continued = fault.kind === 'kill';
  try {
    // A batch the gateway had in flight when the node went may still complete on the others.
    await sleep(500);
    const baseline = await readForwarded();
    // Resolves with the time from the fault when the counter moved, whenever it is awaited.
    const moving = waitFor('Kafka to acknowledge the gateway’s writes again', async () => (await readForwarded()) > baseline, timeoutMs).then(
      () => performance.now() - faulted,
    );
    // Awaited below (its rejection must not go unhandled meanwhile).
    moving.catch(() => undefined);
    if (fault.untilFenced) {
      await waitFor(`the controller to fence node ${node}`, () => fencing.fencedAt(node) !== undefined, timeoutMs, { everyMs: 250 });
      // A stopped leader holds the requests sent to it until it answers, so only a killed one can be done without.
      if (fault.kind === 'kill') await moving;
      await sleep(fault.downMs);
    } else await sleep(fault.downMs - 500);
    const downForMs = performance.now() - faulted;
    let restartMs: number | undefined;
    if (fault.kind === 'kill') restartMs = await servers.startNode(node);
    else {
      process.kill(pid, 'SIGCONT');
      continued = true;
    }
    const backAt = Date.now();
    const back = performance.now();
    const recoveryMs = await moving;
    await waitForFullIsr(admin, timeoutMs);
    const inSyncMs = performance.now() - back;
    if (fault.kind === 'pause' && !isAlive(pid)) throw new Error(`node ${node} (pid ${pid}) died after its SIGCONT`);
    const fencedAt = fencing.fencedAt(node);
    const after = await roles(servers, admin, sightingsTopic);
    return {
      node,
      roles: hit,
      at,
      backAt,
      downForMs,
      recoveryMs,
      inSyncMs,
      leader: { before: before.leader, after: after.leader },
      controller: { before: before.controller, after: after.controller },
      ...(fencedAt === undefined || fencedAt > backAt ? {} : { fencedMs: fencedAt - at }),
      ...(restartMs === undefined ? {} : { restartMs }),
    };
  } finally {
    // A node left stopped would hold the cluster below three copies, and ignore down.sh's SIGTERM.
    if (!continued) process.kill(pid, 'SIGCONT');
  }
}
