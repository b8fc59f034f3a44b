// The privacy policy: the one file (seeds/policy.yaml) from which minimization, pseudonym
// epochs, windows, thresholds, topic retention, bucket retention and the public register
// are all derived. Loading validates it and lists every problem with its location.
import { readFileSync } from 'node:fs';
import { DEVICE_KINDS, type DeviceKind } from '@lethe/schemas';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DURATION_PATTERN, parseDuration } from './duration.ts';

export const FIELD_CLASSES = ['operational', 'environmental', 'presence-dependent', 'person-derived', 'quasi-identifier', 'direct-identifier'] as const;
export const TREATMENTS = ['keep', 'pseudonymize', 'drop'] as const;
export const AGGREGATIONS = ['mean', 'max', 'min', 'sum', 'count_true'] as const;

const durationOrZero = z
  .string()
  .regex(DURATION_PATTERN, 'must be a duration like 90s, 15m, 1h or 30d')
  .transform(parseDuration)
  // Every duration becomes a Kafka config or an InfluxDB retention, which take integers.
  .refine((ms) => Number.isSafeInteger(ms), { error: 'is too long', abort: true });
/** A duration of 0 would mean "no window" or, for a retention, "keep forever" (found by fuzzing the policy). */
const duration = durationOrZero.refine((ms) => ms > 0, { error: 'must be longer than 0', abort: true });

/**
 * Units that count people or their vehicles: a field measured in them varies with who is there,
 * so it can never be environmental (guarantee P9), whatever it is called.
 */
export const PEOPLE_UNITS = /^(people|persons?|pedestrians?|visitors?|occupants?|vehicles?|cars?|phones?|devices?)$/i;

const FieldPolicySchema = z
  .object({
    class: z.enum(FIELD_CLASSES),
    treatment: z.enum(TREATMENTS),
    unit: z.string().optional(),
    description: z.string().optional(),
    /** How the field is summarised per window; defaults: numbers → mean and max, booleans → count_true. */
    aggregate: z.array(z.enum(AGGREGATIONS)).optional(),
    /**
     * Presence-dependent fields: the most one person's presence can change one reading, in the
     * field's unit (from the sensor's specification). It is the sensitivity of the published mean.
     */
    perPerson: z.number().positive().optional(),
    /** Presence-dependent fields: readings are clamped to [min, max] before they are averaged. */
    range: z.tuple([z.number(), z.number()]).optional(),
  })
  .strict()
  .superRefine((field, ctx) => {
    if (field.class === 'environmental' && field.unit !== undefined && PEOPLE_UNITS.test(field.unit.trim())) {
      ctx.addIssue({
        code: 'custom',
        path: ['class'],
        message: `a field counted in ${field.unit} varies with the people present: it cannot be environmental (use person-derived for a count, presence-dependent for a measurement, or drop it)`,
      });
    }
    if (field.class === 'presence-dependent' && field.treatment === 'keep') {
      if (field.perPerson === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['perPerson'],
          message: 'a kept presence-dependent field needs perPerson: the most one person changes one reading (the noise is calibrated to it)',
        });
      if (field.range === undefined)
        ctx.addIssue({ code: 'custom', path: ['range'], message: 'a kept presence-dependent field needs range: [min, max], to which readings are clamped' });
      else if (!(field.range[0] < field.range[1])) ctx.addIssue({ code: 'custom', path: ['range'], message: 'must be [min, max] with min < max' });
      if (field.aggregate !== undefined && field.aggregate.join() !== 'mean')
        ctx.addIssue({
          code: 'custom',
          path: ['aggregate'],
          message: 'a presence-dependent field is published as a noisy district mean only: aggregate must be [mean] or absent',
        });
    }
    if (field.class !== 'presence-dependent' && (field.perPerson !== undefined || field.range !== undefined)) {
      ctx.addIssue({ code: 'custom', message: 'perPerson and range apply to presence-dependent fields only' });
    }
    if (field.class === 'direct-identifier' && field.treatment === 'keep') {
      ctx.addIssue({ code: 'custom', message: 'a direct identifier must be pseudonymized or dropped, never kept' });
    }
    if (field.class === 'quasi-identifier' && field.treatment !== 'drop') {
      ctx.addIssue({ code: 'custom', message: 'a quasi-identifier must be dropped (generalization is not supported for it yet)' });
    }
    if (field.treatment === 'pseudonymize' && field.class !== 'direct-identifier') {
      ctx.addIssue({ code: 'custom', message: 'only direct identifiers are pseudonymized' });
    }
  });

const KindPolicySchema = z
  .object({
    title: z.string().min(1),
    description: z.string().min(1),
    purposes: z.array(z.string().min(1)).min(1),
    legalBasis: z.string().min(1),
    window: duration,
    epoch: duration,
    k: z.number().int().min(2),
    epsilonPerRelease: z.number().positive(),
    epsilonPerDay: z.number().positive(),
    fields: z.record(z.string(), FieldPolicySchema),
  })
  .strict()
  .superRefine((kind, ctx) => {
    if (kind.epsilonPerRelease > kind.epsilonPerDay) {
      ctx.addIssue({ code: 'custom', path: ['epsilonPerRelease'], message: 'cannot exceed epsilonPerDay' });
    }
    for (const [name, field] of Object.entries(kind.fields)) {
      // A person-derived reading field reaches the anonymizer as a count of people or vehicles
      // (sensitivity 1); a mean or maximum over people has no such bound.
      if (!name.includes('.') && field.class === 'person-derived' && field.treatment === 'keep' && (field.aggregate ?? ['sum']).join() !== 'sum') {
        ctx.addIssue({
          code: 'custom',
          path: ['fields', name, 'aggregate'],
          message: 'a person-derived reading field must be a count aggregated as [sum] (or be dropped)',
        });
      }
    }
    if (kind.epoch % kind.window !== 0) {
      ctx.addIssue({ code: 'custom', path: ['epoch'], message: 'must be a whole number of windows, so no window spans two pseudonym epochs' });
    }
  });

export const PolicySchema = z
  .object({
    version: z.number().int().positive(),
    id: z.string().min(1),
    controller: z.string().min(1),
    contact: z.string().min(1),
    aggregates: z
      .object({
        // InfluxDB keeps a bucket's data for whole seconds, at least one hour (0 would mean forever).
        retention: duration.refine((ms) => ms >= 3_600_000 && ms % 1000 === 0, "must be whole seconds and at least 1h (InfluxDB's shortest retention)"),
      })
      .strict(),
    // A max lateness of 0 is the strictest: every sighting stamped before it arrives is dropped.
    rawData: z
      .object({
        ttl: duration,
        segment: duration,
        maxLateness: durationOrZero,
        /** How long a pseudonym key outlives its epoch, for records still in flight (gateway, keyring, register). */
        keyGrace: durationOrZero.default(60_000),
        /** How far ahead of the gateway's clock a device's clock may run; later readings are refused. */
        maxFutureSkew: durationOrZero.default(30_000),
      })
      .strict(),
    kinds: z.object(Object.fromEntries(DEVICE_KINDS.map((k) => [k, KindPolicySchema])) as Record<DeviceKind, typeof KindPolicySchema>).strict(),
  })
  .strict()
  .superRefine((policy, ctx) => {
    if (policy.rawData.maxLateness > policy.rawData.ttl) {
      ctx.addIssue({ code: 'custom', path: ['rawData', 'maxLateness'], message: 'must not exceed rawData.ttl' });
    }
    if (policy.rawData.segment > policy.rawData.ttl) {
      ctx.addIssue({ code: 'custom', path: ['rawData', 'segment'], message: 'must not exceed rawData.ttl (Kafka only deletes closed segments)' });
    }
    if (policy.rawData.maxFutureSkew > policy.rawData.ttl) {
      ctx.addIssue({ code: 'custom', path: ['rawData', 'maxFutureSkew'], message: 'must not exceed rawData.ttl' });
    }
    for (const kind of DEVICE_KINDS) {
      if (policy.kinds[kind].epoch > policy.rawData.ttl) {
        ctx.addIssue({ code: 'custom', path: ['kinds', kind, 'epoch'], message: 'must not exceed rawData.ttl' });
      }
    }
  });

export type Policy = z.infer<typeof PolicySchema>;
export type KindPolicy = Policy['kinds'][DeviceKind];
export type FieldPolicy = KindPolicy['fields'][string];
export type FieldClass = (typeof FIELD_CLASSES)[number];

export class PolicyError extends Error {
  readonly problems: readonly string[];
  constructor(source: string, problems: readonly string[]) {
    super(`Invalid privacy policy ${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'PolicyError';
    this.problems = problems;
  }
}

export function parsePolicy(document: unknown, source = '(inline)'): Policy {
  const result = PolicySchema.safeParse(document);
  if (!result.success) {
    throw new PolicyError(
      source,
      result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    );
  }
  return result.data;
}

export function loadPolicy(path: string): Policy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PolicyError(path, [`cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (err) {
    throw new PolicyError(path, [`not valid YAML: ${(err as Error).message}`]);
  }
  return parsePolicy(document, path);
}

/** The default policy shipped in seeds/. */
export const DEFAULT_POLICY_PATH = new URL('../../../seeds/policy.yaml', import.meta.url).pathname;
