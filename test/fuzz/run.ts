// Coverage-guided fuzzing of the parsers at Lethe's trust boundaries with Jazzer.js (libFuzzer
// in-process, edge coverage of our code and zod). Bounded by time; the committed corpus in
// test/fuzz/corpus/<target>/ seeds each run and keeps the inputs that found new coverage.
//
//   pnpm fuzz                          every target, 60 s each
//   pnpm fuzz --time 300 --target ingest
//   pnpm fuzz --seed                   (re)write the seed inputs (catalogue, fast-check, policy)
//
// A finding (an exception from a target: a crash or a broken invariant, see targets.ts) stops
// the run with a non-zero exit; the input is saved under test/fuzz/findings/ to be fixed and
// then added to the corpus and the bad-input catalogue.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FUZZ_TARGET_NAMES, type FuzzTargetName } from './targets.ts';
import { loadableJazzerAddon } from './jazzer/patch-addon.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const HERE = join(ROOT, 'test/fuzz');
export const CORPUS_DIR = join(HERE, 'corpus');
/** Largest input kept in the committed corpus, and the budget of each target's corpus (bytes and files). */
export const MAX_INPUT_BYTES = 16 * 1024;
export const MAX_CORPUS_BYTES = 100 * 1024;
export const MAX_CORPUS_FILES = 300;

const USAGE = `Usage: pnpm fuzz [--time SECONDS] [--target NAME]... [--seed]

  --time SECONDS   fuzzing time per target (default 60)
  --target NAME    only this target (repeatable): ${FUZZ_TARGET_NAMES.join(', ')}
  --seed           write the seed inputs into test/fuzz/corpus/ and exit

Examples:
  pnpm fuzz
  pnpm fuzz --time 300 --target ingest`;

export interface FuzzRun {
  target: FuzzTargetName;
  seconds: number;
  executions: number;
  execPerSecond: number;
  /** libFuzzer's edge coverage and features at the end of the run. */
  coverage: number;
  features: number;
  newInputs: number;
  corpusFiles: number;
  corpusBytes: number;
  finding?: string;
}

function corpusOf(target: FuzzTargetName): string {
  return join(CORPUS_DIR, target);
}

function filesIn(dir: string): string[] {
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => !f.startsWith('.'))
        .map((f) => join(dir, f))
    : [];
}

/**
 * Adds inputs to a corpus under its budget, named by their hash as libFuzzer does. Every input
 * libFuzzer saved reached new coverage when it was found (libFuzzer's merge, which would pick a
 * minimal covering set, does not work in-process under Jazzer.js), so the budget keeps the
 * smallest: cheap to replay, each still a distinct path.
 */
export function keepInputs(target: FuzzTargetName, inputs: readonly string[]): number {
  const dir = corpusOf(target);
  mkdirSync(dir, { recursive: true });
  let bytes = filesIn(dir).reduce((n, f) => n + statSync(f).size, 0);
  let files = filesIn(dir).length;
  let added = 0;
  for (const file of [...inputs].sort((a, b) => statSync(a).size - statSync(b).size)) {
    const size = statSync(file).size;
    if (size > MAX_INPUT_BYTES || bytes + size > MAX_CORPUS_BYTES || files >= MAX_CORPUS_FILES) continue;
    const name = createHash('sha1').update(readFileSync(file)).digest('hex');
    if (existsSync(join(dir, name))) continue;
    copyFileSync(file, join(dir, name));
    bytes += size;
    files++;
    added++;
  }
  return added;
}

async function fuzz(target: FuzzTargetName, seconds: number, addon: { path: string; patched: boolean }): Promise<FuzzRun> {
  const work = mkdtempSync(join(tmpdir(), `lethe-fuzz-${target}-`));
  const artifacts = join(work, 'artifacts');
  const found = join(work, 'found');
  mkdirSync(artifacts);
  mkdirSync(found);
  const cli = join(createRequire(import.meta.url).resolve('@jazzer.js/core/package.json'), '../dist/cli.js');
  const args = [
    '--disable-warning=ExperimentalWarning',
    '--import',
    join(HERE, 'jazzer/preload.mjs'),
    cli,
    join(HERE, 'jazzer/entry.mjs'),
    found,
    corpusOf(target),
    // Coverage of our code and of zod, whose schemas are most of the parsing.
    '-i',
    join(ROOT, 'packages/'),
    '-i',
    join(ROOT, 'test/fuzz/'),
    '-i',
    '/zod@',
    '-e',
    '/@jazzer.js/',
    ...(target === 'ingest' ? [] : ['--sync']),
    '--timeout',
    '10000',
    '--',
    `-max_total_time=${seconds}`,
    `-artifact_prefix=${artifacts}/`,
    `-dict=${join(HERE, 'dictionaries', `${target}.dict`)}`,
    '-print_final_stats=1',
    // Comparison operands count as coverage: guides inputs towards the boundaries the invariants check.
    '-use_value_profile=1',
  ];
  const env = { ...process.env, LETHE_FUZZ_TARGET: target, ...(addon.patched ? { LETHE_JAZZER_ADDON: addon.path } : {}) };
  const started = performance.now();
  const output = await new Promise<{ code: number | null; text: string }>((resolve) => {
    const child = spawn(process.execPath, args, { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    const keep = (d: Buffer) => {
      text += d.toString();
      for (const line of d.toString().split('\n'))
        if (/INITED|DONE|NEW_FUNC|==\d+== |Error|Finding/.test(line)) process.stderr.write(`[${target}] ${line.slice(0, 200)}\n`);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('exit', (code) => resolve({ code, text }));
  });
  const elapsed = Math.max(1, Math.round((performance.now() - started) / 1000));
  const last = [...output.text.matchAll(/#(\d+)\s+(?:DONE|pulse|NEW|REDUCE|INITED)\s+cov: (\d+) ft: (\d+)/g)].at(-1);
  const runs = /Done (\d+) runs in (\d+) second/.exec(output.text) ?? /stat::number_of_executed_units: (\d+)/.exec(output.text);
  const executions = Number(runs?.[1] ?? last?.[1] ?? 0);
  const newInputs = filesIn(found);
  const crashes = filesIn(artifacts);
  let finding: string | undefined;
  if (crashes.length > 0 || (output.code !== 0 && output.code !== null)) {
    const dir = join(HERE, 'findings');
    mkdirSync(dir, { recursive: true });
    for (const c of crashes) copyFileSync(c, join(dir, `${target}-${c.split('/').pop()}`));
    const message = /==\d+== (.*)/.exec(output.text)?.[1] ?? /(Error.*)/.exec(output.text)?.[1] ?? `exit code ${output.code}`;
    finding = `${message}${crashes.length > 0 ? ` (input saved in test/fuzz/findings/)` : ''}`;
  }
  // Inputs libFuzzer saved because they reached new coverage (it replaces them by smaller ones as it goes).
  const added = keepInputs(target, newInputs);
  const corpus = filesIn(corpusOf(target));
  rmSync(work, { recursive: true, force: true });
  return {
    target,
    seconds: elapsed,
    executions,
    execPerSecond: Math.round(executions / elapsed),
    coverage: Number(last?.[2] ?? 0),
    features: Number(last?.[3] ?? 0),
    newInputs: added,
    corpusFiles: corpus.length,
    corpusBytes: corpus.reduce((n, f) => n + statSync(f).size, 0),
    ...(finding ? { finding } : {}),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      time: { type: 'string', default: '60' },
      target: { type: 'string', multiple: true },
      seed: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const seconds = Number(values.time);
  if (!Number.isInteger(seconds) || seconds < 1) throw new Error(`--time must be a whole number of seconds, at least 1 (got "${values.time}")\n\n${USAGE}`);
  const targets = (values.target ?? [...FUZZ_TARGET_NAMES]) as FuzzTargetName[];
  for (const t of targets) if (!(FUZZ_TARGET_NAMES as readonly string[]).includes(t)) throw new Error(`unknown target "${t}"\n\n${USAGE}`);
  if (values.seed) {
    const { writeSeeds } = await import('./seeds.ts');
    for (const t of targets) console.log(`${t}: ${await writeSeeds(t)} seed inputs written to ${corpusOf(t)}`);
    return;
  }
  const addon = loadableJazzerAddon();
  if (addon.patched)
    console.error(`[fuzz] Jazzer.js's addon needs glibc 2.38; using a copy patched for this glibc (test/fuzz/jazzer/patch-addon.ts): ${addon.path}`);
  const results: FuzzRun[] = [];
  for (const t of targets) {
    const run = await fuzz(t, seconds, addon);
    results.push(run);
    if (run.finding) break;
  }
  const table = [
    '| target | time | executions | exec/s | edges (cov) | features (ft) | new inputs kept | corpus files | corpus size | finding |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${r.target} | ${r.seconds} s | ${r.executions} | ${r.execPerSecond} | ${r.coverage} | ${r.features} | ${r.newInputs} | ${r.corpusFiles} | ${Math.round(r.corpusBytes / 1024)} KiB | ${r.finding ?? 'none'} |`,
    ),
  ].join('\n');
  console.log(table);
  writeFileSync(
    join(HERE, 'last-run.md'),
    `# Last fuzz run\n\n${new Date().toISOString()}, Jazzer.js ${addon.patched ? '(addon patched for glibc < 2.38)' : ''}\n\n${table}\n`,
  );
  if (results.some((r) => r.finding)) process.exit(1);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
