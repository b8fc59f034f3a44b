// Which replica a gateway is under `docker compose up --scale gateway=N`, and which gone
// replicas' MQTT sessions it drains (replicas.ts). The DNS side runs in the compose test.
import { describe, expect, it } from 'vitest';
import { OrphanSchedule, replicaNumber } from '../src/replicas.ts';

describe('replicaNumber', () => {
  it('reads the replica number of a Compose container name, with or without the network', () => {
    expect(replicaNumber('lethe-gateway-2.lethe_default')).toBe(2);
    expect(replicaNumber('lethe-gateway-12.lethe_keyring.')).toBe(12);
    expect(replicaNumber('lethe-gateway-1')).toBe(1);
    expect(replicaNumber('lethe_gateway_3')).toBe(3); // Compose v1
  });

  it('finds none in a name Compose did not give', () => {
    for (const name of ['gateway', '3f2a9c1b7d4e', 'lethe-gateway-0', 'lethe-gateway-x.lethe_default', '', 'host-99999999999999999999'])
      expect(replicaNumber(name), name).toBeUndefined();
  });
});

describe('OrphanSchedule', () => {
  it('drains a replica only after two looks without it, and then once per look it stays gone', () => {
    const one = new OrphanSchedule(1, 4);
    expect(one.next(new Set([1, 2, 3]))).toEqual([]); // 4 absent once
    // 3 scaled away; 4 absent twice: with one live replica besides 2, 4 % 2 picks members[0] = 1.
    expect(one.next(new Set([1, 2]))).toEqual([4]);
    expect(one.next(new Set([1, 2]))).toEqual([4]); // 3 falls to 2 (3 % 2 = 1), 4 to 1
    expect(new OrphanSchedule(2, 4).next(new Set([1, 2]))).toEqual([]);
    const two = new OrphanSchedule(2, 4);
    two.next(new Set([1, 2]));
    expect(two.next(new Set([1, 2]))).toEqual([3]);
  });

  it('does not drain a replica that was away for only one look (a container restarting)', () => {
    const one = new OrphanSchedule(1, 3);
    expect(one.next(new Set([1, 2, 3]))).toEqual([]);
    expect(one.next(new Set([1, 3]))).toEqual([]); // 2 restarting
    expect(one.next(new Set([1, 2, 3]))).toEqual([]);
    expect(one.next(new Set([1, 3]))).toEqual([]);
  });

  it('gives every gone replica to exactly one live replica, all of them deciding alike', () => {
    const live = new Set([1, 4, 6]);
    const drainers = new Map<number, number[]>();
    for (const self of live) {
      const s = new OrphanSchedule(self, 8);
      s.next(live);
      for (const gone of s.next(live)) drainers.set(gone, [...(drainers.get(gone) ?? []), self]);
    }
    expect([...drainers.keys()].sort((a, b) => a - b)).toEqual([2, 3, 5, 7, 8]);
    for (const [gone, by] of drainers) expect(by, `replica ${gone}`).toHaveLength(1);
  });

  it('believes no look that does not list itself (a failed or partial lookup): live replicas are not taken for gone', () => {
    const s = new OrphanSchedule(2, 3);
    expect(s.next(new Set([1, 2, 3]))).toEqual([]);
    expect(s.next(new Set())).toEqual([]);
    expect(s.next(new Set([1]))).toEqual([]); // 2 and 3 missing, itself included: not believed
    expect(s.next(new Set([1]))).toEqual([]);
    // Once it sees itself again, a replica gone counts from that look on.
    expect(s.next(new Set([1, 2]))).toEqual([]);
    expect(s.next(new Set([1, 2]))).toEqual([3]);
  });
});
