// The `lethe` dispatcher: picks the subcommand whose name the arguments start with, and lists
// every subcommand with an example for --help (in the manner of MQTT.js's bin/mqtt).
import { EXIT, UsageError, type CliIo, type Command } from './command.ts';
import { auditVerify } from './commands/audit-verify.ts';
import { publish } from './commands/publish.ts';
import { register } from './commands/register.ts';
import { request } from './commands/request.ts';
import { simulate } from './commands/simulate.ts';

export const COMMANDS: readonly Command[] = [publish, simulate, register, request, auditVerify];

function usage(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.join(' ').length));
  return [
    'Usage: lethe <command> [options]',
    '',
    'The command line of Lethe, a privacy-preserving smart-city sensor pipeline.',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.join(' ').padEnd(width)}  ${c.summary}`),
    '',
    'Examples:',
    ...commands.map((c) => `  ${c.example}`),
    '',
    'Try them against `pnpm demo`, which prints the secrets and tokens of its run.',
    'Run `lethe <command> --help` for the options of a command.',
  ].join('\n');
}
/** Runs the command line (arguments after the program name); returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo, commands: readonly Command[] = COMMANDS): Promise<number> {
  if (argv.length === 1 && ['--help', '-h', 'help'].includes(argv[0]!)) {
    io.out(usage(commands));
    return EXIT.ok;
  }
  const command = commands.find((c) => c.name.every((word, i) => argv[i] === word));
  if (!command) {
    const words = argv.filter((a) => !a.startsWith('-'));
    const group = commands.filter((c) => words.length > 0 && c.name.slice(0, words.length).every((w, i) => words[i] === w));
    io.err(
      argv.length === 0
        ? usage(commands)
        : group.length > 0
          ? usage(group)
          : `lethe: unknown command "${words.join(' ') || argv.join(' ')}"\n\n${usage(commands)}`,
    );
    return EXIT.error;
  }
  const args = argv.slice(command.name.length);
  if (args.includes('--help') || args.includes('-h')) {
    io.out(command.help);
    return EXIT.ok;
  }
  try {
    return await command.run(args, io);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`lethe ${command.name.join(' ')}: ${err.message}\nRun \`lethe ${command.name.join(' ')} --help\` for usage.`);
    return EXIT.error;
  }
}
