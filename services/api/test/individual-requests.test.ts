// Finding 8 of issue 11: every request that looks for a person is audited and counted, whatever
// its spelling, method or status, before anything else can answer it; and none of what it sent
// reaches the audit log, the metrics or the logs. Also the classifier itself, on its own.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { individualBodyCategories } from '../src/data-request-body.ts';
import { classifyRequest, identifyingParams, isCategory, normalizePath, valueCategory } from '../src/identifying-params.ts';
import { expectedStatus, INDIVIDUAL_PATHS, METHODS, PLATE_REQUEST, rawRequest, SENT_VALUES } from './individual-requests-table.ts';
import { fileRequest, NOW, startTestApi, type TestApi } from './support.ts';

describe('what an individual-looking request is', () => {
  it('sees through spelling: double slashes, case, encodings, dot segments, full-width letters, extensions', () => {
    for (const path of [
      '/v1//sightings',
      '/V1/SIGHTINGS/',
      '/v1/%73ightings',
      '/v1/%2573ightings',
      '/v1/a/../sightings',
      '/v1/./sightings',
      '/v1\\sightings',
      `/v1/${encodeURIComponent('ｓｉｇｈｔｉｎｇｓ')}`,
      '/v1/sightings;x=1',
    ]) {
      expect(normalizePath(path).segments, path).toEqual(['v1', 'sightings']);
      expect(classifyRequest(path, {}).refusedRoute, path).toBe('/v1/sightings');
    }
    expect(classifyRequest('/v1/sightings.json', {}).categories).toEqual(['path:sightings']);
    expect(classifyRequest('/anything/people/x', {}).categories).toEqual(['path:people']);
  });

  it("names parameters by the api's words, never the caller's spelling", () => {
    expect(identifyingParams(['vrm', 'WiFi', 'Licence_Plate', 'plate[]', 'wifiMac', 'src_mac_addr', 'measurement', 'field', 'start', 'window'])).toEqual([
      'licenceplate',
      'mac',
      'plate',
      'vrm',
      'wifi',
    ]);
  });

  it('recognises identifiers by their shape, not ordinary values', () => {
    expect(['0A:CA:FE:12:34:56', '0a-ca-fe-12-34-56', '0aca.fe12.3456', '0acafe123456'].map(valueCategory)).toEqual(['mac', 'mac', 'mac', 'mac']);
    expect(['CZ9 QK417', 'AB1234'].map(valueCategory)).toEqual(['plate', 'plate']);
    expect(valueCategory('Qm9vbTEyMzQ1Njc4OTAxMg')).toBe('pseudonym');
    expect(valueCategory('454001234567890')).toBe('imsi');
    expect(valueCategory('+852 9123 4567')).toBe('phone');
    expect(valueCategory('alice@example.org')).toBe('email');
    for (const ordinary of ['wan-chai', 'LP-0001', 'pedestrians', '2025-06-01T10:00:00Z', '-15m', '5m', '1000', '123456789012', 'pm25_mean', 'day'])
      expect(valueCategory(ordinary), ordinary).toBeUndefined();
    // The api's own path segments are never identifiers, whatever their case.
    expect(classifyRequest('/V1/AGGREGATES', { measurement: 'pedestrians' }, new Set(['v1', 'aggregates'])).categories).toEqual([]);
  });

  it('reads a data-request body for a person without keeping anything of it', () => {
    expect(individualBodyCategories({ ...PLATE_REQUEST, from: 'x', to: 'y' })).toEqual(['body:individual', 'body:movements', 'body:plate']);
    expect(individualBodyCategories({ subject: { type: 'district', id: 'wan-chai' }, level: 'aggregate', data: ['pedestrians'] })).toEqual([]);
    expect(individualBodyCategories({ subject: { type: 'district', id: 'CZ9 QK417' }, mac: 'x' })).toEqual(['body:mac', 'value:plate']);
  });
});

describe('every individual-looking request is audited and counted once, whatever its status', () => {
  let api: TestApi;
  beforeEach(async () => {
    api = await startTestApi();
  });
  afterEach(async () => {
    await api.close();
  });

  const report = async () =>
    (await (await fetch(`${api.url}/v1/transparency-report?period=day`)).json()) as {
      totals: { routesRefused: number; requests: number; routesRefusedByCategory: Record<string, number> };
    };

  it(`${INDIVIDUAL_PATHS.length} paths × ${METHODS.length} methods: 403 or 405, one route.refused each, nothing of the value anywhere`, async () => {
    let sent = 0;
    for (const [path, kind] of INDIVIDUAL_PATHS) {
      for (const method of METHODS) {
        const before = (await api.audit.records()).length;
        const res = await rawRequest(api.url, method, path);
        sent++;
        const expected = expectedStatus(path, kind, method);
        expect(res.status, `${method} ${path}`).toBe(expected);
        if (expected === 405) expect(res.headers.allow, `${method} ${path}`).toBeTruthy();
        const records = (await api.audit.records()).slice(before);
        expect(
          records.map((r) => r.type),
          `${method} ${path}`,
        ).toEqual(['route.refused']);
        expect(records[0]!.data.method).toBe(method);
        if (method !== 'HEAD') expect(res.body, `${method} ${path}`).not.toMatch(/CZ9|QK417|0A:CA:FE|0A-CA-FE|454001234567890|alice|Qm9vbT/i);
      }
    }
    const records = await api.audit.records();
    expect(records).toHaveLength(sent);
    // Every category recorded is one the public report counts (and nothing else could be).
    const categories = [...new Set(records.flatMap((r) => r.data.params as string[]))].sort();
    expect(categories.filter((c) => !isCategory(c))).toEqual([]);
    expect(['CZ9 QK417', 'free text', 'path:anything', 'value:name', 'body:x'].filter(isCategory)).toEqual([]);
    console.log(`finding 8 (unit): categories recorded: ${categories.join(', ')}`);
    expect((await report()).totals.routesRefused).toBe(sent);
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    const everything = JSON.stringify(records) + metrics + api.logs();
    for (const value of SENT_VALUES) expect(everything, value).not.toContain(value);
    expect(everything).not.toMatch(/0a:ca:fe|0A-CA-FE/i);
    console.log(
      `finding 8 (unit): individual-looking requests sent ${sent}, audited ${records.length}, counted in the report ${(await report()).totals.routesRefused}`,
    );
  });

  it("the issue's own examples: /v1//sightings, ?vrm=, ?wifi= are refused, audited and counted", async () => {
    for (const path of [
      '/v1//sightings',
      `/v1/aggregates?measurement=vehicles&vrm=${encodeURIComponent('CZ9 QK417')}`,
      '/v1/aggregates?measurement=pedestrians&wifi=0A:CA:FE:12:34:56',
    ]) {
      expect((await rawRequest(api.url, 'GET', path)).status, path).toBe(403);
    }
    expect((await api.audit.records()).map((r) => r.data)).toEqual([
      { route: '/v1/sightings', method: 'GET', params: [] },
      { route: '/v1/aggregates', method: 'GET', params: ['vrm'] },
      { route: '/v1/aggregates', method: 'GET', params: ['wifi'] },
    ]);
    const { totals } = await report();
    expect(totals.routesRefused).toBe(3);
    // What they looked for, in the api's words (the refused route's pattern stands for path:sightings).
    expect(totals.routesRefusedByCategory).toEqual({ vrm: 1, wifi: 1 });
  });

  it('data requests about a person are counted once whatever the answer: 401, 400, 404 as attempts, 200 as requests', async () => {
    const period = { from: new Date(NOW - 86_400_000).toISOString(), to: new Date(NOW).toISOString() };
    expect((await fileRequest(api, { ...PLATE_REQUEST, ...period }, {})).status).toBe(401);
    expect((await fileRequest(api, { ...PLATE_REQUEST, ...period, extra: 1 })).status).toBe(400);
    expect((await fileRequest(api, { ...PLATE_REQUEST, ...period, subject: { type: 'device', id: 'LP-9999' } })).status).toBe(404);
    expect((await fileRequest(api, { ...PLATE_REQUEST, ...period })).status).toBe(200);
    const r = await report();
    expect(r.totals).toMatchObject({ routesRefused: 3, requests: 1 });
    expect((await api.audit.records()).filter((x) => x.type === 'route.refused').map((x) => x.data)).toEqual([
      { route: '/v1/data-requests', method: 'POST', params: ['body:individual', 'body:movements', 'body:plate'] },
      { route: '/v1/data-requests', method: 'POST', params: ['body:individual', 'body:movements', 'body:plate'] },
      { route: '/v1/data-requests', method: 'POST', params: ['body:individual', 'body:movements'] },
    ]);
    expect(JSON.stringify(await api.audit.records()) + api.logs()).not.toMatch(/CZ9|QK417/);
  });

  it('still refuses when the audit log is down (and says so in the metrics), never answers', async () => {
    await api.close();
    const { createMemoryAuditLog } = await import('@lethe/audit');
    api = await startTestApi({ audit: { ...createMemoryAuditLog(), append: () => Promise.reject(new Error('disk full')) } });
    expect((await rawRequest(api.url, 'GET', '/v1//sightings')).status).toBe(403);
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(metrics).toMatch(/lethe_api_audit_append_failures_total\{service="api"\} 1/);
    expect(metrics).toContain('lethe_api_routes_refused_total{route="/v1/sightings",service="api"} 1');
  });
});
