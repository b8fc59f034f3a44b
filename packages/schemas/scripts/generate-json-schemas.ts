// Writes the JSON Schemas generated from the zod schemas to packages/schemas/json-schema/.
//
//   pnpm gen:schemas             write every schema, delete ones no longer generated
//   pnpm gen:schemas --check     write nothing; exit 1 listing stale files (for CI)
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { diffJsonSchemaFiles, expectedJsonSchemaFiles, isUpToDate, JSON_SCHEMA_DIR } from '../src/json-schema-files.ts';

const HELP = `Usage: node packages/schemas/scripts/generate-json-schemas.ts [--check] [--dir <path>]

Generates the JSON Schema (draft 2020-12) of every MQTT payload and Kafka record from the zod
schemas in packages/schemas/src and writes them to packages/schemas/json-schema/.

Options:
  --check        compare instead of writing; exit 1 and list the stale files
  --dir <path>   another directory than packages/schemas/json-schema/ (tests use this)
  --help         show this text

Examples:
  pnpm gen:schemas
  pnpm gen:schemas --check`;

function main(): number {
  const { values } = parseArgs({
    options: { check: { type: 'boolean', default: false }, dir: { type: 'string' }, help: { type: 'boolean', default: false } },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const dir = values.dir === undefined ? JSON_SCHEMA_DIR : resolve(values.dir);
  const diff = diffJsonSchemaFiles(dir);
  const shown = (file: string) => relative(process.cwd(), join(dir, file)) || '.';

  if (values.check) {
    if (isUpToDate(diff)) {
      console.log(`JSON Schemas in ${shown('.')} are up to date.`);
      return 0;
    }
    for (const file of diff.missing) console.error(`missing: ${shown(file)}`);
    for (const file of diff.changed) console.error(`stale:   ${shown(file)}`);
    for (const file of diff.extra) console.error(`extra:   ${shown(file)} (no zod schema generates it)`);
    console.error('JSON Schemas are out of date with the zod schemas: run pnpm gen:schemas and commit the result.');
    return 1;
  }

  for (const [file, text] of expectedJsonSchemaFiles()) {
    const path = join(dir, file);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    const state = diff.missing.includes(file) ? 'created' : diff.changed.includes(file) ? 'updated' : 'unchanged';
    console.log(`${state.padEnd(9)} ${shown(file)}`);
  }
  for (const file of diff.extra) {
    rmSync(join(dir, file));
    console.log(`${'deleted'.padEnd(9)} ${shown(file)}`);
  }
  return 0;
}

process.exitCode = main();
