import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { PRESENCE_BLOCK, presenceCounter, presenceGauge } from '../src/presence-metrics.ts';

async function value(registry: Registry, name: string, labels = ''): Promise<number | undefined> {
  const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

describe('presence metrics (P9)', () => {
  it('export a count of people only in whole blocks, so one person more shows only at a block boundary', async () => {
    const registry = new Registry();
    const sightings = presenceCounter({ name: 'sightings_total', help: 'h', registers: [registry] });
    sightings.inc(0);
    expect(await value(registry, 'sightings_total')).toBe(0);
    sightings.inc(1);
    expect(await value(registry, 'sightings_total'), 'one phone at night').toBe(0);
    sightings.inc(PRESENCE_BLOCK - 2);
    expect(await value(registry, 'sightings_total')).toBe(0);
    sightings.inc(1);
    expect(await value(registry, 'sightings_total')).toBe(PRESENCE_BLOCK);
    sightings.inc(2 * PRESENCE_BLOCK + 5);
    expect(await value(registry, 'sightings_total')).toBe(3 * PRESENCE_BLOCK);
  });

  it('keep label sets that do not move with people exact, and block the others each on its own', async () => {
    const registry = new Registry();
    const records = presenceCounter(
      { name: 'records_total', help: 'h', labelNames: ['topic'] as const, registers: [registry] },
      ([topic]) => topic === 'sightings',
    );
    records.labels('readings').inc(3);
    records.labels('sightings').inc(PRESENCE_BLOCK + 3);
    records.labels('sightings').inc(PRESENCE_BLOCK - 3);
    expect(await value(registry, 'records_total', 'topic="readings"')).toBe(3);
    expect(await value(registry, 'records_total', 'topic="sightings"')).toBe(2 * PRESENCE_BLOCK);
  });

  it('do not make a labelled series appear with its first person, only with its first block or an explicit inc(0)', async () => {
    const registry = new Registry();
    const dropped = presenceCounter({ name: 'dropped_total', help: 'h', labelNames: ['reason'] as const, registers: [registry] });
    dropped.labels('late').inc(1);
    expect(await value(registry, 'dropped_total', 'reason="late"')).toBeUndefined();
    dropped.labels('late').inc(PRESENCE_BLOCK - 1);
    expect(await value(registry, 'dropped_total', 'reason="late"')).toBe(PRESENCE_BLOCK);
    dropped.labels('key_destroyed').inc(0);
    expect(await value(registry, 'dropped_total', 'reason="key_destroyed"')).toBe(0);
  });

  it('round a gauge of people held down to a block', async () => {
    const registry = new Registry();
    const held = presenceGauge({ name: 'held', help: 'h', registers: [registry] });
    held.set(1);
    expect(await value(registry, 'held')).toBe(0);
    held.set(2 * PRESENCE_BLOCK + 999);
    expect(await value(registry, 'held')).toBe(2 * PRESENCE_BLOCK);
  });
});
