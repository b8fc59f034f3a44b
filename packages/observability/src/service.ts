// The one start-up of every service entry point (services/*/src/main.ts), in the manner of a
// worker's entry point: the V8 flags of infra/node-runtime.env, then the configuration (a bad one stops the process, its problems
// listed, before anything is opened), then the logger, the CPU priority (NICE), the metrics registry with the service's
// own metrics, and the ordered shutdown (SIGTERM/SIGINT handled), all handed to `run`, which
// builds the rest and passes it down. What fails during start-up is printed, message only (an
// error may quote the configuration it refused), and the process exits 1.
import { applyV8Flags, lowerCpuPriority } from '@lethe/config';
import { createLifecycle, type Lifecycle } from './lifecycle.ts';
import { createLogger, type Logger, type LoggerConfig } from './logger.ts';
import { createMetricsRegistry, type Registry } from './metrics.ts';

export interface ServiceBasics<Config, Metrics> {
  config: Config;
  logger: Logger;
  registry: Registry;
  metrics: Metrics;
  lifecycle: Lifecycle;
}

export interface ServiceDefinition<Config, Metrics> {
  /** The service's name: the logger's `service` field and the metrics' prefix. */
  name: string;
  loadConfig: () => Config;
  createMetrics: (registry: Registry) => Metrics;
}

export function runService<Config extends { LOG_LEVEL?: LoggerConfig['level']; NICE?: number }, Metrics>(
  definition: ServiceDefinition<Config, Metrics>,
  run: (basics: ServiceBasics<Config, Metrics>) => Promise<void>,
): void {
  const start = async () => {
    applyV8Flags();
    const config = definition.loadConfig();
    const logger = createLogger({ service: definition.name, level: config.LOG_LEVEL });
    if (config.NICE) logger.info({ nice: lowerCpuPriority(config.NICE) }, 'CPU priority lowered (NICE)');
    const registry = createMetricsRegistry(definition.name);
    const metrics = definition.createMetrics(registry);
    const lifecycle = createLifecycle({ logger });
    lifecycle.handleSignals();
    await run({ config, logger, registry, metrics, lifecycle });
  };
  start().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
