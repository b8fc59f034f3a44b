// Which faults a run injects, in order.
//
// On a single broker (faults.test.ts), `full` (pnpm test:faults) hits every component twice with
// each kind of fault; `ci` (part of pnpm test) kills each component once and pauses the two whose
// pauses have bitten kafkajs users before (a stalled broker, a stalled producer).
//
// On the three-broker cluster (cluster.test.ts) the targets are Kafka nodes found at injection
// time by their role: the leader of the sightings topic's partition 0, and the active controller.
// `ci` injects each cluster fault once; `full` three times.
export const TARGETS = ['gateway', 'processor', 'writer', 'kafka', 'mosquitto', 'influxdb'] as const;
export const CLUSTER_TARGETS = ['sightings-leader', 'controller'] as const;
export type ClusterTarget = (typeof CLUSTER_TARGETS)[number];
export type Target = (typeof TARGETS)[number] | ClusterTarget;
export type FaultKind = 'kill' | 'pause';

export interface Fault {
  target: Target;
  /** kill: SIGKILL, then a restart after `downMs`; pause: SIGSTOP, then SIGCONT after `downMs`. */
  kind: FaultKind;
  downMs: number;
  /**
   * Cluster nodes: `downMs` counts from when the controller has fenced the node (its session
   * timed out and its leaderships moved) and, for a kill, Kafka acknowledges the gateway's
   * writes again without it; so the cluster has carried on without the node before it is back.
   */
  untilFenced?: boolean;
}

export type Profile = 'ci' | 'full';

export const KILL_DOWN_MS = 2_000;
export const PAUSE_MS = 5_000;

/**
 * A killed or long-paused cluster node stays down this long after the controller fenced it, which
 * happens broker.session.timeout.ms (Kafka's default, 9 s) after its last heartbeat, or that long
 * after a new controller took over when the node was the controller: 9–16 s here.
 */
export const AFTER_FENCE_MS = 3_000;
/** A pause shorter than the session timeout: the node is not fenced, its partitions stall until SIGCONT. */
export const CLUSTER_SHORT_PAUSE_MS = 3_000;

export const isClusterTarget = (target: Target): target is ClusterTarget => (CLUSTER_TARGETS as readonly string[]).includes(target);

export function faultPlan(profile: Profile): Fault[] {
  const kill = (target: Target): Fault => ({ target, kind: 'kill', downMs: KILL_DOWN_MS });
  const pause = (target: Target): Fault => ({ target, kind: 'pause', downMs: PAUSE_MS });
  if (profile === 'ci') return [...TARGETS.map(kill), pause('gateway'), pause('kafka')];
  const round = TARGETS.flatMap((t) => [kill(t), pause(t)]);
  return [...round, ...round];
}

export function clusterFaultPlan(profile: Profile): Fault[] {
  const round: Fault[] = [
    { target: 'sightings-leader', kind: 'kill', downMs: AFTER_FENCE_MS, untilFenced: true },
    { target: 'sightings-leader', kind: 'pause', downMs: AFTER_FENCE_MS, untilFenced: true },
    { target: 'sightings-leader', kind: 'pause', downMs: CLUSTER_SHORT_PAUSE_MS },
    { target: 'controller', kind: 'kill', downMs: AFTER_FENCE_MS, untilFenced: true },
  ];
  return profile === 'ci' ? round : [...round, ...round, ...round];
}

export function profileFromEnv(value = process.env.LETHE_FAULTS): Profile {
  if (value === undefined || value === '' || value === 'ci') return 'ci';
  if (value === 'full') return 'full';
  throw new Error(`LETHE_FAULTS must be "ci" or "full", not "${value}"`);
}
