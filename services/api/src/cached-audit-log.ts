// The api is the only writer of its audit log, so it keeps the records it has read and written
// in memory: the transparency report and the register's figures then cost a pass over an
// array, not a read and re-hash of the whole file per page view (about 20 ms per thousand
// records). Verification (`verify`, GET /v1/audit/verify) still reads what is on disk, so a
// change to the file behind the api's back is found there.
import type { AuditLog, AuditRecord } from '@lethe/audit';

export async function withRecordCache<L extends AuditLog>(log: L): Promise<L> {
  const cache: AuditRecord[] = [...(await log.records())];
  return {
    ...log,
    async append(event) {
      const record = await log.append(event);
      cache.push(record);
      // Appends resolve in chain order; keep the cache in seq order even if a caller's await lags.
      if (cache.length > 1 && cache.at(-2)!.seq > record.seq) cache.sort((a, b) => a.seq - b.seq);
      return record;
    },
    records: async () => [...cache],
    head: () => log.head(),
    verify: () => log.verify(),
  };
}
