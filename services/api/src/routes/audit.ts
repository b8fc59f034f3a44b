// Transparency: the report computed from the audit log, and the log's verification.
import { buildTransparencyReport, REPORT_PERIODS, type ReportPeriod } from '../transparency-report.ts';
import type { RouteContext, RouteGroup } from './context.ts';

export function auditRoutes(ctx: RouteContext): RouteGroup {
  return {
    handlers: {
      getTransparencyReport: async (req, res) => {
        const period = req.query.period ?? 'month';
        if (typeof period !== 'string' || !(REPORT_PERIODS as readonly string[]).includes(period)) {
          res.status(400).json({ error: 'invalid query', problems: [`period: must be one of ${REPORT_PERIODS.join(', ')}`] });
          return;
        }
        const [records, head] = await Promise.all([ctx.audit.records(), ctx.audit.head()]);
        res.json(buildTransparencyReport(records, head, { period: period as ReportPeriod, now: ctx.now() }));
      },
      verifyAuditLog: async (_req, res) => {
        res.status(200).json(await ctx.audit.verify());
      },
    },
  };
}
