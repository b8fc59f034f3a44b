// The OpenAPI 3.1 document of this service (docs/openapi.yaml): served at /openapi.json, and the
// source of its routing and request validation (app.ts, express-openapi-validator).
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

export const DEFAULT_OPENAPI_PATH = new URL('../../../docs/openapi.yaml', import.meta.url).pathname;

export function loadOpenApiDocument(path = DEFAULT_OPENAPI_PATH): Record<string, unknown> {
  const document = parseYaml(readFileSync(path, 'utf8')) as unknown;
  if (typeof document !== 'object' || document === null || (document as { openapi?: unknown }).openapi !== '3.1.0') {
    throw new Error(`${path} is not an OpenAPI 3.1.0 document`);
  }
  return document as Record<string, unknown>;
}
