// docs/openapi.yaml is a valid OpenAPI 3.1 document, its closed vocabularies are the code's, and
// real responses of every route validate against the response schemas it declares.
import { Validator } from '@seriousme/openapi-schema-validator';
import {
  OPEN_DATA_MEASUREMENTS,
  REFUSAL_REASONS,
  INDIVIDUAL_DATA,
  OTHER_PURPOSES,
  REPLICATION_STATES,
  REQUEST_LEVELS,
  requestPurposes,
  SUBJECT_TYPES,
} from '@lethe/privacy';
import addFormats from 'ajv-formats';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WINDOW_AGGREGATES } from '../src/aggregate-store.ts';
import { AGGREGATE_PARAMS } from '../src/aggregates-query.ts';
import { DATA_REQUEST_FIELDS } from '../src/data-request-body.ts';
import { loadOpenApiDocument } from '../src/openapi.ts';
import { REQUESTER_TYPES } from '../src/requesters.ts';
import { REPORT_PERIODS } from '../src/transparency-report.ts';
import { fileRequest, MIN, NOW, policy, startTestApi, type TestApi } from './support.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
const doc = loadOpenApiDocument() as any;
const schemas = doc.components.schemas as Record<string, any>;

describe('docs/openapi.yaml', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 2)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('names the same closed vocabularies as the code', () => {
    expect([...schemas.Measurement.enum].sort()).toEqual(Object.keys(OPEN_DATA_MEASUREMENTS).sort());
    expect(schemas.RefusalReason.enum).toEqual([...REFUSAL_REASONS]);
    expect(schemas.SubjectType.enum).toEqual([...SUBJECT_TYPES]);
    expect(schemas.RequestLevel.enum).toEqual([...REQUEST_LEVELS]);
    expect(schemas.RequesterType.enum).toEqual([...REQUESTER_TYPES]);
    expect(schemas.ReportPeriod.enum).toEqual([...REPORT_PERIODS]);
    expect(schemas.WindowAggregate.enum).toEqual([...WINDOW_AGGREGATES]);
    expect(schemas.TopicReplication.oneOf.flatMap((s: any) => s.properties.state.enum ?? [s.properties.state.const])).toEqual([...REPLICATION_STATES]);
    expect([...schemas.DataName.enum].sort()).toEqual([...Object.keys(INDIVIDUAL_DATA), ...Object.keys(OPEN_DATA_MEASUREMENTS)].sort());
    expect(Object.keys(schemas.DataRequest.properties)).toEqual([...DATA_REQUEST_FIELDS]);
    expect(doc.paths['/v1/aggregates'].get.parameters.map((p: { name: string }) => p.name)).toEqual([...AGGREGATE_PARAMS]);
    for (const purpose of OTHER_PURPOSES) expect(schemas.DataRequest.properties.purpose.description).toContain(purpose);
    expect(schemas.DataRequest.properties.purpose.enum).toEqual(requestPurposes(policy));
    expect(schemas.DataRequest.properties.subject.oneOf.flatMap((s: any) => s.properties.type.enum ?? [s.properties.type.const]).sort()).toEqual(
      [...SUBJECT_TYPES].sort(),
    );
  });
});

// The component schemas as one JSON Schema 2020-12 document, so response schemas can $ref them.
const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats.default(ajv);
const rewrite = (value: unknown) => JSON.parse(JSON.stringify(value).replaceAll('"#/components/schemas/', '"lethe-openapi#/$defs/')) as object;
ajv.addSchema({ $id: 'lethe-openapi', $defs: rewrite(schemas) });

function responseSpec(path: string, method: string, status: number): any {
  const responses = doc.paths[path]?.[method]?.responses;
  expect(responses, `${method.toUpperCase()} ${path} is not documented`).toBeDefined();
  let spec = responses[String(status)];
  expect(spec, `${method.toUpperCase()} ${path} → ${status} is not documented`).toBeDefined();
  if (spec.$ref) spec = doc.components.responses[spec.$ref.split('/').at(-1)];
  return spec;
}

const exercised = new Set<string>();

/** Checks a real response against the document: status, content type and body. */
async function check(path: string, method: string, res: Response): Promise<unknown> {
  const spec = responseSpec(path, method, res.status);
  exercised.add(`${method} ${path}`);
  if (spec.content === undefined) {
    expect(await res.text(), `${method} ${path} ${res.status} has no documented body`).toBe('');
    return undefined;
  }
  const type = (res.headers.get('content-type') ?? '').split(';')[0]!;
  expect(Object.keys(spec.content ?? {}), `${method} ${path} ${res.status}: content type ${type}`).toContain(type);
  const schema = spec.content[type].schema;
  const body = type === 'application/json' ? await res.json() : await res.text();
  const validate = ajv.compile(rewrite(schema));
  expect(validate(body) ? [] : validate.errors, `${method.toUpperCase()} ${path} → ${res.status}: ${JSON.stringify(body).slice(0, 500)}`).toEqual([]);
  return body;
}

describe('real responses of every route match the document', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi();
  });
  afterAll(async () => {
    await api.close();
  });
  const get = (p: string) => fetch(`${api.url}${p}`);
  const individual = {
    subject: { type: 'plate', value: 'CZ9 QK417' },
    level: 'individual',
    data: ['movements'],
    purpose: 'criminal-investigation',
    from: new Date(NOW - 86_400_000).toISOString(),
    to: new Date(NOW).toISOString(),
  };
  const aggregate = {
    subject: { type: 'district', id: 'wan-chai' },
    level: 'aggregate',
    purpose: 'flood-warning',
    from: new Date(NOW - 10 * MIN).toISOString(),
    to: new Date(NOW).toISOString(),
  };

  it('GET /v1/aggregates: 200, 400, 403', async () => {
    for (const q of [
      'measurement=pedestrians&start=-10m',
      'measurement=travel_times&district=wan-chai&start=-10m',
      'measurement=lamppost&start=-10m&limit=3',
      'measurement=sewer&start=-10m&window=5m&aggregate=sum',
      'measurement=vehicles&start=-1d&stop=-1h',
    ]) {
      await check('/v1/aggregates', 'get', await get(`/v1/aggregates?${q}`));
    }
    await check('/v1/aggregates', 'get', await get('/v1/aggregates?measurement=nope'));
    await check('/v1/aggregates', 'get', await get('/v1/aggregates?measurement=lamppost&field=people'));
    await check('/v1/aggregates', 'get', await get('/v1/aggregates?measurement=vehicles&plate=CZ9'));
  });

  it('POST /v1/data-requests: 200 refused, 200 answered, 400, 401, 415', async () => {
    await check('/v1/data-requests', 'post', await fileRequest(api, individual));
    await check('/v1/data-requests', 'post', await fileRequest(api, aggregate, 'drainage-services'));
    await check('/v1/data-requests', 'post', await fileRequest(api, { level: 'x' }));
    await check('/v1/data-requests', 'post', await fileRequest(api, { ...aggregate, subject: { type: 'district', id: 'atlantis' } }, 'drainage-services'));
    await check('/v1/data-requests', 'post', await fileRequest(api, individual, {}));
    await check(
      '/v1/data-requests',
      'post',
      await fetch(`${api.url}/v1/data-requests`, {
        method: 'POST',
        headers: { authorization: 'Bearer test-token-high-court-0123456789abcdef', 'content-type': 'text/plain' },
        body: 'x',
      }),
    );
  });

  it('GET /v1/register, /v1/policy, /v1/transparency-report, /v1/audit/verify', async () => {
    await check('/v1/register', 'get', await get('/v1/register'));
    await check('/v1/policy', 'get', await get('/v1/policy'));
    for (const period of ['day', 'month', 'year']) await check('/v1/transparency-report', 'get', await get(`/v1/transparency-report?period=${period}`));
    await check('/v1/transparency-report', 'get', await get('/v1/transparency-report?period=decade'));
    await check('/v1/audit/verify', 'get', await get('/v1/audit/verify'));
  });

  it('the refused routes, the pages, the assets, health and this document', async () => {
    await check('/v1/devices/{id}/sightings', 'get', await get('/v1/devices/LP-0001/sightings'));
    await check('/', 'get', await fetch(`${api.url}/`, { redirect: 'manual' }));
    await check('/register', 'get', await get('/register'));
    await check('/city', 'get', await get('/city'));
    await check('/city', 'get', await get('/city?refresh=1'));
    await check('/assets/lethe.css', 'get', await get('/assets/lethe.css'));
    await check('/assets/city.js', 'get', await get('/assets/city.js'));
    await check('/livez', 'get', await get('/livez'));
    await check('/readyz', 'get', await get('/readyz'));
    await check('/metrics', 'get', await get('/metrics'));
    expect(await check('/openapi.json', 'get', await get('/openapi.json'))).toEqual(JSON.parse(JSON.stringify(doc)));
  });

  it('every documented operation was exercised', () => {
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m} ${path}`),
    );
    expect([...exercised].sort()).toEqual(documented.sort());
  });
});
