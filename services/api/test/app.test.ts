import { createMemoryAuditLog, type AuditLog } from '@lethe/audit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileRequest, MIN, NOW, policy, startTestApi, TEST_REPLICATION, type TestApi } from './support.ts';

/** A plate and a MAC the tests send, to prove they are echoed nowhere. */
const PLATE = 'CZ9 QK417';
const MAC = '0A:CA:FE:12:34:56';
const plateRequest = {
  subject: { type: 'plate', value: PLATE },
  level: 'individual',
  data: ['movements'],
  purpose: 'criminal-investigation',
  from: new Date(NOW - 7 * 86_400_000).toISOString(),
  to: new Date(NOW).toISOString(),
};

let api: TestApi;
beforeEach(async () => {
  api = await startTestApi();
});
afterEach(async () => {
  await api.close();
});

const get = (path: string, init?: RequestInit) => fetch(`${api.url}${path}`, init);
const json = async (res: Response) => (await res.json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Everything the api could leak through: its audit log, metrics and log lines. */
async function everywhere(): Promise<string> {
  const metrics = await (await get('/metrics')).text();
  return JSON.stringify(await api.audit.records()) + metrics + api.logs();
}

describe('health', () => {
  it('answers /livez, /readyz and /metrics', async () => {
    expect((await get('/livez')).status).toBe(200);
    expect(await json(await get('/readyz'))).toEqual({ status: 'ready' });
    const metrics = await (await get('/metrics')).text();
    expect(metrics).toContain('lethe_api_http_requests_total');
    expect(metrics).toContain('service="api"');
  });
});

describe('GET /v1/aggregates', () => {
  it('serves anonymous aggregates with the query as answered', async () => {
    const res = await get('/v1/aggregates?measurement=pedestrians&scope=district&district=wan-chai&field=people&start=-10m');
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const body = await json(res);
    expect(body.query).toMatchObject({
      measurement: 'pedestrians',
      scope: 'district',
      district: 'wan-chai',
      field: 'people',
      start: new Date(NOW - 10 * MIN).toISOString(),
      stop: new Date(NOW).toISOString(),
    });
    expect(body.data.map((r: { value: number }) => r.value)).toEqual([45, 44, 43, 42]);
    expect(body.data[0]).toMatchObject({ measurement: 'pedestrians', field: 'people', window: '60s', tags: { scope: 'district', district: 'wan-chai' } });
    expect(body.page).toEqual({ limit: 1000, offset: 0, returned: 4, next: null });
  });

  it('pages through a result with stable next links', async () => {
    const all = await json(await get('/v1/aggregates?measurement=lamppost&start=-10m'));
    const seen: unknown[] = [];
    let next: string | null = '/v1/aggregates?measurement=lamppost&start=-10m&limit=5';
    for (let i = 0; next && i < 20; i++) {
      api.setNow(NOW + i * 1000); // pages stay put as time passes: the next link has absolute times
      const page = await json(await get(next));
      seen.push(...page.data);
      next = page.page.next;
    }
    expect(seen).toEqual(all.data);
    expect(seen.length).toBe(4 * 2 * 3);
  });

  it('re-aggregates into longer windows', async () => {
    // The four stored minutes (10:00–10:03) fall into the 5-minute window from 10:00.
    const body = await json(await get('/v1/aggregates?measurement=sewer&scope=district&field=level_cm_max&start=-10m&window=5m&aggregate=max'));
    expect(body.data).toEqual([
      {
        time: '2025-06-02T10:00:00.000Z',
        measurement: 'sewer',
        field: 'level_cm_max',
        value: 55,
        window: '5m',
        tags: { scope: 'district', district: 'wan-chai' },
      },
    ]);
    const mean = await json(await get('/v1/aggregates?measurement=pedestrians&scope=district&district=wan-chai&start=-10m&window=5m'));
    expect(mean.data).toEqual([expect.objectContaining({ value: 43.5, window: '5m' })]);
    expect(mean.query).toMatchObject({ window: '5m', aggregate: 'mean' });
  });

  it('lists every problem with bad parameters, without repeating what was sent', async () => {
    const res = await get(
      `/v1/aggregates?measurement=people&district=No_where&start=yesterday&limit=0&window=7q&aggregate=median&cursor=zz&bogus${encodeURIComponent('AB1234')}=1`,
    );
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body.error).toBe('invalid query');
    expect(body.problems.map((p: string) => p.split(':')[0])).toEqual(
      expect.arrayContaining(['measurement', 'district', 'start', 'limit', 'window', 'aggregate', 'cursor']),
    );
    expect(body.problems.join('\n')).toContain('unknown parameter');
    expect(JSON.stringify(body)).not.toMatch(/nowhere|yesterday|AB1234|bogus|median|7q/);
  });

  it('requires a measurement, and answers 404 to a well-formed query for a figure the open data does not have', async () => {
    expect((await json(await get('/v1/aggregates'))).problems).toEqual([expect.stringContaining('measurement: is required')]);
    const res = await get('/v1/aggregates?measurement=sewer&scope=cell&field=people&device=LP-0001');
    expect(res.status).toBe(404);
    const body = await json(res);
    expect(body.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^scope: must be one of device, district/),
        expect.stringMatching(/^field: is not a field of sewer; its fields are readings/),
        'device: is not a sewer device',
      ]),
    );
    expect((await get('/v1/aggregates?measurement=lamppost&district=atlantis')).status).toBe(404);
    expect((await get('/v1/aggregates?measurement=lamppost&device=LP-9999')).status).toBe(404);
  });

  it('answers every schema-valid query: an empty range is empty, a long one starts at the retention, a window is rounded up', async () => {
    const empty = await get('/v1/aggregates?measurement=pedestrians&start=-1m&stop=-10m');
    expect(empty.status).toBe(200);
    expect((await json(empty)).data).toEqual([]);
    const long = await json(await get('/v1/aggregates?measurement=pedestrians&start=2000-01-01T00:00:00Z'));
    expect(long.query.start).toBe(new Date(NOW - policy.aggregates.retention).toISOString());
    const rounded = await json(await get('/v1/aggregates?measurement=sewer&scope=district&start=-10m&window=90s&aggregate=max'));
    expect(rounded.query.window).toBe('2m');
    expect((await get('/v1/aggregates?measurement=sewer&aggregate=max')).status).toBe(200);
  });

  it('answers 403 to identifier parameters, audits the attempt by name only, and never echoes the value', async () => {
    for (const param of ['plate', 'mac', 'Licence_Plate', 'pseudonym']) {
      const res = await get(`/v1/aggregates?measurement=vehicles&${param}=${encodeURIComponent(param === 'mac' ? MAC : PLATE)}`);
      expect(res.status, param).toBe(403);
      const body = await json(res);
      expect(body).toMatchObject({ error: 'individual-level data is not available', see: '/register' });
      expect(body.explanation).toContain('anonymous aggregates');
    }
    const refused = (await api.audit.records()).filter((r) => r.type === 'route.refused');
    expect(refused.map((r) => r.data)).toEqual([
      { route: '/v1/aggregates', method: 'GET', params: ['plate'] },
      { route: '/v1/aggregates', method: 'GET', params: ['mac'] },
      { route: '/v1/aggregates', method: 'GET', params: ['licenceplate'] },
      { route: '/v1/aggregates', method: 'GET', params: ['pseudonym'] },
    ]);
    const all = await everywhere();
    expect(all).not.toContain('CZ9');
    expect(all).not.toContain('0A:CA:FE');
  });

  it('refuses a per-device query of figures about people (403, audited)', async () => {
    const res = await get('/v1/aggregates?measurement=pedestrians&device=LP-0007');
    expect(res.status).toBe(403);
    expect((await json(res)).params).toEqual(['device']);
    expect((await api.audit.records()).at(-1)).toMatchObject({ type: 'route.refused', data: { route: '/v1/aggregates', params: ['device'] } });
    // Readings, though, are published per device.
    expect((await get('/v1/aggregates?measurement=lamppost&device=LP-0001&start=-10m')).status).toBe(200);
  });

  it('records every answer as an export with its query and row count', async () => {
    await get('/v1/aggregates?measurement=pedestrians&scope=district&district=wan-chai&start=-10m');
    const record = (await api.audit.records()).at(-1)!;
    expect(record).toMatchObject({ type: 'export', actor: 'api' });
    expect(record.data).toMatchObject({
      route: '/v1/aggregates',
      measurement: 'pedestrians',
      scope: 'district',
      district: 'wan-chai',
      device: null,
      rows: 4,
      limit: 1000,
      offset: 0,
    });
  });

  it('serves nothing when the audit log cannot record the export (503)', async () => {
    await api.close();
    const broken: AuditLog = { ...createMemoryAuditLog(), append: () => Promise.reject(new Error('disk full')) };
    api = await startTestApi({ audit: broken });
    const res = await get('/v1/aggregates?measurement=pedestrians&start=-10m');
    expect(res.status).toBe(503);
    expect(await json(res)).toEqual({ error: expect.stringContaining('audit log') });
  });
});

describe('routes that would expose individual-level data', () => {
  it('answers 403 on /v1/devices/LP-0001/sightings with an explanation, audited by route pattern', async () => {
    const res = await get('/v1/devices/LP-0001/sightings');
    expect(res.status).toBe(403);
    const body = await json(res);
    expect(body).toEqual({ error: 'individual-level data is not available', explanation: expect.stringContaining('pseudonymized'), see: '/register' });
    const record = (await api.audit.records()).at(-1)!;
    expect(record).toMatchObject({ type: 'route.refused', data: { route: '/v1/devices/:id/sightings', method: 'GET', params: [] } });
    expect(JSON.stringify(record)).not.toContain('LP-0001');
  });

  it('refuses the whole family, whatever the method, and a plate in the path goes nowhere', async () => {
    for (const [method, path, status] of [
      ['GET', '/v1/sightings', 403],
      ['GET', `/v1/plates/${encodeURIComponent(PLATE)}`, 403],
      ['GET', `/v1/vehicles/${encodeURIComponent(PLATE)}/trips`, 403],
      ['POST', '/v1/pseudonyms', 405],
      ['GET', '/v1/people', 403],
      ['DELETE', `/v1/macs/${encodeURIComponent(MAC)}`, 405],
    ] as const) {
      const res = await get(path, { method });
      expect(res.status, `${method} ${path}`).toBe(status);
      if (status === 405) expect(res.headers.get('allow')).toBe('GET, HEAD');
    }
    // Refused either way: every one is audited by route pattern.
    expect((await api.audit.records()).map((r) => r.data.route)).toEqual([
      '/v1/sightings',
      '/v1/plates/*rest',
      '/v1/vehicles/:id/*rest',
      '/v1/pseudonyms',
      '/v1/people',
      '/v1/macs/*rest',
    ]);
    const metrics = await (await get('/metrics')).text();
    expect(metrics).toContain('lethe_api_routes_refused_total{route="/v1/plates/*rest",service="api"} 1');
    expect(await everywhere()).not.toMatch(/CZ9|0A:CA:FE/);
  });

  it('refuses an identifier parameter on any route, matched or not', async () => {
    expect((await get(`/v1/register?plate=${encodeURIComponent(PLATE)}`)).status).toBe(403);
    expect((await get(`/v1/nothing-here?mac=${encodeURIComponent(MAC)}`)).status).toBe(403);
    expect((await api.audit.records()).map((r) => r.data.route)).toEqual(['/v1/register', 'unmatched']);
  });
});

describe('POST /v1/data-requests', () => {
  it('answers 401 without a token or with a wrong one, and audits only that a person was looked for', async () => {
    expect((await fileRequest(api, plateRequest, {})).status).toBe(401);
    const res = await fileRequest(api, plateRequest, { authorization: 'Bearer not-a-real-token-but-long-enough' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('Bearer');
    expect((await fileRequest(api, plateRequest, { authorization: 'Basic dXNlcjpwYXNz' })).status).toBe(401);
    // Each attempt at a plate's movements is counted (finding 8), by category, never by value.
    const params = ['body:individual', 'body:movements', 'body:plate'];
    expect((await api.audit.records()).map((r) => [r.type, r.data])).toEqual(
      Array.from({ length: 3 }, () => ['route.refused', { route: '/v1/data-requests', method: 'POST', params }]),
    );
    // A request about a district without a token is not about a person: nothing is recorded.
    await fileRequest(api, { ...plateRequest, subject: { type: 'district', id: 'wan-chai' }, level: 'aggregate', data: ['pedestrians'] }, {});
    expect(await api.audit.records()).toHaveLength(3);
    expect(await everywhere()).not.toMatch(/CZ9|QK417/);
  });

  it("refuses a police request for a plate's movements with reasons, and it appears in the transparency report", async () => {
    const res = await fileRequest(api, plateRequest, 'hk-police-force');
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({
      decision: 'refused',
      level: 'individual',
      requester: { id: 'hk-police-force', type: 'police' },
      report: '/v1/transparency-report',
    });
    expect(body.reasons).toEqual(['NOT_COLLECTED', 'EXPIRED', 'UNLINKABLE', 'OUT_OF_PURPOSE']);
    expect(body.details).toHaveLength(4);

    const records = await api.audit.records();
    expect(records.map((r) => r.type)).toEqual(['request.received', 'request.refused']);
    expect(records[0]!.data).toMatchObject({
      requestId: body.requestId,
      requesterType: 'police',
      requester: 'hk-police-force',
      subjectType: 'plate',
      subjectId: null,
      level: 'individual',
      data: ['movements'],
      purpose: 'criminal-investigation',
    });
    expect(records[1]!.data).toMatchObject({ requestId: body.requestId, reasons: body.reasons });

    const report = await json(await get('/v1/transparency-report'));
    expect(report.totals).toMatchObject({
      requests: 1,
      refused: 1,
      answered: 0,
      refusalsByReason: { NOT_COLLECTED: 1, EXPIRED: 1, UNLINKABLE: 1, OUT_OF_PURPOSE: 1 },
    });
    expect(report.totals.byRequesterType.police).toEqual({
      requests: 1,
      answered: 0,
      refused: 1,
      refusalsByReason: { NOT_COLLECTED: 1, EXPIRED: 1, UNLINKABLE: 1, OUT_OF_PURPOSE: 1 },
    });
    expect(report.periods).toEqual([expect.objectContaining({ period: '2025-06', requests: 1 })]);
    expect(report.audit).toEqual({ records: 2, head: await api.audit.head() });
  });

  it('never echoes the plate or MAC asked about: not in the response, the audit log, the metrics or the logs', async () => {
    const res1 = await fileRequest(api, plateRequest);
    const res2 = await fileRequest(api, { ...plateRequest, subject: { type: 'mac', value: MAC } });
    const responses = JSON.stringify([await res1.json(), await res2.json()]);
    const all = responses + (await everywhere());
    expect(all).not.toContain('CZ9');
    expect(all).not.toContain('QK417');
    expect(all).not.toMatch(/0A:CA:FE/i);
    expect((await api.audit.records()).filter((r) => r.type === 'request.received').map((r) => r.data.subjectType)).toEqual(['plate', 'mac']);
  });

  it('records only the type of a resident requester', async () => {
    await fileRequest(api, plateRequest, 'resident-demo');
    for (const r of await api.audit.records()) {
      expect(r.data.requesterType).toBe('resident');
      expect(r.data.requester).toBeNull();
    }
  });

  it('answers an aggregate request for a purpose of the policy with links into the open data that work', async () => {
    const res = await fileRequest(
      api,
      {
        subject: { type: 'district', id: 'wan-chai' },
        level: 'aggregate',
        data: ['pedestrians'],
        purpose: 'pedestrian-flow-planning',
        from: new Date(NOW - 10 * MIN).toISOString(),
        to: new Date(NOW).toISOString(),
      },
      'transport-department',
    );
    const body = await json(res);
    expect(body).toMatchObject({ decision: 'answered', level: 'aggregate', from: 'open-data' });
    expect(body.links).toHaveLength(1);
    const page = await json(await get(body.links[0]));
    expect(page.data.map((r: { value: number }) => r.value)).toEqual([45, 44, 43, 42]);
    const report = await json(await get('/v1/transparency-report'));
    expect(report.totals.byRequesterType['city-department']).toMatchObject({ requests: 1, answered: 1, refused: 0 });
  });

  it('gives only links that the open data answers, for a district and for a device', async () => {
    for (const subject of [
      { type: 'district', id: 'wan-chai' },
      { type: 'device', id: 'LP-0001' },
    ]) {
      const res = await fileRequest(
        api,
        { subject, level: 'aggregate', purpose: 'pedestrian-flow-planning', from: new Date(NOW - 10 * MIN).toISOString(), to: new Date(NOW).toISOString() },
        'transport-department',
      );
      const body = await json(res);
      expect(body.decision, JSON.stringify(body)).toBe('answered');
      expect(body.links.length).toBeGreaterThan(1);
      for (const link of body.links as string[]) expect((await get(link)).status, link).toBe(200);
    }
  });

  it('lists every problem of an invalid request, without repeating it', async () => {
    const res = await fileRequest(api, {
      subject: { type: 'district', id: 'AB 1234' },
      level: 'everything',
      data: ['faces'],
      purpose: 'curiosity',
      from: 'last week',
      extra: PLATE,
    });
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body.problems.map((p: string) => p.split(':')[0]).sort()).toEqual(['(body)', 'data', 'from', 'level', 'purpose', 'subject', 'to']);
    expect(JSON.stringify(body)).not.toMatch(/AB 1234|everything|faces|curiosity|last week|CZ9/);
    // A plate-shaped value in the body makes it an attempt to look a person up: counted by kind only.
    expect((await api.audit.records()).map((r) => r.data)).toEqual([{ route: '/v1/data-requests', method: 'POST', params: ['value:plate'] }]);
    expect(JSON.stringify(await api.audit.records())).not.toMatch(/AB 1234|CZ9/);
  });

  it('answers 400 to a body that is not JSON without quoting it, and 415 to one that is not declared JSON', async () => {
    const res = await fileRequest(api, `{"subject": {"type": "plate", "value": "${PLATE}"`);
    expect(res.status).toBe(400);
    expect(await json(res)).toEqual({ error: 'invalid data request', problems: ['(body): is not valid JSON'] });
    const text = await fetch(`${api.url}/v1/data-requests`, {
      method: 'POST',
      headers: { authorization: 'Bearer test-token-hk-police-force-0123456789abcdef', 'content-type': 'text/plain' },
      body: PLATE,
    });
    expect(text.status).toBe(415);
    expect(api.logs() + JSON.stringify(await api.audit.records())).not.toContain('CZ9');
  });

  it('decides against the current time: a plate in the current epoch is still refused, without EXPIRED or UNLINKABLE', async () => {
    const epochStart = Math.floor(NOW / policy.kinds['traffic-light'].epoch) * policy.kinds['traffic-light'].epoch;
    const body = await json(await fileRequest(api, { ...plateRequest, from: new Date(epochStart).toISOString(), to: new Date(NOW).toISOString() }));
    expect(body.reasons).toEqual(['NOT_COLLECTED', 'OUT_OF_PURPOSE']);
  });

  it('answers 503 and decides nothing when the audit log cannot record the request', async () => {
    await api.close();
    const broken: AuditLog = { ...createMemoryAuditLog(), append: () => Promise.reject(new Error('disk full')) };
    api = await startTestApi({ audit: broken });
    const res = await fileRequest(api, plateRequest);
    expect(res.status).toBe(503);
  });

  it('counts requests and refusal reasons in the metrics, by requester type and reason only', async () => {
    await fileRequest(api, plateRequest);
    const metrics = await (await get('/metrics')).text();
    expect(metrics).toContain('lethe_api_data_requests_total{requester_type="police",decision="refused",service="api"} 1');
    expect(metrics).toContain('lethe_api_data_request_refusals_total{reason="UNLINKABLE",service="api"} 1');
    expect(metrics).toContain('lethe_api_audit_appends_total{type="request.refused",service="api"} 1');
  });
});

describe('GET /v1/transparency-report', () => {
  it('reports per day, month or year, and refuses other periods', async () => {
    await fileRequest(api, plateRequest);
    await get('/v1/sightings');
    const day = await json(await get('/v1/transparency-report?period=day'));
    expect(day.periods).toEqual([expect.objectContaining({ period: '2025-06-02', requests: 1, refused: 1, routesRefused: 1 })]);
    expect((await json(await get('/v1/transparency-report?period=year'))).periods[0].period).toBe('2025');
    expect((await get('/v1/transparency-report?period=week')).status).toBe(400);
  });
});

describe('the register and the policy', () => {
  it('serves the register generated from the policy with live figures', async () => {
    await api.audit.append({
      type: 'key.destroyed',
      actor: 'gateway',
      at: NOW - 5 * MIN,
      data: { epoch: 1, kind: 'traffic-light', epochEnd: new Date(NOW - 20 * MIN).toISOString() },
    });
    // Ended too recently to be counted yet: the figures are as of NOW - 15 s rounded down to the
    // minute (10:05:00), a key goes 60 s after its epoch ends, and a key is counted one epoch
    // (15 min) later still, so the event's delivery cannot move the figure.
    await api.audit.append({
      type: 'key.destroyed',
      actor: 'gateway',
      at: NOW - 5 * MIN,
      data: { epoch: 2, kind: 'lamppost', epochEnd: new Date(NOW - MIN).toISOString() },
    });
    await fileRequest(api, plateRequest);
    const body = await json(await get('/v1/register'));
    expect(body.controller).toBe(policy.controller);
    expect(body.sensors.map((s: { kind: string }) => s.kind)).toEqual(['lamppost', 'traffic-light', 'sewer']);
    expect(body.live).toMatchObject({
      asOf: new Date(NOW - 30_000).toISOString(),
      keysDestroyed: { total: 1, latestEpochEnd: new Date(NOW - 20 * MIN).toISOString() },
      requests: { received: 1, refused: 1, refusedToday: 1, answered: 0 },
      epsilonToday: [{ stream: 'pedestrians', spentToday: 598, budgetToday: 1440 }],
      rawData: {
        ttlSeconds: 900,
        // TTL + segment + check + delete delay + lateness + future skew + the 60 s Wi-Fi sighting slot + slack.
        limitSeconds: 900 + policy.rawData.segment / 1000 + 10 + 1 + policy.rawData.maxLateness / 1000 + policy.rawData.maxFutureSkew / 1000 + 60 + 5,
        checkEverySeconds: 30,
        topics: [
          { topic: 'lethe.rejected.v1', withinLimit: null, checks: 0 },
          { topic: 'lethe.sightings.v1', withinLimit: true, checks: 2 },
        ],
      },
      retention: { periods: 0, allWithinLimit: true, latestPeriodEnd: null },
      unavailable: [],
    });
    // No time finer than the schedule's: the ε figures carry no window of their own.
    expect(body.live.epsilonToday[0]).not.toHaveProperty('asOf');
  });

  it('serves the register page for people, with the live figures and stable ids', async () => {
    await fileRequest(api, plateRequest);
    const res = await get('/register');
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const page = await res.text();
    expect(page).toContain('<html lang="en">');
    expect(page).toContain(policy.controller);
    expect(page).toMatch(/id="requests-refused" data-count="1"/);
    expect(page).toMatch(/id="keys-destroyed" data-count="0"/);
    expect(page).toMatch(/<tr data-topic="lethe.sightings.v1">.*data-within-limit="true" data-checks="2"/);
    expect(page).toMatch(/<tr data-topic="lethe.rejected.v1">.*data-within-limit="" data-checks="0">not checked/);
    expect(page).toContain(`datetime="${new Date(NOW - 30_000).toISOString()}" id="live-as-of"`);
    for (const kind of ['lamppost', 'traffic-light', 'sewer']) expect(page).toContain(`id="sensor-${kind}"`);
    for (const reason of ['NOT_COLLECTED', 'EXPIRED', 'UNLINKABLE', 'OUT_OF_PURPOSE']) expect(page).toContain(`data-reason="${reason}"`);
    expect(page).toContain('Pedestrian flow planning');
    expect(page).not.toContain('<script>');
  });

  it('still serves the register when a live source fails, and says which', async () => {
    await api.close();
    const store = { query: () => Promise.reject(new Error('down')), epsilonToday: () => Promise.reject(new Error('down')) };
    api = await startTestApi({ store });
    const body = await json(await get('/v1/register'));
    expect(body.live.epsilonToday).toBeNull();
    expect(body.live.unavailable).toEqual(['aggregate-store']);
    expect((await get('/register')).status).toBe(200);
    expect((await get('/v1/aggregates?measurement=sewer')).status).toBe(502);
  });

  it('states each topic’s replication as last read from the brokers, on the page for personal topics, and says when it is not known', async () => {
    const body = await json(await get('/v1/register'));
    const replication = (t: { topic: string; replication: unknown }) => [t.topic, t.replication];
    const expected = Object.fromEntries(body.topics.map((t: { topic: string }) => [t.topic, TEST_REPLICATION.of(t.topic)]));
    expect(Object.fromEntries(body.topics.map(replication))).toEqual(expected);
    for (const sensor of body.sensors) for (const t of sensor.storage.topics) expect(t.replication, `${sensor.kind} ${t.topic}`).toEqual(expected[t.topic]);
    const page = await (await get('/register')).text();
    expect(page).toMatch(
      /<tr data-topic="lethe.sightings.v1" data-replication-state="read" data-replicas="3" data-min-insync-replicas="2" data-unclean-leader-election="false">/,
    );
    expect(page).not.toMatch(/<tr data-topic="lethe.aggregates.v1" data-replication-state/); // not a personal topic

    // Without a source (the demo has no Kafka) every figure is unknown, and the page says so.
    await api.close();
    api = await startTestApi({ topicReplication: null });
    const unread = await json(await get('/v1/register'));
    for (const t of unread.topics) expect(t.replication).toEqual({ state: 'not-read', replicas: null, minInsyncReplicas: null, uncleanLeaderElection: null });
    expect(await (await get('/register')).text()).toMatch(/<tr data-topic="lethe.sightings.v1" data-replication-state="not-read">.*not read from the servers/);
  });

  it('serves the parsed policy', async () => {
    expect(await json(await get('/v1/policy'))).toEqual(JSON.parse(JSON.stringify(policy)));
  });
});

describe('the live city page', () => {
  it('renders one row per district with stable ids, and a script from the same origin', async () => {
    const page = await (await get('/city?refresh=5&range=-2m')).text();
    expect(page).toContain('id="city-table" data-refresh-seconds="5" data-range="-2m"');
    expect(page).toContain('id="pedestrians-wan-chai"');
    expect(page).toContain('id="sewer-level-central-western"');
    expect(page).toContain('<script src="/assets/city.js" defer></script>');
    const script = await get('/assets/city.js');
    expect(script.headers.get('content-type')).toContain('javascript');
    expect(await script.text()).toContain('fetch(url');
    expect((await get('/city?range=yesterday')).status).toBe(400);
  });

  it('points each column at a query the api answers, with the figures the page needs', async () => {
    const page = await (await get('/city')).text();
    const queries = [...page.matchAll(/data-query="([^"]+)"/g)].map((m) => m[1]!.replaceAll('&amp;', '&'));
    expect(queries).toHaveLength(4);
    for (const q of queries) {
      const body = await json(await get(`/v1/aggregates?${q}&start=-10m&limit=10000`));
      expect(body.data.length, q).toBeGreaterThan(0);
      expect(body.data.every((r: { tags: { district?: string } }) => r.tags.district)).toBe(true);
    }
  });
});

describe('HTTP', () => {
  it('answers 405 with Allow on a known path, 404 elsewhere, and redirects / to the register', async () => {
    const res = await get('/v1/data-requests');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect((await get('/v1/unknown')).status).toBe(404);
    const root = await get('/', { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/register');
  });

  it('answers HEAD wherever GET is, 405 with Allow to other methods, and lets any origin read open data and its errors', async () => {
    const head = await get('/v1/register', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    for (const method of ['DELETE', 'PUT', 'OPTIONS']) {
      const res = await get('/v1/aggregates', { method });
      expect(res.status, method).toBe(405);
      expect(res.headers.get('allow')).toBe('GET, HEAD');
      expect(await json(res)).toEqual({ error: 'method not allowed', allow: ['GET', 'HEAD'] });
    }
    const bad = await get('/v1/aggregates?measurement=pedestrians&limit=0');
    expect(bad.status).toBe(400);
    expect(bad.headers.get('access-control-allow-origin')).toBe('*');
    expect((await get('/v1/aggregates?measurement=pedestrians&plate=x')).headers.get('access-control-allow-origin')).toBe('*');
    expect((await get('/register')).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('labels request metrics with route patterns, never with ids from the path', async () => {
    await get('/v1/devices/LP-0042/sightings');
    await get('/v1/nothing/LP-0043');
    const metrics = await (await get('/metrics')).text();
    expect(metrics).toContain('route="/v1/devices/:id/sightings"');
    expect(metrics).toContain('route="unmatched"');
    expect(metrics).not.toMatch(/LP-004[23]/);
  });

  it('verifies the audit log', async () => {
    await fileRequest(api, plateRequest);
    expect(await json(await get('/v1/audit/verify'))).toEqual({ ok: true, records: 2, head: (await api.audit.head())!.hash });
  });

  it('answers 500 with a fixed message when an async handler fails, quoting nothing of the failure', async () => {
    await api.close();
    const broken: AuditLog = { ...createMemoryAuditLog(), verify: () => Promise.reject(new Error(`log unreadable near ${PLATE}`)) };
    api = await startTestApi({ audit: broken });
    const res = await get('/v1/audit/verify');
    expect(res.status).toBe(500);
    expect(await json(res)).toEqual({ error: 'internal error' });
  });
});
