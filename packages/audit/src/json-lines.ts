// The file format, pure: JSON Lines, one record per line, each line ended by "\n", written by
// formatRecordLine and nothing else (verification insists on that exact form). A last line
// without its "\n" is an append cut short (the writer fsyncs whole lines before acknowledging,
// so such a record was never acknowledged): it is "torn", reported, never silently skipped.
import { verifyAgainstHead, verifyChain } from './chain.ts';
import { AuditError } from './errors.ts';
import type { AuditHead, AuditRecord, VerifyResult } from './types.ts';

/** One stored line, "\n" included. Field order is for people reading the file; the hash does not depend on it. */
export function formatRecordLine({ seq, at, type, actor, data, prev, hash }: AuditRecord): string {
  return `${JSON.stringify({ seq, at, type, actor, data, prev, hash })}\n`;
}

export interface SplitLines {
  /** Complete lines, without their "\n". */
  lines: string[];
  /** Text after the last "\n", if any: a torn record. `offset` is where it starts, in UTF-16 units of the text. */
  torn?: { offset: number; text: string };
}

export function splitLines(text: string): SplitLines {
  const end = text.lastIndexOf('\n') + 1;
  const lines = end === 0 ? [] : text.slice(0, end - 1).split('\n');
  return end === text.length ? { lines } : { lines, torn: { offset: end, text: text.slice(end) } };
}

type Parsed = { values: unknown[]; bad?: { index: number; problem: string } };

function parseLines(lines: readonly string[]): Parsed {
  const values: unknown[] = [];
  for (const [index, line] of lines.entries()) {
    try {
      values.push(JSON.parse(line));
    } catch {
      return { values, bad: { index, problem: line.trim() === '' ? `line ${index + 1} is empty` : `line ${index + 1} is not JSON` } };
    }
  }
  return { values };
}

/**
 * Verifies the text of an audit log file: every line a record, the chain intact, no torn last
 * line, and (when given) the published head still in it. Reports the first problem in file order.
 */
export function verifyJsonLines(text: string, head?: AuditHead | string): VerifyResult {
  const { lines, torn } = splitLines(text);
  const total = lines.length + (torn ? 1 : 0);
  const { values, bad } = parseLines(lines);
  const chain = verifyChain(values);
  // The hash covers the parsed content, so an edit that parses the same ("1" → "1.0", a space,
  // a repeated key) would pass it; every line must also be exactly what the writer wrote.
  const verified = chain.ok ? values.length : chain.index;
  const edited = lines.findIndex((line, i) => i < verified && `${line}\n` !== formatRecordLine(values[i] as AuditRecord));
  if (edited !== -1) {
    const { seq } = values[edited] as AuditRecord;
    return {
      ok: false,
      records: total,
      index: edited,
      seq,
      reason: 'altered',
      problem: `line ${edited + 1} is not byte for byte the line the log wrote for this record (spacing, number form, escapes or repeated keys were edited)`,
    };
  }
  if (!chain.ok) return { ...chain, records: total };
  if (bad) return { ok: false, records: total, index: bad.index, seq: null, reason: 'malformed', problem: `not an audit record: ${bad.problem}` };
  if (torn) {
    return {
      ok: false,
      records: total,
      index: lines.length,
      seq: null,
      reason: 'torn',
      problem: `the last line is incomplete (${torn.text.length} characters without a line end): an append was cut short, e.g. by a crash, and was never acknowledged`,
    };
  }
  return head === undefined ? chain : verifyAgainstHead(values, head);
}

/** The records of a file's text that verifies; otherwise an AuditError naming the problem. */
export function parseJsonLines(text: string, path: string): AuditRecord[] {
  const result = verifyJsonLines(text);
  if (!result.ok) {
    const code = result.reason === 'torn' ? 'TORN_RECORD' : result.reason === 'malformed' ? 'MALFORMED_RECORD' : 'BROKEN_CHAIN';
    throw new AuditError(
      code,
      `${brokenMessage(path, result)}. Run \`lethe audit verify ${path}\` and have an operator look before anything else is appended.`,
    );
  }
  return splitLines(text).lines.map((line) => JSON.parse(line) as AuditRecord);
}

/** "The audit log … is broken at record #i (seq s): problem" */
export function brokenMessage(path: string, result: Extract<VerifyResult, { ok: false }>): string {
  return `The audit log ${path} is broken at record #${result.index} (seq ${result.seq ?? 'unknown'}): ${result.problem}`;
}
