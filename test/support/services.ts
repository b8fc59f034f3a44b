// The one launcher of Lethe's services as real child processes (node runs the TypeScript
// directly), for the tests, the fault suite and the bench: it waits for /readyz and keeps the
// service's output, in memory for assertions (no identifier may appear in it) or in a log file
// when the caller runs long enough for memory to matter.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { nodeRuntimeEnv } from '@lethe/config';

const ROOT = new URL('../../', import.meta.url).pathname;

/** The InfluxDB variables of the writer (with the write-only token) or the api (the read-only one). */
export function influxEnv(
  influx: { url: string; org: string; bucket: string; writerToken: string; readerToken: string },
  service: 'writer' | 'api',
): Record<string, string> {
  return {
    INFLUX_URL: influx.url,
    INFLUX_ORG: influx.org,
    INFLUX_BUCKET: influx.bucket,
    INFLUX_TOKEN: service === 'writer' ? influx.writerToken : influx.readerToken,
  };
}

export interface RunningService {
  name: string;
  port: number;
  process: ChildProcess;
  /** Everything it printed (stdout and stderr, in order); from the log file when there is one. */
  output: () => string;
  /** SIGTERM, then SIGKILL after 20 s; resolves when it has exited. */
  stop: () => Promise<void>;
}

export interface ServiceOptions {
  /** How long /readyz may take (60 s). */
  readyTimeoutMs?: number;
  /** Its HTTP port; a free one by default. A fixed port in use is an error, not a service that never answers. */
  port?: number;
  /** Write the output to this file instead of keeping it in memory. */
  logFile?: string;
  /** Options for node before the script (--cpu-prof, …). */
  nodeArgs?: string[];
  /** Called with the child as soon as it is spawned (the bench keeps them, to kill on SIGINT). */
  onSpawn?: (child: ChildProcess) => void;
}

function listen(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const { port: bound } = server.address() as { port: number };
      server.close(() => resolve(bound));
    });
  });
}

export const freePort = (): Promise<number> => listen(0);

export async function startService(name: string, env: Record<string, string>, options: ServiceOptions = {}): Promise<RunningService> {
  const { readyTimeoutMs = 60_000, logFile } = options;
  let port: number;
  if (options.port === undefined) port = await freePort();
  else {
    port = options.port;
    await listen(port).catch((err: unknown) => {
      throw new Error(`port 127.0.0.1:${port} for the ${name} is in use (${(err as Error).message})`, { cause: err });
    });
  }
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), `services/${name}/src/main.ts`], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...nodeRuntimeEnv(), HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port), LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  options.onSpawn?.(child);
  let output: () => string;
  if (logFile) {
    const file = createWriteStream(logFile);
    child.stdout!.pipe(file);
    child.stderr!.pipe(file);
    output = () => {
      try {
        return readFileSync(logFile, 'utf8');
      } catch {
        return '';
      }
    };
  } else {
    let text = '';
    child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
    output = () => text;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const where = logFile ? ` (log: ${logFile})` : '';
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${name} exited with ${child.exitCode ?? child.signalCode} before it was ready${where}:\n${output().slice(-3000)}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} was not ready within ${readyTimeoutMs} ms${where}:\n${output().slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    name,
    port,
    process: child,
    output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
