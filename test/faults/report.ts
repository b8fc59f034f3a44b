// The fault suite's results as Markdown: one row per fault (what was hit, how long it was down,
// how fast the pipeline recovered, and what the reconciliation found during it), for the console
// and for test/faults/last-run*.md.
import type { Fault } from './plan.ts';
import type { FaultTally } from './reconcile.ts';

export interface FaultResult extends Fault {
  /** When the process died (kill) or was stopped (pause). */
  at: number;
  /** When it answered again (kill) or got SIGCONT (pause). */
  backAt: number;
  /** kill: from the restart command to /readyz (services) or to the server answering (servers). */
  restartMs?: number;
  /**
   * Until the stage's output moves again: on a single broker from SIGCONT or from the restart
   * command; on the cluster from the SIGKILL or SIGSTOP (the cluster carries on without the node).
   */
  recoveryMs: number;
  /** Cluster faults: the node hit, its roles then, and how long until every replica was in sync again after it was back. */
  node?: number;
  roles?: string[];
  inSyncMs?: number;
  /** Cluster faults: from the fault to the restart command or SIGCONT, and to the controller fencing the node (if it did). */
  downForMs?: number;
  fencedMs?: number;
  /** Cluster faults: the sightings topic's partition 0 leader and the active controller, before and after. */
  leader?: { before: number; after: number };
  controller?: { before: number; after: number };
}

const seconds = (ms: number | undefined) => (ms === undefined ? '–' : (ms / 1000).toFixed(1));

function what(r: FaultResult): string {
  if (r.node === undefined) return r.target;
  return `${r.target === 'controller' ? 'active controller' : 'sightings/0 leader'}: node ${r.node}${(r.roles?.length ?? 0) > 1 ? ' (both)' : ''}`;
}

const moved = (x: { before: number; after: number } | undefined) =>
  x === undefined ? '–' : x.before === x.after ? `${x.before} (stayed)` : `${x.before} → ${x.after}`;

/** The table of faults with the reconciliation's findings per fault. */
export function faultTable(results: readonly FaultResult[], tallies: readonly FaultTally[], cluster: boolean): string {
  const head = cluster
    ? '| # | fault | node hit | down (s) | fenced after (s) | restart (s) | Kafka acknowledging writes again, after the fault (s) | all replicas in sync, after restart or SIGCONT (s) | sightings/0 leader; controller | readings lost | counted twice | aggregates ≠ replay | copies absorbed |'
    : '| # | fault | target | down (s) | restart (s) | output moving again (s) | readings lost | counted twice | aggregates ≠ replay | copies absorbed |';
  const rows = results.map((r, i) => {
    const t = tallies[i]!;
    const found = `${t.lost} | ${t.countedTwice} | ${t.differing} | ${t.copies}`;
    return cluster
      ? `| ${i + 1} | ${r.kind} | ${what(r)} | ${seconds(r.downForMs)} | ${seconds(r.fencedMs)} | ${seconds(r.restartMs)} | ${seconds(r.recoveryMs)} | ${seconds(r.inSyncMs)} | ${moved(r.leader)}; ${moved(r.controller)} | ${found} |`
      : `| ${i + 1} | ${r.kind} | ${r.target} | ${seconds(r.downMs)} | ${seconds(r.restartMs)} | ${seconds(r.recoveryMs)} | ${found} |`;
  });
  return [head, `|${' --- |'.repeat(head.split('|').length - 2)}`, ...rows].join('\n');
}

/** Per kind of fault (kill or pause, target, down time): how often, and the recovery times seen. */
export function scenarioSummary(results: readonly FaultResult[], tallies: readonly FaultTally[]): string {
  const groups = new Map<string, Array<{ r: FaultResult; t: FaultTally }>>();
  results.forEach((r, i) => {
    const target = r.target === 'controller' ? 'active controller' : r.target === 'sightings-leader' ? 'sightings/0 leader' : r.target;
    const how = !r.untilFenced
      ? `for ${seconds(r.downMs)} s`
      : r.kind === 'kill'
        ? `(down until fenced and writes flow without it, + ${seconds(r.downMs)} s)`
        : `(until fenced, + ${seconds(r.downMs)} s)`;
    const key = `${r.kind} ${target} ${how}`;
    (groups.get(key) ?? groups.set(key, []).get(key)!).push({ r, t: tallies[i]! });
  });
  const sum = (xs: Array<{ t: FaultTally }>, k: keyof FaultTally) => xs.reduce((n, x) => n + x.t[k], 0);
  return [
    '| scenario | times | readings lost | counted twice | aggregates ≠ replay | recovery (s): each run |',
    '| --- | --- | --- | --- | --- | --- |',
    ...[...groups].map(
      ([key, xs]) =>
        `| ${key} | ${xs.length} | ${sum(xs, 'lost')} | ${sum(xs, 'countedTwice')} | ${sum(xs, 'differing')} | ${xs.map((x) => seconds(x.r.recoveryMs)).join(', ')} |`,
    ),
  ].join('\n');
}
