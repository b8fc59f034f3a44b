// The continuity-linkage attack on `lethe.sightings.v1` (guarantee P9; docs/privacy.md). Pseudonyms
// change for everyone at an epoch boundary, so an insider who reads the topic tries to pair each
// pseudonym seen at a device just before a boundary with the one seen there just after: "the phone
// that was still here at the end is the one that is here at the start". The attacker uses all a
// record says about time and order: its `ts`, its Kafka timestamp, the reading's sequence number and
// the sighting's position in it (records of the format before P9), and, if told to, its partition
// and offset (a record's position among its partition's records of the same Kafka timestamp says
// when in that slot it was written). Pure: the tests feed it records from the ingest stage or read
// off the real topic, and the truth (which pseudonyms are the same phone) from a key they know.

/** A sighting as an insider reading the topic sees it. */
export interface ObservedSighting {
  pseudonym: string;
  epoch: number;
  deviceId: string;
  ts: number;
  kafkaTimestamp: number;
  partition: number;
  offset: number;
  /** The reading's sequence number and the sighting's position in it (the format before P9). */
  seq?: number;
  index?: number;
}

export interface AttackOptions {
  epochMs: number;
  /** How far before and after a boundary the attacker looks (ms). */
  lookMs: number;
  /** Use partition and offsets to place a record within its slot. */
  useOffsets: boolean;
  /** Slot length the attacker assumes for records that share a Kafka timestamp (public: docs). */
  slotMs: number;
  /** Tie-breaking; seeded by the tests. */
  random: () => number;
}

export interface LinkageFigures {
  /** Pseudonyms seen at a device just before a boundary whose phone is also seen there just after. */
  targets: number;
  correct: number;
  /** correct / targets. */
  joinRate: number;
  /** Mean over targets of 1 / (candidates at that device after the boundary): a uniform guess. */
  chance: number;
  /** joinRate − chance. */
  advantage: number;
}

interface Placed {
  record: ObservedSighting;
  /** The attacker's estimate of when it was seen. */
  t: number;
  /** Position within its reading, if the record says (ties between equal times). */
  order: number;
}

/** The attacker's estimate of each record's time: exact if the record says it, else its slot refined by its offset among its partition's records of that slot. */
function place(records: readonly ObservedSighting[], { useOffsets, slotMs }: AttackOptions): Placed[] {
  const placed = records.map((record): Placed => ({ record, t: Math.max(record.ts, record.kafkaTimestamp), order: record.index ?? 0 }));
  if (!useOffsets) return placed;
  const groups = new Map<string, Placed[]>();
  for (const p of placed) {
    const id = `${p.record.partition}|${p.record.kafkaTimestamp}`;
    (groups.get(id) ?? groups.set(id, []).get(id)!).push(p);
  }
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    group.sort((a, b) => a.record.offset - b.record.offset);
    group.forEach((p, rank) => (p.t = p.record.kafkaTimestamp + (slotMs * (rank + 0.5)) / group.length));
  }
  return placed;
}

/**
 * Runs the attack at every boundary between epochs that both have records, at every device, and
 * scores it with `truth` (pseudonym → the phone behind it; undefined if unknown).
 */
export function continuityAttack(
  records: readonly ObservedSighting[],
  truth: (pseudonym: string) => string | undefined,
  options: AttackOptions,
): LinkageFigures {
  const { epochMs, lookMs, random } = options;
  const placed = place(records, options);
  const byDevice = new Map<string, Placed[]>();
  for (const p of placed) (byDevice.get(p.record.deviceId) ?? byDevice.set(p.record.deviceId, []).get(p.record.deviceId)!).push(p);
  const epochs = [...new Set(records.map((r) => r.epoch))].sort((a, b) => a - b);
  let targets = 0;
  let correct = 0;
  let chance = 0;
  for (const epoch of epochs) {
    if (!epochs.includes(epoch + 1)) continue;
    const boundary = (epoch + 1) * epochMs;
    for (const seen of byDevice.values()) {
      // Per pseudonym: when it was last seen before the boundary, or first seen after it.
      const last = new Map<string, Placed>();
      const first = new Map<string, Placed>();
      for (const p of seen) {
        if (p.record.epoch === epoch && p.t >= boundary - lookMs) {
          const q = last.get(p.record.pseudonym);
          if (!q || p.t > q.t || (p.t === q.t && p.order > q.order)) last.set(p.record.pseudonym, p);
        } else if (p.record.epoch === epoch + 1 && p.t < boundary + lookMs) {
          const q = first.get(p.record.pseudonym);
          if (!q || p.t < q.t || (p.t === q.t && p.order < q.order)) first.set(p.record.pseudonym, p);
        }
      }
      if (last.size === 0 || first.size === 0) continue;
      const after = new Set([...first.keys()].map(truth));
      const aimed = [...last.keys()].filter((a) => truth(a) !== undefined && after.has(truth(a)));
      if (aimed.length === 0) continue;
      // One-to-one, closest first: the later one left, the sooner the other came, the likelier
      // they are one phone; equal times go by position in the reading, then by chance.
      const pairs = [...last.values()].flatMap((a) =>
        [...first.values()].map((b) => ({ a, b, gap: b.t - a.t, skew: Math.abs(b.order - a.order), tie: random() })),
      );
      pairs.sort((x, y) => x.gap - y.gap || x.skew - y.skew || x.tie - y.tie);
      const guess = new Map<string, string>();
      const taken = new Set<string>();
      for (const { a, b } of pairs) {
        if (guess.has(a.record.pseudonym) || taken.has(b.record.pseudonym)) continue;
        guess.set(a.record.pseudonym, b.record.pseudonym);
        taken.add(b.record.pseudonym);
      }
      const candidates = [...first.keys()];
      for (const a of aimed) {
        const b = guess.get(a) ?? candidates[Math.floor(random() * candidates.length)]!;
        targets++;
        if (truth(b) === truth(a)) correct++;
        chance += 1 / candidates.length;
      }
    }
  }
  const joinRate = targets === 0 ? 0 : correct / targets;
  const meanChance = targets === 0 ? 0 : chance / targets;
  return { targets, correct, joinRate, chance: meanChance, advantage: joinRate - meanChance };
}

/** A small seeded generator (mulberry32) for the attacker's tie-breaking: the privacy package's tests' own. */
export { seeded as seededRandom } from '../../packages/privacy/test/support/synthetic-city.ts';

export const percent = (x: number) => `${(100 * x).toFixed(1)} %`;

export function describeFigures(label: string, f: LinkageFigures): string {
  // The join rate is a sample of `targets` guesses: its binomial standard error says how far a rerun may move it.
  const se = f.targets === 0 ? 0 : Math.sqrt((f.joinRate * (1 - f.joinRate)) / f.targets);
  return `${label}: join rate ${percent(f.joinRate)} (${f.correct}/${f.targets}), chance ${percent(f.chance)}, advantage ${(100 * f.advantage).toFixed(1)} ± ${(100 * se).toFixed(1)} points (1 s.e.)`;
}
