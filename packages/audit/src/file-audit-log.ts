// The durable audit log: a JSON Lines file, one record per line. `append` resolves only after
// the line is written and fsynced, so an acknowledged record survives a crash. Opening reads
// and verifies the whole file and refuses to continue a broken chain: appending to it would
// bury the break under valid-looking records. One process writes a file (appends are queued
// within the process; nothing locks the file against a second writer).
import * as nodeFs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { chainRecord } from './chain.ts';
import { AuditError } from './errors.ts';
import { checkAuditEvent } from './event-guard.ts';
import { brokenMessage, formatRecordLine, parseJsonLines, splitLines, verifyJsonLines } from './json-lines.ts';
import { createSerialQueue } from './serial-queue.ts';
import type { AuditHead, AuditLog, AuditRecord } from './types.ts';

/** The file system calls the log makes; tests inject failures through it. */
export type AuditFileSystem = Pick<typeof nodeFs, 'open'>;

export interface TornTailRepair {
  path: string;
  /** Byte offset where the incomplete line started; the file now ends here. */
  offset: number;
  /** How many bytes were cut off. */
  bytes: number;
}

export interface FileAuditLogOptions {
  /**
   * What to do when the last line is incomplete (an append cut short by a crash, never
   * acknowledged): false (default) refuses to open with TORN_RECORD; true cuts the partial
   * line off and reports it through onRepair. Whoever sent that event got no acknowledgement
   * and sends it again (a Kafka consumer resumes after the last stored offset).
   */
  repairTornTail?: boolean;
  /** Told about a torn line that was cut off, to log it. */
  onRepair?: (repair: TornTailRepair) => void;
  /** Default: node:fs/promises. */
  fs?: AuditFileSystem;
}

export interface FileAuditLog extends AuditLog {
  readonly path: string;
  /** Waits for queued appends, then closes the file. */
  close(): Promise<void>;
}

/** Owner read/write only: the log is evidence, not something other local users should read or touch. */
const FILE_MODE = 0o600;

export async function openFileAuditLog(path: string, { repairTornTail = false, onRepair, fs = nodeFs }: FileAuditLogOptions = {}): Promise<FileAuditLog> {
  const { handle, created } = await openForAppend(fs, path);
  let head: AuditHead | undefined;
  try {
    if (created) {
      // The new file's directory entry must be durable too, or a crash can lose the whole file.
      const dir = await fs.open(dirname(path), 'r');
      await dir.sync().finally(() => dir.close());
    } else if (((await handle.stat()).mode & 0o077) !== 0) {
      await handle.chmod(FILE_MODE);
    }
    let bytes = await readAll(handle);
    const end = bytes.lastIndexOf(0x0a) + 1;
    if (end < bytes.length) {
      const torn = { path, offset: end, bytes: bytes.length - end };
      if (!repairTornTail) {
        throw new AuditError(
          'TORN_RECORD',
          `The audit log ${path} ends in an incomplete line (${torn.bytes} bytes from byte ${end}): an append was cut short, e.g. by a crash, ` +
            `and was never acknowledged. Run \`lethe audit verify ${path}\`; to continue, cut the partial line off ` +
            `(truncate -s ${end} ${path}) or open the log with repairTornTail.`,
        );
      }
      await handle.truncate(end);
      await handle.sync();
      bytes = bytes.subarray(0, end);
      onRepair?.(torn);
    }
    const text = bytes.toString('utf8');
    const result = verifyJsonLines(text);
    if (!result.ok) {
      throw new AuditError(
        'BROKEN_CHAIN',
        `${brokenMessage(path, result)}. Refusing to append to a broken chain: run \`lethe audit verify ${path}\` and have an operator investigate ` +
          `(keep the file as evidence; start a new log only once the break is explained).`,
      );
    }
    const last = splitLines(text).lines.at(-1);
    if (last !== undefined) {
      const { seq, hash } = JSON.parse(last) as AuditRecord;
      head = { seq, hash };
    }
  } catch (err) {
    await handle.close();
    throw err;
  }

  const queue = createSerialQueue();
  let failed: unknown;
  let closed = false;
  const usable = () => {
    if (closed) throw new AuditError('LOG_CLOSED', `The audit log ${path} is closed`);
    if (failed !== undefined) {
      throw new AuditError('LOG_FAILED', `An earlier append to ${path} failed, so where the file ends is unknown; reopen the log (it verifies the file)`, {
        cause: failed,
      });
    }
  };

  return {
    path,
    async append(event) {
      usable();
      // Checked now, so a bad event fails at once and later changes to the caller's object do not count.
      const checked = checkAuditEvent(event);
      return queue(async () => {
        usable();
        const record = chainRecord(head, checked);
        try {
          await handle.appendFile(formatRecordLine(record), 'utf8');
          await handle.sync();
        } catch (err) {
          failed = err;
          throw new AuditError('LOG_FAILED', `Could not write the audit record seq ${record.seq} to ${path}: ${(err as Error).message}`, { cause: err });
        }
        head = { seq: record.seq, hash: record.hash };
        return record;
      });
    },
    records: () =>
      queue(async () => {
        usable();
        return parseJsonLines((await readAll(handle)).toString('utf8'), path);
      }),
    head: async () => head && { ...head },
    // Against the head this process wrote last, so records cut off the end since are found too.
    verify: () =>
      queue(async () => {
        usable();
        return verifyJsonLines((await readAll(handle)).toString('utf8'), head);
      }),
    close: () =>
      queue(async () => {
        if (closed) return;
        closed = true;
        await handle.close();
      }),
  };
}

async function openForAppend(fs: AuditFileSystem, path: string): Promise<{ handle: FileHandle; created: boolean }> {
  try {
    return { handle: await fs.open(path, 'ax+', FILE_MODE), created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return { handle: await fs.open(path, 'a+', FILE_MODE), created: false };
  }
}

/** The whole file, read by position (the handle's own position is at the end after appends). */
async function readAll(handle: FileHandle): Promise<Buffer> {
  const { size } = await handle.stat();
  const buffer = Buffer.alloc(size);
  let read = 0;
  while (read < size) {
    const { bytesRead } = await handle.read(buffer, read, size - read, read);
    if (bytesRead === 0) break;
    read += bytesRead;
  }
  return buffer.subarray(0, read);
}
