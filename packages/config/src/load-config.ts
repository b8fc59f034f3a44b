// Reads a service's configuration from environment variables through one zod object schema.
// Every problem is reported at once (fail fast, fix once), and any variable may instead be
// given as `<NAME>_FILE` pointing at a file, which is how Docker secrets are mounted.
import { readFileSync } from 'node:fs';
import { z } from 'zod';

export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(service: string, problems: readonly string[]) {
    super(`Invalid configuration for ${service}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Env = Readonly<Record<string, string | undefined>>;

export function loadConfig<Shape extends z.ZodRawShape>(service: string, schema: z.ZodObject<Shape>, env: Env = process.env): z.infer<z.ZodObject<Shape>> {
  const problems: string[] = [];
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) {
    const direct = env[key];
    const file = env[`${key}_FILE`];
    if (direct !== undefined && file !== undefined) {
      problems.push(`${key}: set either ${key} or ${key}_FILE, not both`);
      continue;
    }
    if (file !== undefined) {
      try {
        input[key] = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
      } catch (err) {
        problems.push(`${key}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
    } else if (direct !== undefined && direct !== '') {
      input[key] = direct;
    }
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    // zod messages name the expectation, not the received value, so secrets stay out of them.
    for (const issue of parsed.error.issues) {
      const key = issue.path.join('.') || '(root)';
      problems.push(`${key}: ${input[key] === undefined && issue.code === 'invalid_type' ? 'is required' : issue.message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(service, problems);
  return (parsed as { data: z.infer<z.ZodObject<Shape>> }).data;
}
