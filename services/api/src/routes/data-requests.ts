// Data requests: POST /v1/data-requests by registered requesters. The requester is
// authenticated before the body is validated (a caller without a token learns nothing about
// the validation). A request about a person that is filed and decided is audited as
// request.received and request.refused; one that ends earlier (401, 400, 404) is audited as
// route.refused with its categories, so every attempt to look a person up is counted.
import { randomUUID } from 'node:crypto';
import { decideDataRequest, effectiveLevel } from '@lethe/privacy';
import type { Request, Response } from 'express';
import { requestDecided, requestReceived } from '../audit-events.ts';
import { individualBodyCategories, parseDataRequest } from '../data-request-body.ts';
import type { Requester } from '../requesters.ts';
import type { RouteContext, RouteGroup } from './context.ts';

export const DATA_REQUESTS_PATH = '/v1/data-requests';

/** Set on res.locals while a request about a person has not been audited yet. */
export interface PendingAttempt {
  route: string;
  params: string[];
}

export function pendingAttempt(res: Response): PendingAttempt | undefined {
  return res.locals.individualAttempt as PendingAttempt | undefined;
}

export function dataRequestRoutes(ctx: RouteContext): RouteGroup {
  const { policy, catalogue, requesters, metrics } = ctx;

  async function auditAttempt(req: Request, res: Response): Promise<void> {
    const pending = pendingAttempt(res);
    if (!pending) return;
    delete res.locals.individualAttempt;
    await ctx.auditAttempt(req, pending.route, pending.params);
  }

  /** Answers 401 (and audits an attempt about a person) unless the requester's token is valid. */
  async function authenticate(req: Request, res: Response): Promise<boolean> {
    res.set('cache-control', 'no-store');
    const categories = individualBodyCategories(req.body);
    if (categories.length > 0) res.locals.individualAttempt = { route: DATA_REQUESTS_PATH, params: categories } satisfies PendingAttempt;
    const requester = requesters.authenticate(req.get('authorization'));
    if (!requester) {
      metrics.authFailures.inc();
      await auditAttempt(req, res);
      res.status(401).set('www-authenticate', 'Bearer realm="lethe-data-requests"').json({
        error: 'authentication required',
        explanation:
          'Data requests are filed by registered requesters with their bearer token (Authorization: Bearer <token>). Anyone can read the open data and the transparency report without one.',
      });
      return false;
    }
    res.locals.requester = requester;
    return true;
  }

  return {
    beforeValidation: (req, res, next) => {
      if (req.method !== 'POST' || req.path.toLowerCase().replace(/\/+$/, '') !== DATA_REQUESTS_PATH) return next();
      authenticate(req, res).then((ok) => (ok ? next() : undefined), next);
    },
    handlers: {
      fileDataRequest: async (req, res) => {
        const requester = res.locals.requester as Requester;
        const parsed = parseDataRequest(req.body, policy, catalogue);
        if (!parsed.ok) {
          await auditAttempt(req, res);
          if (parsed.status === 404) res.status(404).json({ error: 'no such subject', problems: parsed.problems });
          else res.status(400).json({ error: 'invalid data request', problems: parsed.problems });
          return;
        }
        // From here on the request itself is audited (request.received), so it is counted as a data request.
        delete res.locals.individualAttempt;
        const { request } = parsed;
        const requestId = randomUUID();
        const receivedAt = ctx.now();
        await ctx.record(requestReceived(receivedAt, requestId, requester, request, effectiveLevel(request)));
        const decision = decideDataRequest(request, { policy, now: receivedAt, ...(ctx.keyGraceMs === undefined ? {} : { keyGraceMs: ctx.keyGraceMs }) });
        await ctx.record(requestDecided(ctx.now(), requestId, requester, decision));
        metrics.dataRequests.inc({ requester_type: requester.type, decision: decision.decision });
        if (decision.decision === 'refused') for (const reason of decision.reasons) metrics.refusals.inc({ reason });
        const notes =
          decision.decision === 'answered' && request.to <= request.from
            ? [...decision.notes, 'The time range is empty (to is not after from), so the links return no rows.']
            : undefined;
        res.status(200).json({
          requestId,
          receivedAt: new Date(receivedAt).toISOString(),
          requester: { id: requester.id, type: requester.type },
          ...decision,
          ...(notes ? { notes } : {}),
          report: '/v1/transparency-report',
        });
      },
    },
  };
}
