// The api's one error handler: every error answers clear JSON with a fixed message — never one
// that may quote the request (a JSON syntax error quotes the body, a validator message may name
// an unknown field): 400 with every problem, 404, 405 with Allow, 413, 415, 503 when the audit
// log did not take a record, 500 otherwise. A data request about a person that fails here is
// still an attempt, audited and counted (routes/data-requests.ts).
import type { ErrorRequestHandler, Request, Response } from 'express';
import { AuditUnavailable, type RouteContext } from './context.ts';
import { pendingAttempt } from './data-requests.ts';
import { translateValidationErrors, type DocumentedOperation } from './validation.ts';

export function errorHandler(ctx: RouteContext, operations: ReadonlyMap<string, DocumentedOperation>, words: ReadonlySet<string>): ErrorRequestHandler {
  const { logger } = ctx;
  async function answerError(err: unknown, req: Request, res: Response): Promise<void> {
    const status = (err as { status?: number }).status;
    const type = (err as { type?: string }).type;
    const invalid = req.path.toLowerCase().startsWith('/v1/data-requests') ? 'invalid data request' : 'invalid query';
    // A data request about a person that fails validation is still an attempt: audited and counted.
    const pending = pendingAttempt(res);
    if (pending && err instanceof Error && !(err instanceof AuditUnavailable)) {
      delete res.locals.individualAttempt;
      await ctx.auditAttempt(req, pending.route, pending.params);
    }
    if (type === 'entity.parse.failed') {
      res.status(400).json({ error: 'invalid data request', problems: ['(body): is not valid JSON'] });
    } else if (type === 'entity.too.large' || status === 413) {
      res.status(413).json({ error: 'the body is too large (at most 16 kB)' });
    } else if ((type !== undefined && type.startsWith('encoding')) || type === 'charset.unsupported' || status === 415) {
      res.status(415).json({ error: 'the body must be JSON (content-type: application/json)' });
    } else if (err instanceof AuditUnavailable) {
      res.status(503).json({ error: 'the audit log is not available, so nothing was served; try again later' });
    } else if (status === 404) {
      res.status(404).json({ error: 'not found', see: '/openapi.json' });
    } else if (status === 405) {
      const allow = String((err as { headers?: { Allow?: string } }).headers?.Allow ?? '')
        .split(',')
        .map((m) => m.trim().toUpperCase())
        .filter(Boolean);
      if (allow.includes('GET') && !allow.includes('HEAD')) allow.push('HEAD');
      res.status(405).set('allow', allow.join(', ')).json({ error: 'method not allowed', allow });
    } else if (status === 400) {
      res.status(400).json({ error: invalid, problems: translateValidationErrors(err, req, operations, words) });
    } else {
      logger.error({ err: { name: (err as Error).name, message: (err as Error).message } }, 'request failed');
      res.status(500).json({ error: 'internal error' });
    }
  }

  return (err, req, res, next) => {
    void next;
    answerError(err, req, res).catch((failure: unknown) => {
      logger.error({ err: { name: (failure as Error).name, message: (failure as Error).message } }, 'error answer failed');
      if (!res.headersSent) res.status(500).json({ error: 'internal error' });
    });
  };
}
