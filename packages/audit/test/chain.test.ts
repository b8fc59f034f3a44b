import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../src/canonical-json.ts';
import { chainRecord, GENESIS_HASH, verifyAgainstHead, verifyChain } from '../src/chain.ts';
import { isAuditError } from '../src/errors.ts';
import type { VerifyResult } from '../src/types.ts';
import { chainOf, copy, event } from './fixtures.ts';

const broken = (result: VerifyResult) => {
  if (result.ok) throw new Error(`expected a broken chain, got ${JSON.stringify(result)}`);
  return result;
};

describe('chaining', () => {
  it('numbers records from 0 and links each to the hash of the one before, the first to 64 zeros', () => {
    const [a, b, c] = chainOf(3);
    expect([a!.seq, b!.seq, c!.seq]).toEqual([0, 1, 2]);
    expect(a!.prev).toBe(GENESIS_HASH);
    expect(b!.prev).toBe(a!.hash);
    expect(c!.prev).toBe(b!.hash);
  });

  it('hashes SHA-256 over the canonical JSON of seq, prev, type, actor, at and data', () => {
    const record = chainRecord(undefined, event(1));
    const { seq, prev, type, actor, at, data } = record;
    const expected = createHash('sha256').update(canonicalJson({ seq, prev, type, actor, at, data })).digest('hex');
    expect(record.hash).toBe(expected);
    expect(record.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('freezes what it chained, and later changes to the caller’s event do not reach the record', () => {
    const input = event(1);
    const record = chainRecord(undefined, input);
    (input.data.purposes as string[]).push('marketing');
    input.data.reason = 'EXPIRED';
    expect(record.data).toEqual({ reason: 'UNLINKABLE', purposes: ['law-enforcement'], requester: 'police-hk' });
    expect(Object.isFrozen(record) && Object.isFrozen(record.data) && Object.isFrozen(record.data.purposes)).toBe(true);
  });

  it('checks the event before chaining it', () => {
    expect(() => chainRecord(undefined, { ...event(0), data: { mac: '02:00:5E:10:00:01' } })).toThrow(expect.objectContaining({ code: 'PERSONAL_DATA' }));
    let error: unknown;
    try {
      chainRecord(undefined, { ...event(0), type: 'key.leaked' as never });
    } catch (err) {
      error = err;
    }
    expect(isAuditError(error, 'INVALID_EVENT')).toBe(true);
  });
});

describe('verifyChain', () => {
  it('accepts a long intact chain and returns its length and head', () => {
    const records = chainOf(1000);
    expect(verifyChain(records)).toEqual({ ok: true, records: 1000, head: records[999]!.hash });
  });

  it('accepts an empty chain, whose head is the genesis hash', () => {
    expect(verifyChain([])).toEqual({ ok: true, records: 0, head: GENESIS_HASH });
  });

  it('finds a record altered by a single character, at its index, as altered', () => {
    const records = copy(chainOf(10));
    records[4]!.data.requester = 'police-hK';
    const result = broken(verifyChain(records));
    expect(result).toMatchObject({ index: 4, seq: 4, reason: 'altered', records: 10 });
    expect(result.problem).toMatch(/hash does not match its content.*altered/);
  });

  it('finds an altered timestamp, type, actor or seq too: every field is covered by the hash', () => {
    for (const change of [
      (r: { at: number }) => (r.at += 1),
      (r: { type: string }) => (r.type = 'export'),
      (r: { actor: string }) => (r.actor = 'writer'),
      (r: { seq: number }) => (r.seq = 99),
    ]) {
      const records = copy(chainOf(5));
      change(records[2] as never);
      expect(broken(verifyChain(records))).toMatchObject({ index: 2, reason: 'altered' });
    }
  });

  it('finds a record altered and re-hashed by its forger at the next record, which no longer links', () => {
    const records = copy(chainOf(6));
    const forged = chainRecord(records[2], { ...event(3), data: { ...event(3).data, reason: 'NOT_COLLECTED' } });
    records[3] = structuredClone(forged);
    const result = broken(verifyChain(records));
    expect(result).toMatchObject({ index: 4, seq: 4, reason: 'unlinked' });
    expect(result.problem).toMatch(/prev is not the hash of record #3 \(seq 3\).*replaced/);
  });

  it('finds a record removed from the middle at the record after the gap, as removed', () => {
    const records = copy(chainOf(10));
    records.splice(5, 1);
    const result = broken(verifyChain(records));
    expect(result).toMatchObject({ index: 5, seq: 6, reason: 'removed', records: 9 });
    expect(result.problem).toMatch(/1 record \(seq 5\) is missing before it: records were removed/);
  });

  it('finds several removed records, and a removed first record', () => {
    const records = copy(chainOf(10));
    records.splice(3, 3);
    expect(broken(verifyChain(records))).toMatchObject({
      index: 3,
      seq: 6,
      reason: 'removed',
      problem: expect.stringMatching(/3 records \(seq 3–5\) are missing/),
    });
    const headless = copy(chainOf(4)).slice(1);
    const result = broken(verifyChain(headless));
    expect(result).toMatchObject({ index: 0, seq: 1, reason: 'removed' });
    expect(result.problem).toMatch(/not the hash of the start of the log/);
  });

  it('finds two swapped records at the first of them, as reordered', () => {
    const records = copy(chainOf(10));
    [records[6], records[7]] = [records[7]!, records[6]!];
    const result = broken(verifyChain(records));
    expect(result).toMatchObject({ index: 6, seq: 7, reason: 'reordered' });
    expect(result.problem).toMatch(/seq 7 stands where seq 6 belongs, and seq 6 comes later, at record #7: records were reordered/);
  });

  it('finds a duplicated record as reordered', () => {
    const records = copy(chainOf(5));
    records.splice(3, 0, structuredClone(records[1]!));
    expect(broken(verifyChain(records))).toMatchObject({
      index: 3,
      seq: 1,
      reason: 'reordered',
      problem: expect.stringMatching(/appears again after seq 2: a copy of record #1 was inserted/),
    });
  });

  it('finds a record whose seq was rewritten consistently (hash recomputed, link kept) as out of sequence', () => {
    const records = copy(chainOf(3));
    const { hash: _, ...content } = records[2]!;
    const bumped = { ...content, seq: 5 };
    const hash = createHash('sha256').update(canonicalJson(bumped)).digest('hex');
    records[2] = { ...bumped, hash };
    expect(broken(verifyChain(records))).toMatchObject({ index: 2, seq: 5, reason: 'out-of-sequence' });
  });

  it('finds an extra field the hash does not cover, and other non-records, as malformed', () => {
    const records: unknown[] = copy(chainOf(4));
    (records[1] as Record<string, unknown>).note = 'added later';
    expect(broken(verifyChain(records))).toMatchObject({ index: 1, seq: 1, reason: 'malformed', problem: expect.stringMatching(/note/) });
    expect(broken(verifyChain([...chainOf(2), 'hello']))).toMatchObject({ index: 2, seq: null, reason: 'malformed' });
    const bad = copy(chainOf(1));
    bad[0]!.hash = 'not a hash';
    expect(broken(verifyChain(bad))).toMatchObject({ index: 0, reason: 'malformed', problem: expect.stringMatching(/hash: must be 64 lower-case hex/) });
  });
});

describe('truncation', () => {
  it('is not detectable by the chain alone: a log cut short is a valid, shorter chain', () => {
    const records = chainOf(10);
    expect(verifyChain(records.slice(0, 7))).toEqual({ ok: true, records: 7, head: records[6]!.hash });
  });

  it('is detected against a head published earlier, as a hash or as seq and hash', () => {
    const records = chainOf(10);
    const published = { seq: 9, hash: records[9]!.hash };
    const cut = records.slice(0, 7);
    const byHash = broken(verifyAgainstHead(cut, published.hash));
    expect(byHash).toMatchObject({ index: 7, seq: null, reason: 'truncated' });
    expect(byHash.problem).toMatch(/is not in the log \(the log ends at seq 6 with hash [0-9a-f]{64}\): records were cut off the end/);
    expect(broken(verifyAgainstHead(cut, published))).toMatchObject({ index: 7, seq: 9, reason: 'truncated', problem: expect.stringMatching(/past the end/) });
  });

  it('accepts a log that has grown since the head was published', () => {
    const records = chainOf(10);
    expect(verifyAgainstHead(records, records[4]!.hash)).toEqual({ ok: true, records: 10, head: records[9]!.hash });
    expect(verifyAgainstHead(records, { seq: 4, hash: records[4]!.hash.toUpperCase().toLowerCase() })).toMatchObject({ ok: true });
  });

  it('finds a log rewritten from some record on, though every link in it holds', () => {
    const records = chainOf(6);
    const rewritten = records.slice(0, 3);
    for (let i = 3; i < 6; i++) rewritten.push(chainRecord(rewritten.at(-1), { ...event(i), at: event(i).at + 1 }));
    expect(verifyChain(rewritten)).toMatchObject({ ok: true });
    expect(broken(verifyAgainstHead(rewritten, { seq: 5, hash: records[5]!.hash }))).toMatchObject({ index: 5, reason: 'rewritten' });
    expect(broken(verifyAgainstHead(rewritten, records[5]!.hash))).toMatchObject({
      reason: 'truncated',
      problem: expect.stringMatching(/or the log was rewritten/),
    });
  });

  it('reports a broken chain before looking at the head', () => {
    const records = copy(chainOf(5));
    records.splice(2, 1);
    expect(broken(verifyAgainstHead(records, chainOf(5)[4]!.hash))).toMatchObject({ index: 2, reason: 'removed' });
  });
});
