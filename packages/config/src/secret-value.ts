// A secret for a command line: from a file named by a flag, else from the variable NAME or a
// file named by NAME_FILE, as every service reads its secrets (load-config.ts). Shared by the
// `lethe` commands and the simulator, so both read the fleet secret the same way.
import { readFileSync } from 'node:fs';

/** The secret, trimmed; undefined when none is given. Throws, naming the variable or file, on a contradiction or an unreadable or empty file. */
export function secretValue(name: string, file: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  // A value and a file of it at once is a mistake, not a choice.
  if (file === undefined && env[name] && env[`${name}_FILE`]) throw new Error(`set ${name} or ${name}_FILE, not both`);
  const path = file ?? env[`${name}_FILE`];
  if (path !== undefined && path !== '') {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    const value = text.trim();
    if (value === '') throw new Error(`${path} is empty`);
    return value;
  }
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}
