// Starts Lethe's services as real child processes (node runs the TypeScript directly), waits
// for /readyz, and keeps their output for assertions (no identifier may appear in it).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { nodeRuntimeEnv } from '@lethe/config';

const ROOT = new URL('../../', import.meta.url).pathname;

export interface RunningService {
  name: string;
  port: number;
  process: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}

export async function startService(name: string, env: Record<string, string>, readyTimeoutMs = 60_000): Promise<RunningService> {
  const port = await freePort();
  const child = spawn(process.execPath, [`services/${name}/src/main.ts`], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...nodeRuntimeEnv(), HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port), LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} before it was ready:\n${output.slice(-3000)}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} was not ready within ${readyTimeoutMs} ms:\n${output.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    name,
    port,
    process: child,
    output: () => output,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
