// Canary identifiers for the privacy checks, and a byte-level search for them. A canary is
// unmistakable (a fixed prefix no real device uses), valid for the MQTT schemas, and unique
// per run (a random run tag), so a hit anywhere is this run's identifier and nothing else:
//   MAC    0A:CA:FE:xx:xx:xx  (locally administered, unicast: a valid randomized phone MAC;
//                              the last 24 bits are a 12-bit run tag and a 12-bit counter)
//   plate  CZ9 RRNNN          (matches the plate pattern; RR run tag, NNN counter, base 36)
//   text   CANARY-<tag>-<label><n>  (SSIDs, image references, free text)
// The search anchors on each family's prefix in every spelling the pipeline could produce
// (upper or lower case; MACs with ':', '-', '.', or no separator; plates with or without the
// space), reads the identifier that follows and looks it up, so thousands of canaries cost a
// few Buffer.indexOf passes per file, not one per canary.
import { randomInt } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const BASE36 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const MAC_PREFIX = ['0A', 'CA', 'FE'];
const PLATE_PREFIX = 'CZ9';
/** Hex digits of a MAC with its separators removed, upper case. */
const normalizeMac = (mac: string) => mac.replace(/[:.-]/g, '').toUpperCase();
/** A plate without its space, upper case (as the pseudonymizer normalizes it). */
const normalizePlate = (plate: string) => plate.replaceAll(' ', '').toUpperCase();

export interface Canaries {
  readonly tag: string;
  /** A fresh canary MAC, as a device would publish it (upper case, ':'). */
  mac(): string;
  /** A fresh canary licence plate, as a camera would publish it ("CZ9 RRNNN"). */
  plate(): string;
  /** A fresh canary text token, e.g. for an SSID (at most 32 characters). */
  text(label: string): string;
  /** Every canary issued so far, as issued. */
  issued(): { macs: string[]; plates: string[]; texts: string[] };
}

export function createCanaries(): Canaries {
  const macTag = randomInt(0, 4096);
  const plateTag = BASE36[randomInt(0, 36)]! + BASE36[randomInt(0, 36)]!;
  const tag = randomInt(0, 36 ** 6)
    .toString(36)
    .toUpperCase()
    .padStart(6, '0');
  const macs: string[] = [];
  const plates: string[] = [];
  const texts: string[] = [];
  return {
    tag,
    mac() {
      if (macs.length >= 4096) throw new Error('at most 4096 canary MACs per run');
      const low = (macTag << 12) | macs.length;
      const bytes = [low >> 16, (low >> 8) & 0xff, low & 0xff].map((b) => b.toString(16).toUpperCase().padStart(2, '0'));
      const mac = [...MAC_PREFIX, ...bytes].join(':');
      macs.push(mac);
      return mac;
    },
    plate() {
      if (plates.length >= 36 ** 3) throw new Error(`at most ${36 ** 3} canary plates per run`);
      let n = plates.length;
      let digits = '';
      for (let i = 0; i < 3; i++, n = Math.floor(n / 36)) digits = BASE36[n % 36]! + digits;
      const plate = `${PLATE_PREFIX} ${plateTag}${digits}`;
      plates.push(plate);
      return plate;
    },
    text(label) {
      const text = `CANARY-${tag}-${label}${texts.length}`;
      texts.push(text);
      return text;
    },
    issued: () => ({ macs: [...macs], plates: [...plates], texts: [...texts] }),
  };
}

export interface CanaryHit {
  /** The canary as issued. */
  canary: string;
  /** The bytes found (latin1), i.e. the spelling. */
  found: string;
  offset: number;
}

export interface CanaryMatcher {
  /** Every occurrence of an issued canary, in any spelling, and the anchors not followed by one. */
  find(bytes: Buffer): { hits: CanaryHit[]; nearMisses: string[] };
}

interface Family {
  anchors: Buffer[];
  /** Reads the identifier at an anchor; returns the issued canary it is, if any. */
  resolve(window: string): { canary?: string; found: string };
}

/**
 * A matcher for the canaries issued so far. `nearMisses` are anchors not followed by an issued
 * canary (another run's canary, or chance: "cz9" turns up in base64 now and then).
 */
export function createCanaryMatcher(canaries: Canaries): CanaryMatcher {
  const { macs, plates, texts } = canaries.issued();
  const macByKey = new Map(macs.map((m) => [normalizeMac(m), m]));
  const plateByKey = new Map(plates.map((p) => [normalizePlate(p), p]));
  const textByKey = new Map(texts.map((t) => [t.toUpperCase(), t]));
  const bothCases = (s: string) => [s.toUpperCase(), s.toLowerCase()].map((x) => Buffer.from(x, 'latin1'));
  const [a, b, c] = MAC_PREFIX as [string, string, string];
  const families: Family[] = [
    {
      // 0A:CA:FE:…, 0A-CA-FE-…, 0ACAFE…, 0ACA.FE…. (Cisco), each in upper and lower case.
      anchors: [`${a}:${b}:${c}`, `${a}-${b}-${c}`, `${a}${b}${c}`, `${a}${b}.${c}`].flatMap(bothCases),
      resolve(window) {
        const found =
          /^[0-9a-f]{2}[:.-]?[0-9a-f]{2}[:.-]?[0-9a-f]{2}[:.-]?[0-9a-f]{2}[:.-]?[0-9a-f]{2}[:.-]?[0-9a-f]{2}/i.exec(window)?.[0] ?? window.slice(0, 8);
        return { canary: macByKey.get(normalizeMac(found)), found };
      },
    },
    {
      anchors: bothCases(PLATE_PREFIX),
      resolve(window) {
        const found = /^cz9 ?[a-z0-9]{5}/i.exec(window)?.[0] ?? window.slice(0, 3);
        return { canary: plateByKey.get(normalizePlate(found)), found };
      },
    },
    {
      anchors: bothCases(`CANARY-${canaries.tag}`),
      resolve(window) {
        const found = /^canary-[a-z0-9]+-[a-z]+[0-9]+/i.exec(window)?.[0] ?? window.slice(0, 14);
        // Texts end in a counter of any length, so digits that happen to follow a canary (in
        // random bytes, or in a log line) extend the match: the longest issued prefix is it.
        for (let end = found.length; end > 0; end--) {
          const canary = textByKey.get(found.slice(0, end).toUpperCase());
          if (canary) return { canary, found: found.slice(0, end) };
        }
        return { canary: undefined, found };
      },
    },
  ];
  return {
    find(bytes) {
      const hits: CanaryHit[] = [];
      const nearMisses: string[] = [];
      for (const family of families) {
        for (const anchor of family.anchors) {
          for (let at = bytes.indexOf(anchor); at !== -1; at = bytes.indexOf(anchor, at + 1)) {
            const { canary, found } = family.resolve(bytes.subarray(at, at + 48).toString('latin1'));
            if (canary) hits.push({ canary, found, offset: at });
            else nearMisses.push(found);
          }
        }
      }
      return { hits, nearMisses };
    },
  };
}

export interface PlaceReport {
  place: string;
  files: number;
  bytes: number;
  hits: Array<CanaryHit & { file: string }>;
  /** How many canary prefixes were not followed by an issued canary, and the first few of them. */
  nearMisses: number;
  nearMissSamples: string[];
  /** Occurrences of a string known to be there (positive control that the place was really read). */
  known: { needle: string; count: number } | undefined;
}

function countOf(bytes: Buffer, needle: Buffer): number {
  let n = 0;
  for (let at = bytes.indexOf(needle); at !== -1; at = bytes.indexOf(needle, at + needle.length)) n++;
  return n;
}

/** Every regular file under the roots (recursively, symlinks not followed), minus excluded paths. */
export function filesUnder(roots: readonly string[], exclude: readonly string[] = []): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // removed meanwhile (retention, compaction)
      throw err;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (exclude.some((x) => path === x || path.startsWith(`${x}/`))) continue;
      if (e.isDirectory()) walk(path);
      else if (e.isFile()) out.push(path);
    }
  };
  for (const root of roots) {
    if (!statSync(root, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`${root} is not a directory: nothing to search there`);
    walk(root);
  }
  return out;
}

/** Searches named contents as raw bytes: the hits, the near misses (five of them as samples) and the known needle's count. */
function searchContents(place: string, contents: Iterable<{ name: string; bytes: Buffer }>, matcher: CanaryMatcher, knownNeedle?: string): PlaceReport {
  const report: PlaceReport = {
    place,
    files: 0,
    bytes: 0,
    hits: [],
    nearMisses: 0,
    nearMissSamples: [],
    known: knownNeedle ? { needle: knownNeedle, count: 0 } : undefined,
  };
  const known = knownNeedle ? Buffer.from(knownNeedle) : undefined;
  for (const { name, bytes } of contents) {
    report.files++;
    report.bytes += bytes.length;
    const { hits, nearMisses } = matcher.find(bytes);
    report.hits.push(...hits.map((h) => ({ ...h, file: name })));
    report.nearMisses += nearMisses.length;
    report.nearMissSamples.push(...nearMisses.slice(0, 5 - report.nearMissSamples.length));
    if (known && report.known) report.known.count += countOf(bytes, known);
  }
  return report;
}

/** Searches every file under the roots as raw bytes. */
export function searchFiles(place: string, files: readonly string[], matcher: CanaryMatcher, knownNeedle?: string): PlaceReport {
  function* contents() {
    for (const file of files) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // deleted meanwhile (e.g. *.deleted segments)
        throw err;
      }
      yield { name: file, bytes };
    }
  }
  return searchContents(place, contents(), matcher, knownNeedle);
}

/** Searches captured text (logs, metrics, query results) like a file. */
export function searchText(place: string, parts: ReadonlyArray<{ name: string; text: string }>, matcher: CanaryMatcher, knownNeedle?: string): PlaceReport {
  return searchContents(
    place,
    parts.map(({ name, text }) => ({ name, bytes: Buffer.from(text, 'utf8') })),
    matcher,
    knownNeedle,
  );
}
