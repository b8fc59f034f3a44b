// What every subcommand provides, so the dispatcher (cli.ts) can list, select and run it
// without knowing any of them. A new subcommand is one file under commands/ plus one line in
// cli.ts's COMMANDS.

export interface CliIo {
  /** A line of the command's result (stdout). */
  out(line: string): void;
  /** A line of diagnostics or help shown on error (stderr). */
  err(line: string): void;
}

/** Exit codes shared by every subcommand. */
export const EXIT = {
  ok: 0,
  /** The command ran and found a problem (e.g. a broken audit chain). */
  failed: 1,
  /** The command could not run: bad arguments, an unreadable file. */
  error: 2,
} as const;

export interface Command {
  /** The words that select it, e.g. ['audit', 'verify']. */
  name: readonly string[];
  /** One line for the command list. */
  summary: string;
  /** Full help: usage, options, examples. */
  help: string;
  /** One example for the command list. */
  example: string;
  /** Runs with the arguments after its name; returns the exit code. */
  run(args: string[], io: CliIo): Promise<number>;
}

/** Thrown for bad arguments: the dispatcher prints it with a pointer to --help and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
