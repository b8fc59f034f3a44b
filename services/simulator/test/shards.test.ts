// Devices sharded over several MQTT brokers (publisher.ts, shardOf): each device always goes to
// the same broker, and the fleet spreads over all of them.
import { DEFAULT_FLEET_PATH, loadFleet } from '@lethe/schemas';
import { describe, expect, it } from 'vitest';
import { shardOf } from '../src/publisher.ts';

describe('sharding the fleet over MQTT brokers', () => {
  const ids = loadFleet(DEFAULT_FLEET_PATH).devices.map((d) => d.id);

  it('gives a device the same shard every time, and one shard when there is one broker', () => {
    for (const id of ids) {
      expect(shardOf(id, 2)).toBe(shardOf(id, 2));
      expect(shardOf(id, 1)).toBe(0);
    }
  });

  it('spreads the fleet over every shard, each kind too', () => {
    for (const shards of [2, 3]) {
      const sizes = Array.from({ length: shards }, (_, s) => ids.filter((id) => shardOf(id, shards) === s).length);
      for (const size of sizes) expect(size, `${shards} shards: ${sizes.join('/')}`).toBeGreaterThan(ids.length / shards / 2);
    }
    const fleet = loadFleet(DEFAULT_FLEET_PATH).devices;
    for (const kind of new Set(fleet.map((d) => d.kind))) {
      const of = fleet.filter((d) => d.kind === kind).map((d) => shardOf(d.id, 2));
      expect(new Set(of).size, `${kind} on both shards`).toBe(2);
    }
  });

  it('refuses a shard count that is not a positive whole number', () => {
    expect(() => shardOf('lamppost-001', 0)).toThrow(/positive whole number/);
    expect(() => shardOf('lamppost-001', 1.5)).toThrow(/positive whole number/);
  });
});
