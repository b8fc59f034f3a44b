// The simulator as a library, for `lethe simulate`, the one-process demo, the bench and the
// tests: the simulated city, its MQTT publisher, scenarios, a run loop and the one command line.
export { createCity } from './city.ts';
export type { SimulatedReading } from './city.ts';
export { createFleetPublisher, shardOf } from './publisher.ts';
export type { FleetPublisher } from './publisher.ts';
export { createRandom } from './random.ts';
export type { Random } from './random.ts';
export { loadScenario, loadScenarios } from './scenarios.ts';
export type { Scenario } from './scenarios.ts';
export { runSimulation } from './run.ts';
export { simulateCommand, simulateHelp, SimulateUsageError } from './command-line.ts';
