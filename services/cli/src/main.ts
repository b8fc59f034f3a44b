#!/usr/bin/env node
// `lethe` — operator tools for the Lethe pipeline. See cli.ts for the subcommands.
import { runCli } from './cli.ts';

const io = { out: (line: string) => console.log(line), err: (line: string) => console.error(line) };
// Should the event loop ever run dry before a command settles, that is not a success.
process.exitCode = 2;

runCli(process.argv.slice(2), io).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`lethe: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 2;
  },
);
