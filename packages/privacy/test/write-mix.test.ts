import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_POLICY_PATH, loadPolicy, parsePolicy } from '../src/policy.ts';
import { mixEnd, mixHoldMs } from '../src/write-mix.ts';

const policy = loadPolicy(DEFAULT_POLICY_PATH);
const EPOCH = policy.kinds.lamppost.epoch;
const boundary = 1_000 * EPOCH;

describe('the write mix (P9)', () => {
  it('holds the first slot of every epoch: a Wi-Fi slot, the longest, of the shipped 60 s window', () => {
    expect(mixHoldMs(60_000)).toBe(60_000);
    expect(mixHoldMs(5_000)).toBe(5_000);
    expect(mixEnd(policy, boundary)).toBe(boundary + 60_000);
    expect(mixEnd(policy, boundary + 59_999)).toBe(boundary + 60_000);
    expect(mixEnd(policy, boundary + 60_000)).toBeUndefined();
    expect(mixEnd(policy, boundary - 1)).toBeUndefined();
    expect(mixEnd(policy, boundary + EPOCH / 2)).toBeUndefined();
  });

  it('follows the policy: kinds with pseudonyms only, each with its own epoch and window', () => {
    const doc = parse(readFileSync(DEFAULT_POLICY_PATH, 'utf8')) as { kinds: Record<string, { window: string; epoch: string }> };
    Object.assign(doc.kinds['traffic-light']!, { window: '10s', epoch: '5m' });
    Object.assign(doc.kinds.sewer!, { epoch: '7m' });
    const edited = parsePolicy(doc);
    const hour = 3_600_000 * 1_000;
    // Lampposts (Wi-Fi, 15 min epochs) and traffic lights (plates, 5 min epochs, 10 s windows): both boundaries fall on the hour.
    expect(mixEnd(edited, hour + 5_000)).toBe(hour + 60_000);
    // 5 min past: a traffic-light boundary only, held for its 10 s window.
    expect(mixEnd(edited, hour + 5 * 60_000 + 5_000)).toBe(hour + 5 * 60_000 + 10_000);
    expect(mixEnd(edited, hour + 5 * 60_000 + 10_000)).toBeUndefined();
    // Sewers have no pseudonyms: a boundary of their 7 min epochs alone holds nothing.
    const sewerOnly = 7 * 60_000 * 1001;
    expect(mixEnd(edited, sewerOnly + 5_000)).toBeUndefined();
  });
});
