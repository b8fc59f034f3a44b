import type { AuditEventRecord } from '@lethe/schemas';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { formatRecordLine, parseJsonLines, splitLines, verifyJsonLines } from '../src/json-lines.ts';
import type { AuditEvent } from '../src/types.ts';
import { chainOf } from './fixtures.ts';

const text = (n: number) => chainOf(n).map(formatRecordLine).join('');

describe('the JSON Lines file format', () => {
  it('round-trips records line by line', () => {
    const records = chainOf(3);
    expect(parseJsonLines(text(3), 'audit.jsonl')).toEqual(records);
    expect(verifyJsonLines(text(3))).toEqual({ ok: true, records: 3, head: records[2]!.hash });
    expect(verifyJsonLines('')).toMatchObject({ ok: true, records: 0 });
  });

  it('tells a torn last line from a complete one', () => {
    expect(splitLines('a\nb\n')).toEqual({ lines: ['a', 'b'] });
    expect(splitLines('a\nb')).toEqual({ lines: ['a'], torn: { offset: 2, text: 'b' } });
    const torn = `${text(2)}{"seq":2,"at":1795`;
    expect(verifyJsonLines(torn)).toMatchObject({
      ok: false,
      index: 2,
      seq: null,
      reason: 'torn',
      records: 3,
      problem: expect.stringMatching(/incomplete.*never acknowledged/),
    });
    expect(() => parseJsonLines(torn, 'audit.jsonl')).toThrow(expect.objectContaining({ code: 'TORN_RECORD' }));
  });

  it('reports empty and non-JSON lines where they are, after any earlier break', () => {
    expect(verifyJsonLines(`${text(2)}\n${text(1)}`)).toMatchObject({
      ok: false,
      index: 2,
      reason: 'malformed',
      problem: expect.stringMatching(/line 3 is empty/),
    });
    const lines = text(3).split('\n');
    lines[1] = lines[1]!.replace('"seq":1', '"seq":7');
    expect(verifyJsonLines(`${lines.join('\n')}garbage\n`)).toMatchObject({ ok: false, index: 1, reason: 'altered' });
  });

  it('finds one-character edits that parse to the same record, which the hash alone cannot see', () => {
    const original = text(3);
    for (const [from, to] of [
      ['"epoch":1994882', '"epoch":1994882.0'],
      ['"epoch":1994882', '"epoch": 1994882'],
      ['"kind":"lamppost"', '"kind":"lampp\\u006fst"'],
    ] as const) {
      const edited = original.replace(from, to);
      expect(edited, from).not.toBe(original);
      expect(JSON.parse(edited.split('\n')[0]!)).toEqual(JSON.parse(original.split('\n')[0]!));
      expect(verifyJsonLines(edited), to).toMatchObject({
        ok: false,
        index: 0,
        seq: 0,
        reason: 'altered',
        problem: expect.stringMatching(/line 1 is not byte for byte/),
      });
    }
    const repeated = original.replace('"actor":"gateway"', '"actor":"writer","actor":"gateway"');
    expect(verifyJsonLines(repeated)).toMatchObject({ ok: false, index: 0, reason: 'altered' });
  });

  it('checks a published head after the chain', () => {
    const records = chainOf(4);
    expect(verifyJsonLines(text(4), records[3]!.hash)).toMatchObject({ ok: true });
    expect(verifyJsonLines(text(2), records[3]!.hash)).toMatchObject({ ok: false, reason: 'truncated', index: 2 });
  });
});

describe('the audit event types', () => {
  it('are the same in the Kafka record (without its version) and in the log’s AuditEvent', () => {
    expectTypeOf<Omit<AuditEventRecord, 'v'>>().toEqualTypeOf<AuditEvent>();
  });
});
