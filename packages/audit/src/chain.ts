// The hash chain, pure. Each record's hash is SHA-256 over the canonical JSON of
// {seq, prev, type, actor, at, data}, and `prev` is the hash of the record before it, so a
// record cannot be altered, removed, inserted or moved without breaking a link that
// verifyChain finds. Cutting records off the end leaves a valid (shorter) chain: only a head
// published earlier (verifyAgainstHead) reveals that.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from './canonical-json.ts';
import { checkAuditEvent } from './event-guard.ts';
import type { AuditEvent, AuditHead, AuditRecord, BreakReason, VerifyResult } from './types.ts';

/** `prev` of the first record. */
export const GENESIS_HASH = '0'.repeat(64);

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits');
const seqNumber = z.number().int().nonnegative();
// The shape of a stored record, checked before its hash. Deliberately looser than the event
// guard (a record written under older limits still verifies) but strict about fields: one the
// hash does not cover must not ride along unnoticed.
const StoredRecordSchema = z.strictObject({
  seq: seqNumber,
  prev: hex64,
  hash: hex64,
  type: z.string(),
  actor: z.string(),
  at: z.number(),
  data: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.string())])),
});

/** The fields a record's hash covers; loosely typed, so stored records of any age can be checked. */
export interface HashedContent {
  seq: number;
  prev: string;
  type: string;
  actor: string;
  at: number;
  data: Readonly<Record<string, unknown>>;
}

/** Hex SHA-256 of a record's content: every field but `hash`. */
export function recordHash(record: HashedContent): string {
  const { seq, prev, type, actor, at, data } = record;
  return createHash('sha256').update(canonicalJson({ seq, prev, type, actor, at, data }), 'utf8').digest('hex');
}

/**
 * The record that follows `prev` (the newest record or head; undefined for the first). Checks
 * the event first (AuditError INVALID_EVENT or PERSONAL_DATA). The record is frozen: a caller
 * cannot change what was chained.
 */
export function chainRecord(prev: AuditHead | undefined, event: AuditEvent): AuditRecord {
  const { type, actor, at, data } = checkAuditEvent(event);
  const content = { seq: prev === undefined ? 0 : prev.seq + 1, prev: prev?.hash ?? GENESIS_HASH, type, actor, at, data };
  return freezeRecord({ ...content, hash: recordHash(content) });
}

/** Freezes a record and its data in place. */
export function freezeRecord(record: AuditRecord): AuditRecord {
  for (const value of Object.values(record.data)) if (Array.isArray(value)) Object.freeze(value);
  Object.freeze(record.data);
  return Object.freeze(record);
}

const broken = (records: number, index: number, seq: number | null, reason: BreakReason, problem: string): VerifyResult => ({
  ok: false,
  records,
  index,
  seq,
  reason,
  problem,
});

const seqOf = (value: unknown): number | null => {
  const seq = (value as { seq?: unknown } | null)?.seq;
  return typeof seq === 'number' && Number.isInteger(seq) && seq >= 0 ? seq : null;
};

/**
 * Verifies records in stored order (values as parsed from storage, so anything can be there).
 * Reports the first record that is malformed, altered (hash does not match content), does not
 * link to its predecessor (removed or reordered records, or a replaced predecessor), or whose
 * seq is not the previous one + 1. For an empty list the head is GENESIS_HASH.
 */
export function verifyChain(records: readonly unknown[]): VerifyResult {
  let prevHash = GENESIS_HASH;
  for (let index = 0; index < records.length; index++) {
    const value = records[index];
    const parsed = StoredRecordSchema.safeParse(value);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(record)'}: ${i.message}`).join('; ');
      return broken(records.length, index, seqOf(value), 'malformed', `not an audit record (${problems})`);
    }
    const record = parsed.data;
    const expectedSeq = index; // records 0..index-1 verified, and their seqs are 0..index-1
    const where = index === 0 ? 'the start of the log' : `record #${index - 1} (seq ${expectedSeq - 1})`;
    if (recordHash(record) !== record.hash) {
      return broken(records.length, index, record.seq, 'altered', `its hash does not match its content: the record was altered after it was written`);
    }
    if (record.prev !== prevHash) {
      return broken(records.length, index, record.seq, ...diagnoseUnlinked(records, index, record.seq, where));
    }
    if (record.seq !== expectedSeq) {
      return broken(
        records.length,
        index,
        record.seq,
        'out-of-sequence',
        `its seq is ${record.seq}, expected ${expectedSeq} (previous + 1), though it links to ${where}`,
      );
    }
    prevHash = record.hash;
  }
  return { ok: true, records: records.length, head: prevHash };
}

/** Why a self-consistent record does not link to the one before it. */
function diagnoseUnlinked(records: readonly unknown[], index: number, seq: number, where: string): [BreakReason, string] {
  const expected = index;
  const noLink = `its prev is not the hash of ${where}`;
  if (seq === expected) {
    return ['unlinked', `${noLink}, though its seq follows: the record before it was replaced (rewritten with a new hash), or this one was forged`];
  }
  if (seq < expected) {
    const copyOf = (records[seq] as { hash?: unknown } | undefined)?.hash === (records[index] as { hash?: unknown }).hash;
    return [
      'reordered',
      `${noLink}: seq ${seq} appears again after seq ${expected - 1}: ${copyOf ? `a copy of record #${seq} was inserted` : 'a record was moved back'}`,
    ];
  }
  const laterAt = records.findIndex((r, i) => i > index && seqOf(r) === expected);
  if (laterAt !== -1) {
    return [
      'reordered',
      `${noLink}: seq ${seq} stands where seq ${expected} belongs, and seq ${expected} comes later, at record #${laterAt}: records were reordered`,
    ];
  }
  const missing = seq - expected;
  const range = missing === 1 ? `seq ${expected}` : `seq ${expected}–${seq - 1}`;
  return [
    'removed',
    `${noLink}: ${missing} record${missing === 1 ? '' : 's'} (${range}) ${missing === 1 ? 'is' : 'are'} missing before it: records were removed`,
  ];
}

/**
 * verifyChain, then checks that a head published earlier is still in the chain. A hash alone
 * is enough; with a seq, the record at that seq must carry it. The log may have grown since.
 */
export function verifyAgainstHead(records: readonly unknown[], head: AuditHead | string): VerifyResult {
  const result = verifyChain(records);
  if (!result.ok) return result;
  const { hash, seq } = typeof head === 'string' ? { hash: head.toLowerCase(), seq: undefined } : head;
  // Every record verified, so a record's hash also pins its seq.
  if (records.some((r, i) => (r as AuditRecord).hash === hash && (seq === undefined || seq === i))) return result;
  const last = records.length - 1;
  const ends = last < 0 ? 'the log is empty' : `the log ends at seq ${last} with hash ${result.head}`;
  if (seq !== undefined && seq <= last) {
    return broken(
      records.length,
      seq,
      seq,
      'rewritten',
      `record #${seq} does not carry the published head ${hash} (${ends}): the log was rewritten up to there`,
    );
  }
  const published = seq === undefined ? hash : `seq ${seq}, hash ${hash}`;
  return broken(
    records.length,
    records.length,
    seq ?? null,
    'truncated',
    seq === undefined
      ? `the published head ${published} is not in the log (${ends}): records were cut off the end, or the log was rewritten`
      : `the published head (${published}) is past the end (${ends}): records were cut off the end`,
  );
}
