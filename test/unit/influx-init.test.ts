// scripts/influx-init.ts against an InfluxDB that refuses its admin token: the case a user meets
// after `pnpm run secrets` regenerated secrets/ once the stack had started (InfluxDB keeps the
// admin token of its first start), which must say why and how to reset rather than "401".
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initInflux } from '../../scripts/influx-init.ts';

let server: Server;
let url = '';

beforeAll(async () => {
  server = createServer((_req, res) => {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ code: 'unauthorized', message: 'unauthorized access' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('influx-init', () => {
  it('says why InfluxDB refuses the admin token and how to reset, without quoting the token', async () => {
    const adminToken = 'a-token-that-must-not-appear-in-the-message';
    const error = (await initInflux({ url, adminToken, org: 'lethe', bucket: 'aggregates' }).then(
      () => undefined,
      (e: unknown) => e,
    )) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toMatch(/refused the admin token \(401/);
    expect(error.message).toMatch(/not the token InfluxDB was set up with on its first start/);
    expect(error.message).toContain('docker compose down -v');
    expect(error.message).not.toContain(adminToken);
  });
});
