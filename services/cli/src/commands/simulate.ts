// `lethe simulate`: the simulator's command line (services/simulator/src/command-line.ts, which
// the simulator service runs too), with the dispatcher's usage errors and exit codes.
import { simulateCommand, simulateHelp, SimulateUsageError } from '@lethe/simulator';
import { UsageError, type Command } from '../command.ts';

export const simulate: Command = {
  name: ['simulate'],
  summary: 'run the simulated city against a broker, with progress',
  example: 'lethe simulate --scenario rush-hour --ticks 60    (FLEET_SECRET_FILE=… and --url as needed)',
  help: simulateHelp('lethe simulate'),
  async run(args, io) {
    try {
      return await simulateCommand(args, { out: (line) => io.out(line), err: (line) => io.err(`lethe simulate: ${line}`) });
    } catch (err) {
      if (err instanceof SimulateUsageError) throw new UsageError(err.message);
      throw err;
    }
  },
};
