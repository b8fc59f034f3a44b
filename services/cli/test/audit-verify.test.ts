// `lethe audit verify` as an operator runs it: a real process on a real file, one per case.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileAuditLog, type AuditRecord } from '@lethe/audit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MAIN = new URL('../src/main.ts', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'lethe-cli-'));
const original = join(dir, 'audit.jsonl');
let lines: string[];
let records: AuditRecord[];

function lethe(...args: string[]) {
  const run = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout.trim(), stderr: run.stderr.trim() };
}

/** A copy of the log with its lines changed, for one case. */
function tampered(name: string, change: (lines: string[]) => string[]): string {
  const path = join(dir, `${name}.jsonl`);
  writeFileSync(
    path,
    change([...lines])
      .map((l) => `${l}\n`)
      .join(''),
  );
  return path;
}

beforeAll(async () => {
  const log = await openFileAuditLog(original);
  const t0 = Date.UTC(2026, 10, 23, 0, 30);
  for (let i = 0; i < 8; i++) {
    await log.append(
      i % 2 === 0
        ? { type: 'key.destroyed', actor: 'gateway', at: t0 + i * 900_000, data: { kind: 'lamppost', epoch: 1_994_882 + i } }
        : { type: 'request.refused', actor: 'api', at: t0 + i * 900_000, data: { reason: 'UNLINKABLE', requester: 'police-hk' } },
    );
  }
  records = await log.records();
  await log.close();
  lines = readFileSync(original, 'utf8').trimEnd().split('\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lethe audit verify', { timeout: 30_000 }, () => {
  it('says OK with the number of records and the head, and exits 0', () => {
    expect(lethe('audit', 'verify', original)).toEqual({ code: 0, stdout: `OK: 8 records, head ${records[7]!.hash}`, stderr: '' });
  });

  it('finds a record altered by one character, exits 1', () => {
    const path = tampered('altered', (l) => ((l[3] = l[3]!.replace('police-hk', 'police-hK')), l));
    const run = lethe('audit', 'verify', path);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^BROKEN at record #3 \(seq 3\): its hash does not match its content: the record was altered/);
    expect(run.stderr).toContain(`altered; line 4 of ${path}`);
  });

  it('finds a record removed from the middle, exits 1', () => {
    const run = lethe(
      'audit',
      'verify',
      tampered('removed', (l) => l.filter((_, i) => i !== 4)),
    );
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^BROKEN at record #4 \(seq 5\): .*1 record \(seq 4\) is missing before it: records were removed$/);
  });

  it('finds two swapped records, exits 1', () => {
    const run = lethe(
      'audit',
      'verify',
      tampered('reordered', (l) => [l[0]!, l[1]!, l[3]!, l[2]!, ...l.slice(4)]),
    );
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^BROKEN at record #2 \(seq 3\): .*records were reordered$/);
  });

  it('passes a log cut off at the end, unless given the head published before', () => {
    const path = tampered('truncated', (l) => l.slice(0, 6));
    expect(lethe('audit', 'verify', path)).toMatchObject({ code: 0, stdout: `OK: 6 records, head ${records[5]!.hash}` });
    const run = lethe('audit', 'verify', path, '--head', records[7]!.hash);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^BROKEN at record #6 \(seq \?\): the published head [0-9a-f]{64} is not in the log .*cut off the end/);
    expect(lethe('audit', 'verify', path, '--head', `7:${records[7]!.hash}`).stdout).toMatch(/^BROKEN at record #6 \(seq 7\): .*past the end/);
    expect(lethe('audit', 'verify', original, '--head', records[5]!.hash)).toMatchObject({ code: 0, stdout: expect.stringContaining('is in the log') });
  });

  it('reports a torn last line, exits 1', () => {
    const path = join(dir, 'torn.jsonl');
    writeFileSync(path, `${lines.join('\n')}\n{"seq":8,"at":179`);
    expect(lethe('audit', 'verify', path)).toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/^BROKEN at record #8 \(seq \?\): the last line is incomplete/),
    });
  });

  it('exits 2 with a clear message for a file it cannot read, and for bad arguments', () => {
    const missing = join(dir, 'missing.jsonl');
    expect(lethe('audit', 'verify', missing)).toMatchObject({
      code: 2,
      stdout: '',
      stderr: expect.stringMatching(new RegExp(`cannot read ${missing}: ENOENT`)),
    });
    expect(lethe('audit', 'verify', dir)).toMatchObject({ code: 2, stderr: expect.stringMatching(/cannot read .*EISDIR/) });
    expect(lethe('audit', 'verify')).toMatchObject({ code: 2, stderr: expect.stringMatching(/which file\?.*\n.*lethe audit verify --help/s) });
    expect(lethe('audit', 'verify', original, '--head', 'abc')).toMatchObject({ code: 2, stderr: expect.stringMatching(/--head must be a 64-digit hex/) });
    expect(lethe('audit', 'verify', original, '--bogus')).toMatchObject({ code: 2, stderr: expect.stringMatching(/Unknown option '--bogus'/) });
  });
});

describe('lethe', { timeout: 30_000 }, () => {
  it('lists its subcommands with examples for --help', () => {
    const run = lethe('--help');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Usage: lethe <command>/);
    expect(run.stdout).toMatch(/\n {2}audit verify +verify the hash chain of an audit log file\n/);
    expect(run.stdout).toMatch(/\n {2}lethe audit verify audit\.jsonl --head <hash>/);
    expect(lethe('audit', 'verify', '--help')).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Usage: lethe audit verify <file> \[--head <hash>\]/) });
  });

  it('exits 2 for an unknown or incomplete command, showing what exists', () => {
    expect(lethe('frobnicate')).toMatchObject({ code: 2, stderr: expect.stringMatching(/unknown command "frobnicate"[\s\S]*audit verify/) });
    expect(lethe('audit')).toMatchObject({ code: 2, stderr: expect.stringMatching(/audit verify/) });
    expect(lethe()).toMatchObject({ code: 2, stderr: expect.stringMatching(/Usage: lethe/) });
  });
});
