// Property tests of the policy parser (fast-check, fixed seed, bounded runs): the shipped policy
// with random edits is either refused with a PolicyError listing the problems, or yields a
// policy every consumer can use — durations Kafka and InfluxDB accept, whole windows per epoch,
// a usable ε. The fuzzer (test/fuzz, target "policy") found that a duration of 0 passed.
import { aggregateRetentionSeconds, DEFAULT_POLICY_PATH, parsePolicy, PolicyError, topicSpecs } from '../../src/index.ts';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const shipped = parse(readFileSync(DEFAULT_POLICY_PATH, 'utf8')) as Record<string, unknown>;
const DURATION_PATHS = [
  ['aggregates', 'retention'],
  ['rawData', 'ttl'],
  ['rawData', 'segment'],
  ['rawData', 'maxLateness'],
  ...['lamppost', 'traffic-light', 'sewer'].flatMap((k) => [
    ['kinds', k, 'window'],
    ['kinds', k, 'epoch'],
  ]),
];
const NUMBER_PATHS = ['lamppost', 'traffic-light', 'sewer'].flatMap((k) => [
  ['kinds', k, 'k'],
  ['kinds', k, 'epsilonPerRelease'],
  ['kinds', k, 'epsilonPerDay'],
]);

const duration = fc.oneof(
  fc.tuple(fc.oneof(fc.nat(100), fc.nat(), fc.constant(0)), fc.constantFrom('ms', 's', 'm', 'h', 'd')).map(([n, u]) => `${n}${u}`),
  fc.stringMatching(/^\d{1,30}(ms|s|m|h|d)$/),
  fc.constantFrom('0s', '0ms', '0d', '500ms', '59m', '1h', '99999999999999999999d', '15 m', '-1s', '1.5h', ''),
);
const number = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(0, -1, 1, 2, 1e308, Number.MAX_SAFE_INTEGER + 2));
const edit = fc.oneof(fc.tuple(fc.constantFrom(...DURATION_PATHS), duration), fc.tuple(fc.constantFrom(...NUMBER_PATHS), number));

function edited(edits: ReadonlyArray<readonly [string[], unknown]>): unknown {
  const doc = structuredClone(shipped);
  for (const [path, value] of edits) {
    let node = doc as Record<string, unknown>;
    for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
    node[path.at(-1)!] = value;
  }
  return doc;
}

describe('the policy parser', () => {
  it('refuses durations of 0, too long for an integer, and a bucket retention InfluxDB cannot hold', () => {
    for (const [path, value] of [
      [['aggregates', 'retention'], '0ms'],
      [['aggregates', 'retention'], '30m'],
      [['rawData', 'segment'], '0s'],
      [['rawData', 'ttl'], '99999999999999999999d'],
      [['kinds', 'sewer', 'window'], '0s'],
    ] as const) {
      expect(() => parsePolicy(edited([[[...path], value]])), `${path.join('.')}: ${value}`).toThrow(PolicyError);
    }
    expect(parsePolicy(edited([[['rawData', 'maxLateness'], '0s']])).rawData.maxLateness).toBe(0);
  });

  it('either refuses an edited policy with a PolicyError or yields one that Kafka, InfluxDB and the anonymizer can use', () => {
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
        let policy;
        try {
          policy = parsePolicy(edited(edits));
        } catch (err) {
          expect(err).toBeInstanceOf(PolicyError);
          expect((err as PolicyError).problems.length).toBeGreaterThan(0);
          return;
        }
        for (const d of [
          policy.aggregates.retention,
          policy.rawData.ttl,
          policy.rawData.segment,
          ...Object.values(policy.kinds).flatMap((k) => [k.window, k.epoch]),
        ]) {
          expect(Number.isSafeInteger(d) && d > 0, `duration ${d}`).toBe(true);
        }
        expect(Number.isSafeInteger(aggregateRetentionSeconds(policy)) && aggregateRetentionSeconds(policy) >= 3600).toBe(true);
        for (const kind of Object.values(policy.kinds)) {
          expect(kind.epoch % kind.window).toBe(0);
          expect(Number.isInteger(kind.k) && kind.k >= 2).toBe(true);
          expect(kind.epsilonPerRelease > 0 && kind.epsilonPerRelease <= kind.epsilonPerDay && Number.isFinite(kind.epsilonPerDay)).toBe(true);
        }
        for (const spec of topicSpecs(policy))
          for (const [name, v] of Object.entries(spec.configs)) if (name.endsWith('.ms')) expect(v, name).toMatch(/^[1-9]\d*$/);
      }),
      { seed: 0x1e7e, numRuns: 500 },
    );
  });
});
