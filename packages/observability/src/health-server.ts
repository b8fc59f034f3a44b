// `/livez` (always 200 while the process runs), `/readyz` (503 until started and again once
// shutdown begins) and `/metrics` for Prometheus. `healthHandler` works on plain node:http
// requests, so Express apps mount the same handler; `startHealthServer` serves it alone for
// services that need no other HTTP.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Lifecycle } from './lifecycle.ts';

export interface HealthOptions {
  registry: Registry;
  lifecycle: Pick<Lifecycle, 'ready'>;
}

/** Answers the three health paths; returns false for any other request. */
export function healthHandler({ registry, lifecycle }: HealthOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/livez' && path !== '/readyz' && path !== '/metrics') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/livez') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else if (path === '/readyz') {
      const ok = lifecycle.ready;
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ok ? 'ready' : 'not ready' }));
    } else {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    }
    return true;
  };
}

export interface HealthServerOptions extends HealthOptions {
  host: string;
  port: number;
}

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startHealthServer({ host, port, ...options }: HealthServerOptions): Promise<HealthServer> {
  const handle = healthHandler(options);
  const server: Server = createServer((req, res) => {
    if (!handle(req, res)) res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
