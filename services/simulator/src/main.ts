#!/usr/bin/env node
// lethe-simulate, the simulator service (compose `simulator`, infra/local/pipeline.sh): the
// simulated city's readings through MQTT, as the devices. The command line is `lethe simulate`'s
// (command-line.ts); here its options usually come from the environment.
import { simulateCommand, simulateHelp, SimulateUsageError } from './command-line.ts';

const PROGRAM = 'lethe-simulate';
const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(simulateHelp(PROGRAM));
} else {
  // Client ids `sim-<device>`, not `lethe simulate`'s: both may publish to the same broker at once.
  simulateCommand(args, { out: (line) => console.log(line), err: (line) => console.error(`${PROGRAM}: ${line}`) }, process.env, 'sim').then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      const usage = err instanceof SimulateUsageError;
      console.error(`${PROGRAM}: ${err instanceof Error ? err.message : String(err)}${usage ? `\nRun \`${PROGRAM} --help\` for usage.` : ''}`);
      process.exit(usage ? 2 : 1);
    },
  );
}
