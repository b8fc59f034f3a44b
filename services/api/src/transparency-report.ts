// The public transparency report, computed from the audit log and nothing else, so it cannot
// say anything the log does not: data requests and their outcomes by requester type and refusal
// reason, per period, plus every request that looked for a person and did not become a data
// request (routesRefused: route.refused records, whatever status the request got — 403, 405,
// or 401/400/404 for a data request about a person — see identifying-params.ts) with what they
// looked for (routesRefusedByCategory, in the api's closed vocabulary), and the log's head
// (publish the head and any later truncation of the log is detectable). Pure.
import type { AuditHead, AuditRecord } from '@lethe/audit';
import { REFUSAL_REASONS, type RefusalReason } from '@lethe/privacy';
import { isCategory } from './identifying-params.ts';
import { REQUESTER_TYPES, type RequesterType } from './requesters.ts';

export const REPORT_PERIODS = ['day', 'month', 'year'] as const;
export type ReportPeriod = (typeof REPORT_PERIODS)[number];

export interface Counts {
  requests: number;
  answered: number;
  refused: number;
  /** Refusals per reason; a refusal with several reasons counts once under each. */
  refusalsByReason: Record<RefusalReason, number>;
  byRequesterType: Record<RequesterType, { requests: number; answered: number; refused: number; refusalsByReason: Record<RefusalReason, number> }>;
  /** Requests that looked for a person (individual-looking), whatever their answer, other than filed data requests. */
  routesRefused: number;
  /** What they looked for: a refusal with several categories counts once under each. */
  routesRefusedByCategory: Record<string, number>;
}

export interface TransparencyReport {
  generatedAt: string;
  period: ReportPeriod;
  totals: Counts;
  /** Newest period first; only periods with activity. */
  periods: Array<{ period: string } & Counts>;
  audit: { records: number; head: AuditHead | null };
}

const zeroReasons = (): Record<RefusalReason, number> => Object.fromEntries(REFUSAL_REASONS.map((r) => [r, 0])) as Record<RefusalReason, number>;

function emptyCounts(): Counts {
  return {
    requests: 0,
    answered: 0,
    refused: 0,
    refusalsByReason: zeroReasons(),
    byRequesterType: Object.fromEntries(
      REQUESTER_TYPES.map((t) => [t, { requests: 0, answered: 0, refused: 0, refusalsByReason: zeroReasons() }]),
    ) as Counts['byRequesterType'],
    routesRefused: 0,
    routesRefusedByCategory: {},
  };
}

export function periodOf(at: number, period: ReportPeriod): string {
  const iso = new Date(at).toISOString();
  return period === 'day' ? iso.slice(0, 10) : period === 'month' ? iso.slice(0, 7) : iso.slice(0, 4);
}

const isRequesterType = (v: unknown): v is RequesterType => typeof v === 'string' && (REQUESTER_TYPES as readonly string[]).includes(v);
const isReason = (v: unknown): v is RefusalReason => typeof v === 'string' && (REFUSAL_REASONS as readonly string[]).includes(v);

function count(c: Counts, record: AuditRecord): void {
  const type = record.data.requesterType;
  const byType = isRequesterType(type) ? c.byRequesterType[type] : undefined;
  switch (record.type) {
    case 'request.received':
      c.requests++;
      if (byType) byType.requests++;
      break;
    case 'request.answered':
      c.answered++;
      if (byType) byType.answered++;
      break;
    case 'request.refused': {
      c.refused++;
      if (byType) byType.refused++;
      const reasons = Array.isArray(record.data.reasons) ? record.data.reasons.filter(isReason) : [];
      for (const reason of new Set(reasons)) {
        c.refusalsByReason[reason]++;
        if (byType) byType.refusalsByReason[reason]++;
      }
      break;
    }
    case 'route.refused': {
      c.routesRefused++;
      const params = Array.isArray(record.data.params) ? record.data.params.filter(isCategory) : [];
      for (const category of new Set(params)) c.routesRefusedByCategory[category] = (c.routesRefusedByCategory[category] ?? 0) + 1;
      break;
    }
    default:
      break;
  }
}

export function buildTransparencyReport(
  records: readonly AuditRecord[],
  head: AuditHead | undefined,
  { period, now }: { period: ReportPeriod; now: number },
): TransparencyReport {
  const totals = emptyCounts();
  const periods = new Map<string, Counts>();
  for (const record of records) {
    const key = periodOf(record.at, period);
    let c = periods.get(key);
    if (!c) periods.set(key, (c = emptyCounts()));
    count(totals, record);
    count(c, record);
  }
  const active = [...periods.entries()].filter(([, c]) => c.requests + c.answered + c.refused + c.routesRefused > 0).sort(([a], [b]) => (a < b ? 1 : -1));
  return {
    generatedAt: new Date(now).toISOString(),
    period,
    totals,
    periods: active.map(([p, c]) => ({ period: p, ...c })),
    audit: { records: records.length, head: head ?? null },
  };
}
