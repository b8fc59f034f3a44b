// Least-privilege InfluxDB tokens on the real server, the upstream pitfall that a write token
// can also delete (POST /api/v2/delete), and its mitigation: the compose stack's writer reaches
// InfluxDB only through infra/influxdb-writer-proxy/default.conf, which passes POST
// /api/v2/write and nothing else. That same file runs here with the Debian nginx
// (infra/local/install-nginx.sh, a no-op once installed) in front of the real InfluxDB; only the
// listen address and the upstream URL are replaced.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfluxDB, Point } from '@influxdata/influxdb-client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../support/services.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const PROXY_CONF = 'infra/influxdb-writer-proxy/default.conf';
const infra = inject('infra');
const { url, org, bucket, writerToken, readerToken, adminToken } = infra.influx;
const RUN = randomBytes(4).toString('hex');
/** A measurement of this run only, two days back, so no other suite's points are touched. */
const MEASUREMENT = `security_probe_${RUN}`;
const AT = Date.now() - 2 * 86_400_000;

interface Answer {
  status: number;
  body: string;
}
async function call(base: string, method: string, path: string, token: string | undefined, body?: string, contentType = 'application/json'): Promise<Answer> {
  const res = await fetch(new URL(path, base), {
    method,
    headers: { ...(token ? { authorization: `Token ${token}` } : {}), 'content-type': contentType },
    ...(body === undefined ? {} : { body }),
  });
  return { status: res.status, body: await res.text() };
}

const q = (params: Record<string, string>) => new URLSearchParams(params).toString();
const writePath = `/api/v2/write?${q({ org, bucket, precision: 'ms' })}`;
const deletePath = `/api/v2/delete?${q({ org, bucket })}`;
const line = (value: number) => `${MEASUREMENT},run=${RUN} value=${value} ${AT}`;
const deleteBody = JSON.stringify({
  start: new Date(AT - 60_000).toISOString(),
  stop: new Date(AT + 60_000).toISOString(),
  predicate: `_measurement="${MEASUREMENT}"`,
});
const flux = `from(bucket: "${bucket}") |> range(start: ${new Date(AT - 60_000).toISOString()}, stop: ${new Date(AT + 60_000).toISOString()}) |> filter(fn: (r) => r._measurement == "${MEASUREMENT}")`;

/** The probe's values as the read-only token sees them. */
async function probeValues(): Promise<number[]> {
  const rows = await new InfluxDB({ url, token: readerToken }).getQueryApi(org).collectRows<{ _value: number }>(flux);
  return rows.map((r) => r._value).sort();
}

describe('InfluxDB tokens (real server)', () => {
  it('the writer token cannot read: a query cannot see the bucket, and the bucket list is empty', async () => {
    const query = await call(url, 'POST', `/api/v2/query?${q({ org })}`, writerToken, flux, 'application/vnd.flux');
    expect([401, 403, 404], query.body).toContain(query.status);
    expect(query.body).toMatch(/could not find bucket|unauthorized|forbidden/i);
    const buckets = await call(url, 'GET', '/api/v2/buckets', writerToken);
    expect((JSON.parse(buckets.body) as { buckets: unknown[] }).buckets).toEqual([]);
  });

  it('the reader token (api and Grafana) can neither write nor delete', async () => {
    const write = await call(url, 'POST', writePath, readerToken, line(1), 'text/plain');
    expect(write.status, write.body).toBe(403);
    const del = await call(url, 'POST', deletePath, readerToken, deleteBody);
    expect(del.status, del.body).toBe(403);
    expect(await probeValues()).toEqual([]);
  });

  it('the writer token CAN delete through /api/v2/delete: the pitfall, shown on the real server', async () => {
    expect((await call(url, 'POST', writePath, writerToken, line(41), 'text/plain')).status).toBe(204);
    expect(await probeValues()).toEqual([41]);
    const del = await call(url, 'POST', deletePath, writerToken, deleteBody);
    expect(del.status, del.body).toBe(204);
    expect(await probeValues(), 'the writer token erased the point').toEqual([]);
  });
});

describe('the writer proxy (infra/influxdb-writer-proxy, run by the Debian nginx)', () => {
  let dir: string;
  let nginx: ChildProcess | undefined;
  let proxy: string;
  let log = '';

  beforeAll(async () => {
    const bin = execFileSync('bash', [join(ROOT, 'infra/local/install-nginx.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
      .trim()
      .split('\n')
      .pop()!;
    dir = mkdtempSync(join(tmpdir(), 'lethe-writer-proxy-'));
    const port = await freePort();
    proxy = `http://127.0.0.1:${port}`;
    const conf = readFileSync(join(ROOT, PROXY_CONF), 'utf8');
    // The compose addresses, replaced once each: the rules themselves are the file's.
    for (const needle of ['listen 8086;', 'http://influxdb:8086']) expect(conf.split(needle).length - 1, `${PROXY_CONF} contains "${needle}" once`).toBe(1);
    writeFileSync(join(dir, 'server.conf'), conf.replace('listen 8086;', `listen 127.0.0.1:${port};`).replace('http://influxdb:8086', url));
    // What the nginx image's own nginx.conf provides around conf.d/*.conf.
    writeFileSync(
      join(dir, 'nginx.conf'),
      [
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/error.log warn;`,
        'events { worker_connections 64; }',
        'http {',
        ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`),
        `  include ${dir}/server.conf;`,
        '}',
      ].join('\n'),
    );
    nginx = spawn(bin, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off; master_process off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
    nginx.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    nginx.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (nginx.exitCode !== null) throw new Error(`nginx exited with ${nginx.exitCode}:\n${log}`);
      if ((await fetch(`${proxy}/ping`).catch(() => undefined))?.status === 204) break;
      if (Date.now() > deadline) throw new Error(`nginx did not answer ${proxy}/ping within 10 s:\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 120_000);

  afterAll(async () => {
    if (nginx && nginx.exitCode === null) {
      const exited = new Promise((r) => nginx!.once('exit', r));
      nginx.kill('SIGTERM');
      await exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("passes the writer's writes, as @influxdata/influxdb-client sends them", async () => {
    const writeApi = new InfluxDB({ url: proxy, token: writerToken }).getWriteApi(org, bucket, 'ms', { maxRetries: 0 });
    writeApi.writePoint(new Point(MEASUREMENT).tag('run', RUN).floatField('value', 7).timestamp(new Date(AT)));
    await writeApi.close();
    expect(await probeValues()).toEqual([7]);
  });

  it('refuses /api/v2/delete with the writer token, and the point stays', async () => {
    const del = await call(proxy, 'POST', deletePath, writerToken, deleteBody);
    expect(del.status, del.body).toBe(403);
    expect(await probeValues()).toEqual([7]);
  });

  it('refuses every other path and method, also with the admin token and with path tricks', async () => {
    const attempts: Array<[string, string, string | undefined]> = [
      ['POST', `/api/v2/query?${q({ org })}`, adminToken],
      ['GET', '/api/v2/buckets', adminToken],
      ['GET', '/api/v2/authorizations', adminToken],
      ['POST', '/api/v2/setup', undefined],
      ['GET', writePath, writerToken],
      ['PUT', writePath, writerToken],
      ['POST', `/api/v2//delete?${q({ org, bucket })}`, writerToken],
      ['POST', `/api/v2/write/../delete?${q({ org, bucket })}`, writerToken],
      ['POST', `/api/v2/%64elete?${q({ org, bucket })}`, writerToken],
      ['POST', `/api/v2/write%2F..%2Fdelete?${q({ org, bucket })}`, writerToken],
      ['POST', `/api/v2/delete?${q({ org, bucket, x: '/api/v2/write' })}`, writerToken],
      ['GET', '/', undefined],
      ['GET', '/metrics', undefined],
    ];
    for (const [method, path, token] of attempts) {
      // fetch() would normalize "/../" itself; a raw request line keeps it as an attacker sends it.
      const status = await rawStatus(proxy, method, path, token, method === 'POST' || method === 'PUT' ? deleteBody : undefined);
      expect(status, `${method} ${path}`).toBe(403);
    }
    expect(await probeValues()).toEqual([7]);
  });

  afterAll(async () => {
    // Clean up the probe directly (the admin token is the operator's, not a service's).
    await call(url, 'POST', deletePath, adminToken, deleteBody);
  });
});

/** Sends one HTTP/1.1 request with the path exactly as given (no client-side normalization). */
function rawStatus(base: string, method: string, path: string, token: string | undefined, body?: string): Promise<number> {
  const target = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(target.port), target.hostname);
    let response = '';
    socket.on('data', (d: Buffer) => (response += d.toString()));
    socket.on('error', reject);
    socket.on('end', () => {
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(response)?.[1];
      if (status) resolve(Number(status));
      else reject(new Error(`no HTTP status in: ${response.slice(0, 200)}`));
    });
    const payload = body ?? '';
    socket.end(
      [
        `${method} ${path} HTTP/1.1`,
        `Host: ${target.host}`,
        ...(token ? [`Authorization: Token ${token}`] : []),
        'Content-Type: application/json',
        `Content-Length: ${Buffer.byteLength(payload)}`,
        'Connection: close',
        '',
        payload,
      ].join('\r\n'),
    );
  });
}
