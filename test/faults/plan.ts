// Which faults a run injects, in order. `full` (pnpm test:faults) hits every component twice
// with each kind of fault; `ci` (part of pnpm test) kills each component once and pauses the
// two whose pauses have bitten kafkajs users before (a stalled broker, a stalled producer).
export const TARGETS = ['gateway', 'processor', 'writer', 'kafka', 'mosquitto', 'influxdb'] as const;
export type Target = (typeof TARGETS)[number];
export type FaultKind = 'kill' | 'pause';

export interface Fault {
  target: Target;
  /** kill: SIGKILL, then a restart after `downMs`; pause: SIGSTOP, then SIGCONT after `downMs`. */
  kind: FaultKind;
  downMs: number;
}

export type Profile = 'ci' | 'full';

export const KILL_DOWN_MS = 2_000;
export const PAUSE_MS = 5_000;

export function faultPlan(profile: Profile): Fault[] {
  const kill = (target: Target): Fault => ({ target, kind: 'kill', downMs: KILL_DOWN_MS });
  const pause = (target: Target): Fault => ({ target, kind: 'pause', downMs: PAUSE_MS });
  if (profile === 'ci') return [...TARGETS.map(kill), pause('gateway'), pause('kafka')];
  const round = TARGETS.flatMap((t) => [kill(t), pause(t)]);
  return [...round, ...round];
}

export function profileFromEnv(value = process.env.LETHE_FAULTS): Profile {
  if (value === undefined || value === '' || value === 'ci') return 'ci';
  if (value === 'full') return 'full';
  throw new Error(`LETHE_FAULTS must be "ci" or "full", not "${value}"`);
}
