import { createMemoryAuditLog } from '@lethe/audit';
import { buildRegister } from '@lethe/privacy';
import { describe, expect, it } from 'vitest';
import { aggregatesFlux } from '../src/aggregate-store.ts';
import { withRecordCache } from '../src/cached-audit-log.ts';
import { parseAggregatesQuery } from '../src/aggregates-query.ts';
import { escapeHtml, html } from '../src/html.ts';
import { registerPage } from '../src/register-page.ts';
import { buildTransparencyReport } from '../src/transparency-report.ts';
import { catalogue, NOW, policy } from './support.ts';

describe('HTML', () => {
  it('escapes every interpolated value and keeps nested templates', () => {
    const inner = html`<b>${'<i>'}</b>`;
    expect(html`<p title="${'"x" & \'y\''}">${inner}${['<a>', html`<br>`]}</p>`.html).toBe(
      '<p title="&quot;x&quot; &amp; &#39;y&#39;">&lt;b&gt;&lt;i&gt;&lt;/b&gt;'.replace('&lt;b&gt;&lt;i&gt;&lt;/b&gt;', '<b>&lt;i&gt;</b>') +
        '&lt;a&gt;<br></p>',
    );
    expect(escapeHtml('<script>alert(1)</script>')).toBe('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('renders what the policy says as text, never as markup', () => {
    const register = buildRegister({ ...policy, controller: '<script>alert(1)</script> Office' });
    const page = registerPage(register, undefined);
    expect(page).not.toContain('<script>alert');
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt; Office');
  });
});

describe('the Flux of an aggregates query', () => {
  it('passes values as escaped Flux literals and sorts by time, tags and field', () => {
    const parsed = parseAggregatesQuery(
      { measurement: 'travel_times', district: 'wan-chai', start: '-1h', window: '5m', aggregate: 'max', limit: '10', cursor: '20' },
      catalogue,
      NOW,
    );
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const flux = aggregatesFlux('agg"regates', parsed.query);
    expect(flux).toContain('from(bucket: "agg\\"regates")');
    expect(flux).toContain('r.from_district == "wan-chai" or r.to_district == "wan-chai"');
    expect(flux).toContain('aggregateWindow(every: duration(v: "5m"), fn: max, createEmpty: false, timeSrc: "_start")');
    expect(flux).toContain('sort(columns: ["_time","from","from_district","to","to_district","_field"])');
    expect(flux).toContain('limit(n: 11, offset: 20)');
  });
});

describe('the transparency report', () => {
  it('counts from the audit log only, by requester type and reason, newest period first', async () => {
    const log = createMemoryAuditLog();
    const at = (d: string) => Date.parse(`${d}T12:00:00Z`);
    await log.append({ type: 'request.received', actor: 'api', at: at('2025-05-30'), data: { requestId: 'a', requesterType: 'journalist' } });
    await log.append({
      type: 'request.refused',
      actor: 'api',
      at: at('2025-05-30'),
      data: { requestId: 'a', requesterType: 'journalist', reasons: ['OUT_OF_PURPOSE'] },
    });
    await log.append({ type: 'request.received', actor: 'api', at: at('2025-06-01'), data: { requestId: 'b', requesterType: 'court' } });
    await log.append({
      type: 'request.refused',
      actor: 'api',
      at: at('2025-06-01'),
      data: { requestId: 'b', requesterType: 'court', reasons: ['EXPIRED', 'OUT_OF_PURPOSE', 'EXPIRED'] },
    });
    await log.append({ type: 'key.destroyed', actor: 'gateway', at: at('2025-06-01'), data: { epoch: 5 } });
    const report = buildTransparencyReport(await log.records(), await log.head(), { period: 'month', now: NOW });
    expect(report.periods.map((p) => [p.period, p.requests, p.refused])).toEqual([
      ['2025-06', 1, 1],
      ['2025-05', 1, 1],
    ]);
    expect(report.totals.refusalsByReason).toEqual({ NOT_COLLECTED: 0, EXPIRED: 1, UNLINKABLE: 0, OUT_OF_PURPOSE: 2 });
    expect(report.totals.byRequesterType.court.refusalsByReason.EXPIRED).toBe(1);
    expect(report.audit).toEqual({ records: 5, head: await log.head() });
  });
});

describe('the audit log record cache', () => {
  it('serves the records it read and wrote, in chain order, and verifies what is stored', async () => {
    const inner = createMemoryAuditLog();
    await inner.append({ type: 'policy.loaded', actor: 'gateway', at: NOW, data: { version: 1 } });
    const log = await withRecordCache(inner);
    await Promise.all([1, 2, 3].map((i) => log.append({ type: 'export', actor: 'api', at: NOW + i, data: { rows: i } })));
    expect((await log.records()).map((r) => r.seq)).toEqual([0, 1, 2, 3]);
    expect(await log.records()).toEqual(await inner.records());
    expect(await log.verify()).toMatchObject({ ok: true, records: 4 });
    expect(await log.head()).toEqual(await inner.head());
  });
});
