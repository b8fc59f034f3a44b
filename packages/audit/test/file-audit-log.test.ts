import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyChain } from '../src/chain.ts';
import { openFileAuditLog, type AuditFileSystem, type FileAuditLog } from '../src/file-audit-log.ts';
import { formatRecordLine } from '../src/json-lines.ts';
import type { AuditRecord } from '../src/types.ts';
import { chainOf, event } from './fixtures.ts';

let dir: string;
let path: string;
const opened: FileAuditLog[] = [];
const open = async (...args: Parameters<typeof openFileAuditLog> extends [string, ...infer R] ? R : never) => {
  const log = await openFileAuditLog(path, ...args);
  opened.push(log);
  return log;
};
const lines = () => readFileSync(path, 'utf8').split('\n').slice(0, -1);
const writeLines = (records: readonly AuditRecord[]) => writeFileSync(path, records.map(formatRecordLine).join(''));

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lethe-audit-'));
  path = join(dir, 'audit.jsonl');
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((log) => log.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('the file audit log', () => {
  it('creates the file owner-only and stores one JSON record per line', async () => {
    const log = await open();
    const record = await log.append(event(0));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).toBe(formatRecordLine(record));
    expect(JSON.parse(lines()[0]!)).toEqual(record);
  });

  it('survives a reopen and continues the chain where it ended', async () => {
    const first = await open();
    for (let i = 0; i < 5; i++) await first.append(event(i));
    const head = await first.head();
    await first.close();

    const second = await open();
    expect(await second.head()).toEqual(head);
    const next = await second.append(event(5));
    expect(next).toMatchObject({ seq: 5, prev: head!.hash });
    expect(await second.verify()).toEqual({ ok: true, records: 6, head: next.hash });
    expect((await second.records()).map((r) => r.seq)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('chains concurrent appends correctly, each durable when it resolves', async () => {
    const log = await open();
    const records = await Promise.all(Array.from({ length: 100 }, (_, i) => log.append(event(i))));
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(lines()).toHaveLength(100);
    expect(verifyChain(lines().map((l) => JSON.parse(l)))).toMatchObject({ ok: true, records: 100, head: records[99]!.hash });
  });

  it('fsyncs every record before append resolves', async () => {
    const synced: number[] = [];
    const fs: AuditFileSystem = {
      open: async (...args: Parameters<typeof fsp.open>) => {
        const handle = await fsp.open(...args);
        const sync = handle.sync.bind(handle);
        return Object.assign(handle, { sync: async () => (await sync(), synced.push(readFileSync(path, 'utf8').split('\n').length - 1)) }) as fsp.FileHandle;
      },
    };
    const log = await open({ fs });
    synced.length = 0;
    await log.append(event(0));
    expect(synced).toEqual([1]);
    await log.append(event(1));
    expect(synced).toEqual([1, 2]);
  });

  it('refuses to open a file whose chain is broken — altered, removed or reordered — and says to run lethe audit verify', async () => {
    const records = chainOf(6);
    const altered = structuredClone(records);
    altered[2]!.data.reason = 'EXPIRED';
    const removed = records.filter((_, i) => i !== 3);
    const swapped = [records[0]!, records[2]!, records[1]!, ...records.slice(3)];
    for (const [name, content, index] of [
      ['altered', altered, 2],
      ['removed', removed, 3],
      ['reordered', swapped, 1],
    ] as const) {
      writeLines(content);
      await expect(openFileAuditLog(path), name).rejects.toMatchObject({
        code: 'BROKEN_CHAIN',
        message: expect.stringMatching(new RegExp(`broken at record #${index} .*${name}.*Refusing to append.*lethe audit verify ${path}`)),
      });
    }
    expect(lines()).toHaveLength(6);
  });

  it('refuses a single edited character on disk', async () => {
    const log = await open();
    for (let i = 0; i < 3; i++) await log.append(event(i));
    await log.close();
    writeFileSync(path, readFileSync(path, 'utf8').replace('police-hk', 'police-hK'));
    await expect(openFileAuditLog(path)).rejects.toMatchObject({ code: 'BROKEN_CHAIN', message: expect.stringMatching(/record #1 \(seq 1\).*altered/) });
  });

  it('reports a torn last line instead of dropping it, and cuts it off only when asked', async () => {
    writeLines(chainOf(3));
    const intact = statSync(path).size;
    appendFileSync(path, '{"seq":3,"at":17953');
    await expect(openFileAuditLog(path)).rejects.toMatchObject({
      code: 'TORN_RECORD',
      message: expect.stringMatching(new RegExp(`incomplete line \\(19 bytes from byte ${intact}\\).*truncate -s ${intact}`)),
    });
    expect(statSync(path).size).toBe(intact + 19);

    const repairs: unknown[] = [];
    const log = await open({ repairTornTail: true, onRepair: (r) => repairs.push(r) });
    expect(repairs).toEqual([{ path, offset: intact, bytes: 19 }]);
    expect(statSync(path).size).toBe(intact);
    expect((await log.append(event(3))).seq).toBe(3);
    expect(await log.verify()).toMatchObject({ ok: true, records: 4 });
  });

  it('refuses a line that is not JSON', async () => {
    writeFileSync(path, `${formatRecordLine(chainOf(1)[0]!)}not json\n`);
    await expect(openFileAuditLog(path)).rejects.toMatchObject({ code: 'BROKEN_CHAIN', message: expect.stringMatching(/record #1 .*line 2 is not JSON/) });
  });

  it('finds records cut off the end since it was opened, against the head it wrote', async () => {
    const log = await open();
    for (let i = 0; i < 4; i++) await log.append(event(i));
    truncateSync(path, Buffer.byteLength(lines().slice(0, 2).join('\n') + '\n'));
    expect(await log.verify()).toMatchObject({ ok: false, reason: 'truncated', index: 2, seq: 3 });
  });

  it('after a failed fsync takes no more appends, and a reopen verifies what reached the file', async () => {
    let fail = false;
    const fs: AuditFileSystem = {
      open: async (...args: Parameters<typeof fsp.open>) => {
        const handle = await fsp.open(...args);
        const sync = handle.sync.bind(handle);
        return Object.assign(handle, {
          sync: () => (fail ? Promise.reject(Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' })) : sync()),
        }) as fsp.FileHandle;
      },
    };
    const log = await open({ fs });
    await log.append(event(0));
    fail = true;
    await expect(log.append(event(1))).rejects.toMatchObject({ code: 'LOG_FAILED', message: expect.stringMatching(/seq 1 .*EIO/) });
    fail = false;
    await expect(log.append(event(2))).rejects.toMatchObject({ code: 'LOG_FAILED', message: expect.stringMatching(/reopen/) });
    await log.close();
    const reopened = await open();
    expect(await reopened.verify()).toMatchObject({ ok: true });
  });

  it('writes nothing for an event it refuses', async () => {
    const log = await open();
    await log.append(event(0));
    await expect(log.append({ ...event(1), data: { mac: '02:00:5E:10:00:01' } })).rejects.toMatchObject({ code: 'PERSONAL_DATA' });
    expect(lines()).toHaveLength(1);
    expect(readFileSync(path, 'utf8')).not.toContain('02:00:5E');
  });

  it('tightens an existing file that others could read to owner-only', async () => {
    writeLines(chainOf(2));
    chmodSync(path, 0o644);
    await open();
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('takes no appends once closed', async () => {
    const log = await openFileAuditLog(path);
    await log.close();
    await expect(log.append(event(0))).rejects.toMatchObject({ code: 'LOG_CLOSED' });
  });
});
