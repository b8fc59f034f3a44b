// Problems found by the OpenAPI validator, in the api's words. A validator message may name
// what was sent (an unknown field or parameter, a content type), so a problem is built only from
// the document's own names and the validator's rule (the allowed values, the pattern, the
// bounds), never from the request: a plate typed into the wrong place is not echoed back.
import type { Request, RequestHandler } from 'express';

interface ValidationError {
  path?: string;
  message?: string;
  errorCode?: string;
}

const unknownProblem = (count: number, known: readonly string[]) =>
  `unknown parameter${count > 1 ? 's' : ''} (${count}); the parameters are ${known.join(', ')}`;

/**
 * 400 for query parameters an operation with parameters does not take (counted, never named):
 * a misspelt filter must not silently widen a query. Operations without parameters ignore them.
 */
export function unknownQueryParameters(operation: DocumentedOperation): RequestHandler {
  return (req, res, next) => {
    if (operation.query.length === 0) return next();
    const unknown = Object.keys(req.query as object).filter((k) => !operation.query.includes(k));
    if (unknown.length === 0) return next();
    res.status(400).json({ error: 'invalid query', problems: [unknownProblem(unknown.length, operation.query)] });
  };
}

/** A word of the document (a parameter or property name) is safe to print; anything else is not. */
const SAFE_WORD = /^[a-z][a-zA-Z0-9_-]{0,40}$/;

function problemOf(error: ValidationError, known: ReadonlySet<string>): string | undefined {
  const parts = (error.path ?? '').split('/').filter(Boolean);
  const where = parts[0];
  // Array indices are dropped: `data: must be …` says which list, the index adds nothing.
  const names = parts
    .slice(1)
    .filter((p) => !/^\d+$/.test(p))
    .map((p) => (known.has(p) && SAFE_WORD.test(p) ? p : '?'));
  const code = (error.errorCode ?? '').split('.')[0];
  const message = error.message ?? 'is not valid';
  if (code === 'additionalProperties') {
    const parent = names.slice(0, -1).join('.');
    return `${parent || '(body)'}: unknown fields`;
  }
  if (message.startsWith('Unknown query parameter')) return undefined;
  const subject = names.join('.') || (where === 'body' ? '(body)' : `(${where ?? 'request'})`);
  if (code === 'required') return `${subject}: is required`;
  if (code === 'oneOf' || code === 'anyOf') return `${subject}: must take one of the forms the API description gives (/openapi.json)`;
  // Validator messages for the remaining rules quote only the schema: allowed values, pattern, bound, format.
  const rule = /^must (be|match|have|NOT|not|contain)\b/.test(message) ? message : 'is not valid';
  return `${subject}: ${rule}`;
}

/** Every problem of a validation error, deduplicated, plus unknown query parameters. */
export function translateValidationErrors(
  err: unknown,
  req: Request,
  operations: ReadonlyMap<string, DocumentedOperation>,
  documentWords: ReadonlySet<string>,
): string[] {
  const errors = ((err as { errors?: ValidationError[] }).errors ?? []).filter((e) => typeof e === 'object' && e !== null);
  const operationId = (req as Request & { openapi?: { schema?: { operationId?: string } } }).openapi?.schema?.operationId;
  const operation = operationId === undefined ? undefined : operations.get(operationId);
  const known = new Set<string>([...(operation?.query ?? []), ...documentWords]);
  // Under a oneOf/anyOf the validator reports every branch's mismatch; one problem says it better.
  const alternatives = errors.filter((e) => /^(oneOf|anyOf)\b/.test(e.errorCode ?? '')).map((e) => e.path ?? '');
  const within = (e: ValidationError) => alternatives.some((a) => (e.path ?? '').startsWith(`${a}/`));
  const kept = errors.filter((e) => (alternatives.includes(e.path ?? '') ? /^(oneOf|anyOf)\b/.test(e.errorCode ?? '') : !within(e)));
  const problems = [...new Set(kept.map((e) => problemOf(e, known)).filter((p): p is string => p !== undefined))];
  if (operation && operation.query.length > 0) {
    const unknown = Object.keys(req.query as object).filter((k) => !operation.query.includes(k));
    if (unknown.length > 0) problems.unshift(unknownProblem(unknown.length, operation.query));
  }
  return problems.length > 0 ? problems : ['(request): does not match the API description (/openapi.json)'];
}

/** Property names of the document's schemas (safe to name in a problem). */
export function documentWords(openapi: unknown): ReadonlySet<string> {
  const words = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (typeof node !== 'object' || node === null) return;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'properties' && typeof value === 'object' && value !== null) for (const name of Object.keys(value)) words.add(name);
      visit(value);
    }
  };
  visit((openapi as { components?: unknown }).components);
  return words;
}

export interface DocumentedOperation {
  path: string;
  method: string;
  /** Query parameter names the operation takes. */
  query: readonly string[];
  tags: readonly string[];
}

/** Operations of the document by operationId. */
export function documentedOperations(openapi: unknown): Map<string, DocumentedOperation> {
  const out = new Map<string, DocumentedOperation>();
  const paths =
    (openapi as { paths?: Record<string, Record<string, { operationId?: string; tags?: string[]; parameters?: Array<{ name: string; in: string }> }>> })
      .paths ?? {};
  for (const [path, ops] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(ops)) {
      if (typeof op !== 'object' || op === null || typeof op.operationId !== 'string') continue;
      out.set(op.operationId, { path, method, query: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name), tags: op.tags ?? [] });
    }
  }
  return out;
}
