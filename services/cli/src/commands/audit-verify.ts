// `lethe audit verify <file> [--head <hash>]`: checks an audit log file (JSON Lines, written by
// @lethe/audit) link by link and names the first record that was altered, removed, reordered
// or torn; with a head published earlier, also finds records cut off the end.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { verifyJsonLines, type AuditHead } from '@lethe/audit';
import { EXIT, UsageError, type Command } from '../command.ts';

const HELP = `Usage: lethe audit verify <file> [--head <hash>]

Verifies a Lethe audit log (guarantee P8): every line a record, every record's SHA-256 over its
own content, every record linked to the one before it, sequence numbers without gaps.

Options:
  --head <hash>       a head published earlier (the hash of the newest record then, or
                      <seq>:<hash>); it must still be in the log, so records cut off the
                      end are found too
  -h, --help          show this text

Output and exit code:
  OK: <n> records, head <hash>                           0  the chain is intact
  BROKEN at record #<i> (seq <s>): <problem>             1  the first record that does not link
                                                             (#i counts from 0; it is line i+1)
  an error message                                       2  the file cannot be read, bad arguments

Examples:
  lethe audit verify /var/lib/lethe/audit.jsonl
  lethe audit verify audit.jsonl --head 5d41402abc4b2a76b9719d911017c592a1f0e1c2b3d4e5f60718293a4b5c6d7e
  pnpm lethe audit verify .local/audit.jsonl`;

function parseHead(text: string): AuditHead | string {
  const match = /^(?:(\d+):)?([0-9a-fA-F]{64})$/.exec(text);
  if (!match) throw new UsageError(`--head must be a 64-digit hex SHA-256, optionally prefixed by <seq>:, not "${text}"`);
  const hash = match[2]!.toLowerCase();
  return match[1] === undefined ? hash : { seq: Number(match[1]), hash };
}

export const auditVerify: Command = {
  name: ['audit', 'verify'],
  summary: 'verify the hash chain of an audit log file',
  example: 'lethe audit verify audit.jsonl --head <hash>    verify, and check that a published head is still in it',
  help: HELP,
  async run(args, io) {
    let parsed;
    try {
      parsed = parseArgs({ args, options: { head: { type: 'string' } }, allowPositionals: true, strict: true });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const { positionals, values } = parsed;
    if (positionals.length !== 1)
      throw new UsageError(positionals.length === 0 ? 'which file? Give the audit log file to verify' : `one file at a time, got ${positionals.length}`);
    const file = positionals[0]!;
    const head = values.head === undefined ? undefined : parseHead(values.head);

    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      io.err(`lethe audit verify: cannot read ${file}: ${(err as Error).message}`);
      return EXIT.error;
    }
    const result = verifyJsonLines(text, head);
    if (!result.ok) {
      io.out(`BROKEN at record #${result.index} (seq ${result.seq ?? '?'}): ${result.problem}`);
      io.err(
        `(${result.reason}; ${result.index < result.records ? `line ${result.index + 1} of ${file}` : `after the last line of ${file}`}, ${result.records} lines in all)`,
      );
      return EXIT.failed;
    }
    io.out(`OK: ${result.records} records, head ${result.head}`);
    if (head !== undefined) io.out(`The published head ${typeof head === 'string' ? head : `${head.seq}:${head.hash}`} is in the log.`);
    return EXIT.ok;
  },
};
