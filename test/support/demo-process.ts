// `pnpm demo` as a person runs it: a real process (node services/demo/src/main.ts) on a free
// port, no servers. Resolves once the startup text is printed, with what it told: the URLs,
// the fleet secret's file and the requester tokens' files of the run.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';

const ROOT = new URL('../../', import.meta.url).pathname;
export const DEMO_MAIN = `${ROOT}services/demo/src/main.ts`;
export const CLI_MAIN = `${ROOT}services/cli/src/main.ts`;

export interface DemoProcess {
  child: ChildProcess;
  httpUrl: string;
  mqttUrl: string;
  secretsDir: string;
  fleetSecretFile: string;
  tokenFile(requesterId: string): string;
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then the exit code (or the signal) once the process is gone. */
  stop(): Promise<number | string | null>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startDemo(env: Record<string, string> = {}, timeoutMs = 60_000): Promise<DemoProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [DEMO_MAIN], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TMPDIR: process.env.TMPDIR ?? '/tmp', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not finish starting within ${timeoutMs} ms.\nstdout:\n${out}\nstderr:\n${err}`)), timeoutMs);
    const check = () => {
      if (out.includes('Ctrl-C stops the demo')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited (${code}) before it was ready.\nstdout:\n${out}\nstderr:\n${err}`));
    });
  });

  const find = (pattern: RegExp, what: string): string => {
    const match = pattern.exec(out);
    if (!match) throw new Error(`the demo's startup text does not say ${what}:\n${out}`);
    return match[1]!;
  };
  const secretsDir = find(/Secrets for this run.* in (\S+) \(removed at exit\)/, 'where the secrets are');
  return {
    child,
    httpUrl: find(/Open {2}(http:\/\/\S+)\/register/, 'what to open'),
    mqttUrl: find(/MQTT broker: (mqtt:\/\/\S+)/, 'the MQTT broker'),
    secretsDir,
    fleetSecretFile: find(/fleet secret +(\S+)/, 'the fleet secret file'),
    tokenFile: (id) => `${secretsDir}/token-${id}`,
    stdout: () => out,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Polls `check` until it returns a value (not undefined) or the time is up. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}
