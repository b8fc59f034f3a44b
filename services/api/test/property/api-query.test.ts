// Property tests of the api's open-data query parser (services/api/src/aggregates-query.ts;
// fast-check, fixed seed, bounded runs): any query string answers a query, a 400 or 404 listing
// the problems, or a 403 — and a problem never repeats what the caller sent (a plate typed into
// the wrong parameter is not echoed). Every valid query parses, and its next-page link parses
// to the next page.
import { DEFAULT_POLICY_PATH, loadPolicy } from '@lethe/privacy';
import { DEFAULT_FLEET_PATH, loadFleet } from '@lethe/schemas';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AGGREGATE_PARAMS, nextPageLink, parseAggregatesQuery } from '../../src/aggregates-query.ts';
import { buildCatalogue, DEFAULT_DISTRICTS_PATH, loadDistricts } from '../../src/catalogue.ts';
import { identifyingParams } from '../../src/identifying-params.ts';
import { licencePlate, macAddress } from '@lethe/schemas/arbitraries';

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);
const catalogue = buildCatalogue(loadPolicy(DEFAULT_POLICY_PATH), loadFleet(DEFAULT_FLEET_PATH), loadDistricts(DEFAULT_DISTRICTS_PATH));
const measurements = Object.values(catalogue.measurements);
const RUNS = { seed: 0x1e7e, numRuns: 500 } as const;

/** What a caller could type: canary text, identifiers, near-valid values and anything. */
const CANARY = 'CANARY-QUERY-3F';
const value = fc.oneof(
  fc.constant(CANARY),
  macAddress(),
  licencePlate().filter((p) => p.replace(' ', '').length >= 6),
  fc.constantFrom(
    'pedestrians',
    'sewer',
    'traffic-light',
    'cell',
    'district',
    'device',
    'wan-chai',
    'LP-0001',
    'people',
    '-15m',
    '-2h',
    '2026-01-01T10:00:00Z',
    '5m',
    '1h',
    'mean',
    'max',
    '100',
    '0',
    '10001',
    'eyJvIjoxMH0',
  ),
  fc.string(),
);
const key = fc.oneof(
  fc.constantFrom(...AGGREGATE_PARAMS),
  fc.constantFrom('plate', 'Licence-Plate', 'mac_address', 'pseudonym'),
  fc.constant(CANARY),
  fc.string(),
);
const query = fc.dictionary(key, fc.oneof({ weight: 5, arbitrary: value }, { weight: 1, arbitrary: fc.array(value, { maxLength: 3 }) }), { maxKeys: 6 });

describe("the api's open-data query parser", () => {
  it('answers every query string with a query, a 400, a 404 or a 403, repeating nothing the caller sent', () => {
    fc.assert(
      fc.property(query, (input) => {
        const result = parseAggregatesQuery(input, catalogue, NOW);
        if (result.ok) return;
        const said = result.status === 403 ? `${result.params.join(',')}\n${result.explanation}` : result.problems.join('\n');
        const sent = [...Object.keys(input), ...Object.values(input).flat()].map(String);
        // Only the api's own words may appear (parameter names, allowed values), never the rest of what was sent.
        // A parameter named after an identifier is named back in the api's own closed vocabulary.
        for (const s of sent)
          if (s.length >= 4 && said.includes(s)) expect(API_TEXT.includes(s) || identifyingParams([s]).includes(s), `echoed "${s}"`).toBe(true);
        expect(said).not.toContain(CANARY);
      }),
      RUNS,
    );
  });

  it('parses every valid query, and its next-page link to the next page', () => {
    const valid = fc.constantFrom(...measurements).chain((m) =>
      fc.record(
        {
          measurement: fc.constant(m.name),
          scope: m.scopes.length > 0 ? fc.constantFrom(...m.scopes) : fc.constant(undefined),
          district: fc.constantFrom(...catalogue.districts.map((d) => d.id)),
          field: fc.constantFrom(...m.fields),
          start: fc.integer({ min: 1, max: 24 * 60 }).map((minutes) => `-${minutes}m`),
          limit: fc.integer({ min: 1, max: 10_000 }).map(String),
        },
        { requiredKeys: ['measurement'] },
      ),
    );
    fc.assert(
      fc.property(valid, (input) => {
        const params = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as Record<string, string>;
        const result = parseAggregatesQuery(params, catalogue, NOW);
        if (!result.ok) throw new Error(`${JSON.stringify(params)}: ${JSON.stringify(result)}`);
        const next = parseAggregatesQuery(
          Object.fromEntries(new URL(nextPageLink('/v1/aggregates', result.query), 'http://api').searchParams),
          catalogue,
          NOW + 60_000,
        );
        if (!next.ok) throw new Error(`next page of ${JSON.stringify(params)}: ${JSON.stringify(next)}`);
        expect(next.query).toEqual({ ...result.query, offset: result.query.offset + result.query.limit });
      }),
      RUNS,
    );
  });
});

/** Everything the api says on its own: its problems for canned bad queries, and the names of the catalogue. */
const API_TEXT = [
  ...[
    {},
    { measurement: 'x' },
    ...measurements.map((m) => ({
      measurement: m.name,
      scope: 'x',
      field: 'x',
      device: 'LP-0001',
      district: 'x',
      start: 'x',
      stop: 'x',
      window: 'x',
      aggregate: 'x',
      limit: 'x',
      cursor: 'x',
      extra: 'x',
    })),
    { measurement: 'sewer', window: '7s', aggregate: 'max', device: 'LP-0001', start: '-1m', stop: '-2m' },
    { measurement: 'sewer', start: '-1000d' },
    { measurement: 'sewer', extra: ['a', 'b'], more: 'x' },
    { measurement: ['sewer', 'x'] },
    { measurement: 'pedestrians', device: 'LP-0001' },
    { plate: 'x' },
  ]
    .map((q) => parseAggregatesQuery(q, catalogue, NOW))
    .flatMap((r) => (r.ok ? [] : r.status === 403 ? [...r.params, r.explanation] : r.problems)),
  ...AGGREGATE_PARAMS,
  ...measurements.flatMap((m) => [m.name, m.kind, ...m.fields, ...m.scopes]),
  ...catalogue.districts.map((d) => d.id),
].join('\n');
