import fc from 'fast-check';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { fastDefaultPartitioner, murmur2, partitionOf } from '../src/partitioner.ts';

const { Partitioners } = kafkajs;
const metadata = (n: number) => Array.from({ length: n }, (_, partitionId) => ({ partitionId, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0 }));

describe('the fast default partitioner', () => {
  it('gives every key the partition kafkajs (and so the Java client) gives it (fast-check)', () => {
    const reference = Partitioners.DefaultPartitioner();
    const mine = fastDefaultPartitioner();
    const key = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.string({ maxLength: 300 }),
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
    );
    fc.assert(
      fc.property(key, fc.integer({ min: 1, max: 64 }), (k, n) => {
        const args = { topic: 't', partitionMetadata: metadata(n), message: { key: k, value: null } };
        expect(mine(args)).toBe(reference(args));
      }),
      { seed: 0x1e7e, numRuns: 5000 },
    );
  });

  it('matches Java murmur2 on known values', () => {
    // org.apache.kafka.common.utils.UtilsTest#testMurmur2 (the Java client's own test vectors).
    const cases: Array<[string, number]> = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [s, hash] of cases) expect(murmur2(Buffer.from(s))).toBe(hash);
  });

  it('keeps an explicit partition and spreads keyless records over partitions with a leader', () => {
    const mine = fastDefaultPartitioner();
    expect(mine({ topic: 't', partitionMetadata: metadata(3), message: { key: 'x', partition: 2, value: null } })).toBe(2);
    const partitionMetadata = [...metadata(3)].map((p) => (p.partitionId === 1 ? { ...p, leader: -1 } : p));
    const seen = new Set(Array.from({ length: 10 }, () => mine({ topic: 't', partitionMetadata, message: { value: null } })));
    expect([...seen].sort()).toEqual([0, 2]);
    expect(partitionOf('LP-0001', 3)).toBe(partitionOf(Buffer.from('LP-0001'), 3));
  });
});
