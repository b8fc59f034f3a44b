// `bash demo.sh`, the README's one command to run Lethe on a fresh machine: it finds (or
// installs) Node 24 and pnpm and the dependencies, then starts `pnpm demo`, which answers.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { freePort } from '../support/demo-process.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

describe('bash demo.sh', () => {
  it('starts the demo, which serves the register, and stops with its process group', async () => {
    const port = await freePort();
    // A process group of its own: demo.sh execs pnpm, which runs node.
    const child = spawn('bash', ['demo.sh'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '', PORT: String(port), RATE: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      const deadline = Date.now() + 90_000;
      while (!out.includes(`http://127.0.0.1:${port}/register`)) {
        if (child.exitCode !== null) throw new Error(`demo.sh exited with ${child.exitCode}:\n${out.slice(-2000)}`);
        if (Date.now() > deadline) throw new Error(`demo.sh printed no URL within 90 s:\n${out.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const res = await fetch(`http://127.0.0.1:${port}/v1/register`);
      expect(res.status).toBe(200);
    } finally {
      process.kill(-child.pid!, 'SIGTERM');
      await exited;
    }
  }, 120_000);
});
