// Scenarios (seeds/scenarios.yaml): multipliers on the daily profiles of the simulated city.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export const ScenarioSchema = z
  .object({
    description: z.string(),
    hour: z.number().int().min(0).max(23).optional(),
    districts: z.array(z.string()).optional(),
    traffic: z.number().positive().default(1),
    pedestrians: z.number().positive().default(1),
    no2: z.number().positive().default(1),
    noise: z.number().positive().default(1),
    rainMmPerHour: z.number().min(0).default(0),
  })
  .strict();
export type Scenario = z.infer<typeof ScenarioSchema>;

const ScenarioFileSchema = z.object({ scenarios: z.record(z.string(), ScenarioSchema) });

export const DEFAULT_SCENARIOS_PATH = new URL('../../../seeds/scenarios.yaml', import.meta.url).pathname;

export function loadScenarios(path = DEFAULT_SCENARIOS_PATH): Record<string, Scenario> {
  const parsed = ScenarioFileSchema.safeParse(parseYaml(readFileSync(path, 'utf8')));
  if (!parsed.success) {
    throw new Error(`Invalid scenarios file ${path}:\n${parsed.error.issues.map((i) => `  - ${i.path.join('.')}: ${i.message}`).join('\n')}`);
  }
  return parsed.data.scenarios;
}

export function loadScenario(name: string, path = DEFAULT_SCENARIOS_PATH): Scenario {
  const scenarios = loadScenarios(path);
  const scenario = scenarios[name];
  if (!scenario) throw new Error(`Unknown scenario "${name}". Known: ${Object.keys(scenarios).join(', ')}`);
  return scenario;
}
