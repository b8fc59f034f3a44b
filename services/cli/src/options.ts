// What several subcommands share: argument errors as UsageError, secrets from a flag, the
// environment or a file (`NAME`, `NAME_FILE`, as every service reads them), the api's address,
// and JSON over HTTP with errors a person can act on.
import { secretValue } from '@lethe/config';
import { UsageError } from './command.ts';

/** Runs an argument parser (node:util parseArgs); its errors become usage errors (exit 2). */
export function parseOrUsage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/**
 * A secret from a file named on the command line, else from the variable `name` or a file named
 * by `${name}_FILE`; undefined when none has one.
 */
export function readSecret(name: string, file: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  try {
    return secretValue(name, file, env);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export const DEFAULT_API_URL = 'http://127.0.0.1:8080';

/** The api's base URL from --api, LETHE_API_URL or the default, without a trailing slash. */
export function apiBase(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  const text = flag ?? env.LETHE_API_URL ?? DEFAULT_API_URL;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--api must be a URL like ${DEFAULT_API_URL}, not "${text}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--api must be an http(s) URL, not "${text}"`);
  return url.href.replace(/\/+$/, '');
}

/** Thrown when the api cannot be reached or answers something that is not JSON. */
export class ApiUnreachable extends Error {}

export async function requestJson(url: string, init: RequestInit = {}, timeoutMs = 15_000): Promise<{ status: number; body: unknown }> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json', ...init.headers } });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    throw new ApiUnreachable(`cannot reach the api at ${new URL(url).origin} (${cause}); is it running? (\`pnpm demo\` starts one on ${DEFAULT_API_URL})`);
  }
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as unknown };
  } catch {
    throw new ApiUnreachable(`${url} answered HTTP ${res.status} with something that is not JSON; is ${new URL(url).origin} Lethe's api?`);
  }
}

/** 900 → `15 min`, 45 → `45 s`. */
export function seconds(s: number): string {
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} days`;
}
