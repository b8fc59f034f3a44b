import { DEFAULT_POLICY_PATH, loadPolicy, type OutRecord } from '@lethe/privacy';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createWriteMix } from '../src/write-mix.ts';

const policy = loadPolicy(DEFAULT_POLICY_PATH);
const EPOCH = policy.kinds.lamppost.epoch;
const boundary = 2_000_000 * EPOCH;
const record = (i: number): OutRecord => ({ topic: 'lethe.sightings.v1', key: `p${i}`, value: String(i) });

describe("the gateway's write mix (P9)", () => {
  let now = boundary;
  let sends: OutRecord[][];
  let release: Array<() => void>;
  /** A Kafka send that completes when the test says so. */
  const send = (records: OutRecord[]) => {
    sends.push(records);
    return new Promise<void>((resolve) => release.push(resolve));
  };
  beforeEach(() => {
    vi.useFakeTimers({ now: boundary });
    now = boundary;
    sends = [];
    release = [];
  });
  afterEach(() => void vi.useRealTimers());
  const clock = () => now;
  const advance = async (ms: number) => {
    now += ms;
    await vi.advanceTimersByTimeAsync(ms);
  };

  it("holds the first slot's readings, unacknowledged, and writes them in one send, shuffled, at the slot's end", async () => {
    const mix = createWriteMix({ policy, send, maxHeld: 1000, now: clock });
    let acknowledged = 0;
    const readings = Array.from({ length: 200 }, (_, i) => mix.send([record(i)], boundary + i * 250).then(() => void acknowledged++));
    await advance(59_999);
    expect(sends).toEqual([]);
    expect(mix.held()).toBe(200);
    await advance(1);
    expect(sends).toHaveLength(1);
    expect(sends[0]!.map((r) => r.value).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
    // One order in 200! is the arrival order.
    expect(sends[0]!.map((r) => r.value)).not.toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
    // Acknowledged only once Kafka has them.
    await vi.advanceTimersByTimeAsync(0);
    expect(acknowledged).toBe(0);
    release[0]!();
    await Promise.all(readings);
    expect(acknowledged).toBe(200);
    expect(mix.held()).toBe(0);
  });

  it('writes a reading outside the mix at once, but never before a mix that is being written', async () => {
    const mix = createWriteMix({ policy, send, maxHeld: 1000, now: clock });
    // The last slot of the epoch before: written at once.
    const before = mix.send([record(1)], boundary - 1_000);
    await vi.advanceTimersByTimeAsync(0);
    expect(sends).toHaveLength(1);
    release[0]!();
    await before;
    const held = mix.send([record(2)], boundary + 10_000);
    await advance(60_000);
    expect(sends).toHaveLength(2);
    // Kafka has not confirmed the mix yet: the next reading waits for it.
    const after = mix.send([record(3)], boundary + 60_500);
    await vi.advanceTimersByTimeAsync(0);
    expect(sends).toHaveLength(2);
    release[1]!();
    await held;
    await vi.advanceTimersByTimeAsync(0);
    expect(sends.map((s) => s.map((r) => r.value))).toEqual([['1'], ['2'], ['3']]);
    release[2]!();
    await after;
    // A reading of a mix's slot that arrives after the mix was written (a backlog) is written at once.
    const late = mix.send([record(4)], boundary + 30_000);
    await vi.advanceTimersByTimeAsync(0);
    expect(sends).toHaveLength(4);
    release[3]!();
    await late;
  });

  it('makes a reading taken after a mix wait for it even when it comes before the mix is due (a clock ahead), and writes an earlier one at once', async () => {
    const mix = createWriteMix({ policy, send, maxHeld: 1000, now: clock });
    const held = mix.send([record(1)], boundary + 5_000);
    await advance(30_000);
    // A device 30 s ahead: its reading is stamped after the slot, at the gateway's boundary + 30 s.
    const ahead = mix.send([record(2)], boundary + 60_000);
    // A straggler of the epoch before: nothing of a later slot waits ahead of it.
    const straggler = mix.send([record(3)], boundary - 2_000);
    await vi.advanceTimersByTimeAsync(0);
    expect(sends.map((s) => s.map((r) => r.value))).toEqual([['3']]);
    release[0]!();
    await straggler;
    await advance(30_000);
    await vi.advanceTimersByTimeAsync(0);
    expect(sends.map((s) => s.map((r) => r.value))).toEqual([['3'], ['1']]);
    release[1]!();
    await held;
    await vi.advanceTimersByTimeAsync(0);
    expect(sends.map((s) => s.map((r) => r.value))).toEqual([['3'], ['1'], ['2']]);
    release[2]!();
    await ahead;
  });

  it('fails every held reading when the send fails, and gives up what it holds when stopped (Mosquitto delivers both again)', async () => {
    const failing = createWriteMix({ policy, send: async () => Promise.reject(new Error('broker down')), maxHeld: 1000, now: clock });
    const a = failing.send([record(1)], boundary + 1_000);
    const b = failing.send([record(2)], boundary + 2_000);
    const settled = Promise.allSettled([a, b]);
    await advance(60_000);
    expect((await settled).map((s) => s.status)).toEqual(['rejected', 'rejected']);

    const mix = createWriteMix({ policy, send, maxHeld: 1000, now: clock });
    const held = mix.send([record(3)], now + EPOCH - (now % EPOCH) + 5_000);
    const outcome = held.catch((err: Error) => err.message);
    mix.stop();
    expect(await outcome).toMatch(/delivers it again/);
    await advance(EPOCH);
    expect(sends).toEqual([]);
  });

  it('writes a full mix at once, and the rest of its slot as it comes, and says so', async () => {
    let overflows = 0;
    const mix = createWriteMix({ policy, send, maxHeld: 3, overflowed: () => void overflows++, now: clock });
    const held = [1, 2, 3].map((i) => mix.send([record(i)], boundary + i * 1_000));
    await vi.advanceTimersByTimeAsync(0);
    expect(sends).toHaveLength(1);
    expect(overflows).toBe(1);
    const rest = mix.send([record(4)], boundary + 4_000);
    await vi.advanceTimersByTimeAsync(0);
    release[0]!();
    await Promise.all(held);
    await vi.advanceTimersByTimeAsync(0);
    expect(sends.map((s) => s.length)).toEqual([3, 1]);
    release[1]!();
    await rest;
    await advance(60_000);
    expect(sends).toHaveLength(2);
  });
});
