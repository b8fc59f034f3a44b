// Durations in the policy are written as `90s`, `15m`, `30d` so a non-programmer can read them.
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export const DURATION_PATTERN = /^(\d+)(ms|s|m|h|d)$/;

export function parseDuration(text: string): number {
  const match = DURATION_PATTERN.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a duration like 90s, 15m, 1h or 30d`);
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** The units durations are written back in, the largest first (the register's texts too). */
export const WHOLE_UNITS = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
] as const;

export function formatDuration(ms: number): string {
  for (const [unit, size] of WHOLE_UNITS) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
