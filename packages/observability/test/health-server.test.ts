import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setImmediate as tick } from 'node:timers/promises';
import { pino } from 'pino';
import { Counter, Gauge, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { healthHandler, startHealthServer, type HealthOptions, type HealthServer } from '../src/health-server.ts';
import { createLifecycle } from '../src/lifecycle.ts';

const HOST = '127.0.0.1';

const started: HealthServer[] = [];
const plainServers: Server[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()));
  await Promise.all(plainServers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

async function start(options: { registry?: Registry; lifecycle?: HealthOptions['lifecycle']; port?: number } = {}): Promise<HealthServer> {
  const server = await startHealthServer({
    host: HOST,
    port: options.port ?? 0,
    registry: options.registry ?? new Registry(),
    lifecycle: options.lifecycle ?? { ready: false },
  });
  started.push(server);
  return server;
}

interface Answer {
  status: number;
  contentType: string | null;
  allow: string | null;
  body: string;
}

/** One request with a generous deadline; the body is always read so the connection is idle afterwards. */
async function request(port: number, path: string, method = 'GET'): Promise<Answer> {
  const res = await fetch(`http://${HOST}:${port}${path}`, { method, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, contentType: res.headers.get('content-type'), allow: res.headers.get('allow'), body: await res.text() };
}

describe('startHealthServer', () => {
  it('listens on 127.0.0.1 on a free port when asked for port 0, and reports that port', async () => {
    const a = await start();
    const b = await start();
    expect(Number.isInteger(a.port) && a.port > 0).toBe(true);
    expect(b.port).not.toBe(a.port);
    expect((await request(a.port, '/livez')).status).toBe(200);
    expect((await request(b.port, '/livez')).status).toBe(200);
  });

  it('answers /livez with 200 {"status":"ok"} whether or not the service is ready', async () => {
    const lifecycle = { ready: false };
    const server = await start({ lifecycle });
    const expected = { status: 200, contentType: 'application/json', allow: null, body: '{"status":"ok"}' };
    expect(await request(server.port, '/livez')).toEqual(expected);
    lifecycle.ready = true;
    expect(await request(server.port, '/livez')).toEqual(expected);
  });

  it('answers /readyz with 503 until ready, 200 while ready and 503 again once not ready, asking on every request', async () => {
    const lifecycle = { ready: false };
    const server = await start({ lifecycle });
    const notReady = { status: 503, contentType: 'application/json', allow: null, body: '{"status":"not ready"}' };
    const ready = { status: 200, contentType: 'application/json', allow: null, body: '{"status":"ready"}' };

    expect(await request(server.port, '/readyz')).toEqual(notReady);
    lifecycle.ready = true;
    expect(await request(server.port, '/readyz')).toEqual(ready);
    expect(await request(server.port, '/readyz')).toEqual(ready);
    lifecycle.ready = false;
    expect(await request(server.port, '/readyz')).toEqual(notReady);
  });

  it('follows a real lifecycle: 503 before markReady, 200 after, 503 as soon as shutdown begins while /livez stays 200', async () => {
    const lifecycle = createLifecycle({ logger: pino({ level: 'silent' }) });
    let releaseHook!: () => void;
    const hookHeld = new Promise<void>((resolve) => (releaseHook = resolve));
    let hookStarted = false;
    lifecycle.onShutdown('stop input', () => {
      hookStarted = true;
      return hookHeld;
    });
    const server = await start({ lifecycle });

    expect((await request(server.port, '/readyz')).status).toBe(503);
    lifecycle.markReady();
    expect((await request(server.port, '/readyz')).status).toBe(200);

    const done = lifecycle.shutdown('test');
    try {
      for (let i = 0; i < 5 && !hookStarted; i++) await tick();
      expect(hookStarted).toBe(true);
      expect(await request(server.port, '/readyz')).toMatchObject({ status: 503, body: '{"status":"not ready"}' });
      expect(await request(server.port, '/livez')).toMatchObject({ status: 200, body: '{"status":"ok"}' });
    } finally {
      releaseHook();
      await done;
    }
    expect((await request(server.port, '/readyz')).status).toBe(503);
  });

  it('serves /metrics from the registry with its content type, reflecting the current values', async () => {
    const registry = new Registry();
    const counter = new Counter({ name: 'lethe_test_requests_total', help: 'Requests seen by the test.', labelNames: ['route'], registers: [registry] });
    counter.labels('a').inc(3);
    const server = await start({ registry });

    const first = await request(server.port, '/metrics');
    expect(first.status).toBe(200);
    expect(first.contentType).toBe(registry.contentType);
    expect(first.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(first.body).toBe(await registry.metrics());
    expect(first.body).toContain('# HELP lethe_test_requests_total Requests seen by the test.');
    expect(first.body).toContain('# TYPE lethe_test_requests_total counter');
    expect(first.body).toContain('lethe_test_requests_total{route="a"} 3');

    counter.labels('a').inc(2);
    counter.labels('b').inc();
    const second = await request(server.port, '/metrics');
    expect(second.body).toContain('lethe_test_requests_total{route="a"} 5');
    expect(second.body).toContain('lethe_test_requests_total{route="b"} 1');
  });

  it('answers /metrics with 500 and no metrics when collecting them fails', async () => {
    const registry = new Registry();
    new Counter({ name: 'lethe_test_fine_total', help: 'h', registers: [registry] });
    new Gauge({
      name: 'lethe_test_broken',
      help: 'h',
      registers: [registry],
      collect() {
        throw new Error('collect failed');
      },
    });
    const server = await start({ registry });
    const answer = await request(server.port, '/metrics');
    expect(answer.status).toBe(500);
    expect(answer.body).toBe('');
  });

  it('ignores the query string on the health paths', async () => {
    const server = await start({ lifecycle: { ready: true } });
    expect(await request(server.port, '/livez?verbose=1')).toMatchObject({ status: 200, body: '{"status":"ok"}' });
    expect(await request(server.port, '/readyz?probe=lb')).toMatchObject({ status: 200, body: '{"status":"ready"}' });
    expect((await request(server.port, '/metrics?name[]=x')).status).toBe(200);
  });

  it.each(['/', '/health', '/livez/', '/LIVEZ', '/readyzz', '/metrics.txt', '/livez/extra', '/x?path=/livez'])(
    'answers the unknown path %s with 404 {"error":"not found"}',
    async (path) => {
      const server = await start({ lifecycle: { ready: true } });
      expect(await request(server.port, path)).toEqual({ status: 404, contentType: 'application/json', allow: null, body: '{"error":"not found"}' });
    },
  );

  it.each(['POST', 'PUT', 'DELETE', 'PATCH'])('answers %s on a health path with 405 and Allow: GET, HEAD, but 404 on an unknown path', async (method) => {
    const server = await start({ lifecycle: { ready: true } });
    for (const path of ['/livez', '/readyz', '/metrics']) {
      expect(await request(server.port, path, method), path).toEqual({ status: 405, contentType: null, allow: 'GET, HEAD', body: '' });
    }
    expect((await request(server.port, '/elsewhere', method)).status).toBe(404);
  });

  it('answers HEAD with the status and content type of GET and no body', async () => {
    const registry = new Registry();
    new Counter({ name: 'lethe_test_head_total', help: 'h', registers: [registry] }).inc();
    const lifecycle = { ready: false };
    const server = await start({ registry, lifecycle });
    expect(await request(server.port, '/livez', 'HEAD')).toMatchObject({ status: 200, contentType: 'application/json', body: '' });
    expect(await request(server.port, '/readyz', 'HEAD')).toMatchObject({ status: 503, contentType: 'application/json', body: '' });
    lifecycle.ready = true;
    expect(await request(server.port, '/readyz', 'HEAD')).toMatchObject({ status: 200, body: '' });
    expect(await request(server.port, '/metrics', 'HEAD')).toMatchObject({ status: 200, contentType: registry.contentType, body: '' });
  });

  it('rejects when the port is taken, and the server holding it keeps serving', async () => {
    const first = await start();
    await expect(start({ port: first.port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect((await request(first.port, '/livez')).status).toBe(200);
  });

  it('stops accepting connections once close() resolves', async () => {
    const server = await startHealthServer({ host: HOST, port: 0, registry: new Registry(), lifecycle: { ready: true } });
    try {
      expect((await request(server.port, '/livez')).status).toBe(200);
    } finally {
      await server.close();
    }
    await expect(request(server.port, '/livez')).rejects.toThrow();
  });
});

describe('healthHandler mounted in another HTTP server', () => {
  it('answers the health paths and returns true, and returns false leaving every other request to the app', async () => {
    const registry = new Registry();
    new Counter({ name: 'lethe_test_mounted_total', help: 'h', registers: [registry] }).inc(7);
    const handle = healthHandler({ registry, lifecycle: { ready: true } });
    const handled: Array<[string, boolean]> = [];
    const server = createServer((req, res) => {
      const ok = handle(req, res);
      handled.push([`${req.method} ${req.url}`, ok]);
      if (!ok) res.writeHead(418, { 'content-type': 'text/plain' }).end('app');
    });
    plainServers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, HOST, () => resolve());
    });
    const { port } = server.address() as AddressInfo;

    expect(await request(port, '/livez')).toMatchObject({ status: 200, body: '{"status":"ok"}' });
    expect(await request(port, '/readyz')).toMatchObject({ status: 200, body: '{"status":"ready"}' });
    const metrics = await request(port, '/metrics');
    expect(metrics).toMatchObject({ status: 200, contentType: registry.contentType });
    expect(metrics.body).toContain('lethe_test_mounted_total 7');
    expect(await request(port, '/livez', 'POST')).toMatchObject({ status: 405, allow: 'GET, HEAD' });
    expect(await request(port, '/api/things')).toEqual({ status: 418, contentType: 'text/plain', allow: null, body: 'app' });
    expect(await request(port, '/api/things', 'POST')).toMatchObject({ status: 418, body: 'app' });

    expect(handled).toEqual([
      ['GET /livez', true],
      ['GET /readyz', true],
      ['GET /metrics', true],
      ['POST /livez', true],
      ['GET /api/things', false],
      ['POST /api/things', false],
    ]);
  });
});
