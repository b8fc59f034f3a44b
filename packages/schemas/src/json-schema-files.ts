// The committed copies of the generated JSON Schemas under packages/schemas/json-schema/.
// They are committed so that docs/asyncapi.yaml can `$ref` them and readers need no build;
// this compares them with a fresh generation so that a stale copy fails the tests.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { formatJsonSchema, generateJsonSchemas } from './json-schemas.ts';

/** Where the generated schemas are committed. */
export const JSON_SCHEMA_DIR = new URL('../json-schema/', import.meta.url).pathname;

export interface JsonSchemaFileDiff {
  /** Generated but not on disk. */
  missing: string[];
  /** On disk with different content. */
  changed: string[];
  /** On disk (`*.schema.json`) but no longer generated. */
  extra: string[];
}

/** Generated file name → committed text. */
export function expectedJsonSchemaFiles(): Map<string, string> {
  return new Map([...generateJsonSchemas()].map(([file, document]) => [file, formatJsonSchema(document)]));
}

/** The `*.schema.json` files under `dir`, relative to it, with `/` separators. */
export function listJsonSchemaFiles(dir: string = JSON_SCHEMA_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.schema.json'))
    .map((f) => relative(dir, join(dir, f)).split('\\').join('/'))
    .sort();
}

export function diffJsonSchemaFiles(dir: string = JSON_SCHEMA_DIR): JsonSchemaFileDiff {
  const expected = expectedJsonSchemaFiles();
  const onDisk = new Set(listJsonSchemaFiles(dir));
  const diff: JsonSchemaFileDiff = { missing: [], changed: [], extra: [] };
  for (const [file, text] of expected) {
    if (!onDisk.has(file)) diff.missing.push(file);
    else if (readFileSync(join(dir, file), 'utf8') !== text) diff.changed.push(file);
  }
  diff.extra = [...onDisk].filter((f) => !expected.has(f));
  return diff;
}

export function isUpToDate(diff: JsonSchemaFileDiff): boolean {
  return diff.missing.length + diff.changed.length + diff.extra.length === 0;
}
