// What an "individual-looking request" is: a request that looks for a person, whatever route,
// method or spelling it uses. Lethe has no individual-level data, so such a request can only be
// refused; what matters is that every one is audited and counted (the transparency report's
// routesRefused), so the public figure of attempts is not an undercount (issue 11, finding 8).
//
// A request is individual-looking when any of these holds, after normalisation:
//   - a path segment names individual-level data: sightings, plates, MACs, people, pseudonyms,
//     phones, tracks, movements, identities, faces, images, raw records, a vehicle by id…
//     (`path:<word>`);
//   - a query parameter's name names an identifier of a person or of a person's device: plate,
//     vrm, mac, wifi, bluetooth, imsi, pseudonym, email, name… (the name, as an api word);
//   - a path segment or query value (of a parameter whose name says nothing) has the shape of
//     an identifier: a MAC address, a licence plate, a pseudonym, an IMSI/IMEI, a phone number,
//     an e-mail address (`value:<kind>`).
// Normalisation makes spelling irrelevant: percent-decoding (repeated, so %2573 is caught),
// Unicode NFKC (full-width letters), case, backslashes as slashes, empty segments (`//`),
// `.`/`..` segments, trailing slashes, `;params`, file extensions (`sightings.json`), and
// `-`, `_`, `.`, spaces and `[]` inside names (`Licence_Plate`, `plate[]`).
//
// The result is a list of categories in the api's own closed vocabulary — never the caller's
// spelling or value — which is what the audit record, the response and the metrics may hold.
// Pure: no I/O. The api answers these requests before any other handler (routes/individual.ts).
import { personalDataKind } from '@lethe/audit';

/** Query parameter names (normalised: lower case, no `-_.[]` or spaces) that ask for an identifier. */
const IDENTIFYING = new Set([
  'plate',
  'plates',
  'licenceplate',
  'licenseplate',
  'numberplate',
  'registration',
  'regno',
  'registrationnumber',
  'vrn',
  'vrm',
  'vin',
  'anpr',
  'alpr',
  'lpr',
  'mac',
  'macs',
  'macaddress',
  'bssid',
  'ssid',
  'ssids',
  'rssi',
  'wifi',
  'wlan',
  'bluetooth',
  'bt',
  'btmac',
  'ble',
  'bdaddr',
  'imsi',
  'imei',
  'iccid',
  'tmsi',
  'msisdn',
  'phone',
  'phonenumber',
  'mobile',
  'idfa',
  'gaid',
  'adid',
  'advertisingid',
  'pseudonym',
  'pseudonyms',
  'hash',
  'hmac',
  'person',
  'personid',
  'people',
  'individual',
  'identity',
  'identifier',
  'name',
  'fullname',
  'firstname',
  'lastname',
  'surname',
  'email',
  'passport',
  'idcard',
  'nationalid',
  'hkid',
  'ssn',
  'dob',
  'birthdate',
  'driver',
  'owner',
  'suspect',
  'target',
  'face',
  'faceid',
  'image',
  'imageref',
  'photo',
  'biometric',
  'fingerprint',
  'sighting',
  'sightings',
  'track',
  'tracks',
  'trajectory',
  'movements',
  'whereabouts',
]);

/** Word parts that make any parameter name identifying (`wifiMac`, `src_mac`, `plateNumber`). */
const IDENTIFYING_TOKENS = new Set([
  'plate',
  'plates',
  'mac',
  'macs',
  'vrm',
  'vrn',
  'imsi',
  'imei',
  'msisdn',
  'pseudonym',
  'pseudonyms',
  'sighting',
  'sightings',
  'bssid',
  'ssid',
  'wifi',
  'bluetooth',
  'anpr',
  'alpr',
  'passport',
  'email',
  'phone',
]);
/** Substrings that do the same without any word boundary (`srcmacaddr`, `numberplate2`). */
const IDENTIFYING_SUBSTRINGS = [
  'plate',
  'macaddr',
  'imsi',
  'imei',
  'msisdn',
  'pseudonym',
  'sighting',
  'bssid',
  'bluetooth',
  'wifi',
  'anpr',
  'passport',
  'email',
];

/**
 * Path words that name individual-level data, mapped to the api's word for the category.
 * `vehicles` and `devices` are measurements or infrastructure on their own; `vehicles/<id>`
 * (one vehicle) is individual, see below.
 */
const PATH_WORDS: Record<string, string> = {
  sighting: 'sightings',
  sightings: 'sightings',
  plate: 'plates',
  plates: 'plates',
  licenceplates: 'plates',
  licenseplates: 'plates',
  numberplates: 'plates',
  anpr: 'plates',
  vrm: 'plates',
  mac: 'macs',
  macs: 'macs',
  macaddresses: 'macs',
  wifi: 'macs',
  bluetooth: 'macs',
  person: 'people',
  persons: 'people',
  people: 'people',
  individuals: 'people',
  residents: 'people',
  citizens: 'people',
  users: 'people',
  pseudonym: 'pseudonyms',
  pseudonyms: 'pseudonyms',
  phone: 'phones',
  phones: 'phones',
  imsi: 'phones',
  imei: 'phones',
  track: 'tracks',
  tracks: 'tracks',
  trajectory: 'tracks',
  trajectories: 'tracks',
  trips: 'tracks',
  whereabouts: 'tracks',
  movement: 'movements',
  movements: 'movements',
  identity: 'identities',
  identities: 'identities',
  identify: 'identities',
  lookup: 'identities',
  reidentify: 'identities',
  face: 'images',
  faces: 'images',
  image: 'images',
  images: 'images',
  photos: 'images',
  snapshots: 'images',
  raw: 'raw',
  rawdata: 'raw',
  readings: 'raw',
};

/** Routes that would expose individual-level data, as Express-style patterns; each is an audit and metric label. */
export const REFUSED_ROUTES = [
  '/v1/devices/:id/sightings',
  '/v1/devices/:id/plates',
  '/v1/devices/:id/macs',
  '/v1/devices/:id/people',
  '/v1/devices/:id/images',
  '/v1/sightings',
  '/v1/sightings/*rest',
  '/v1/pseudonyms',
  '/v1/pseudonyms/*rest',
  '/v1/people',
  '/v1/people/*rest',
  '/v1/persons',
  '/v1/persons/*rest',
  '/v1/plates',
  '/v1/plates/*rest',
  '/v1/vehicles/:id',
  '/v1/vehicles/:id/*rest',
  '/v1/macs',
  '/v1/macs/*rest',
  '/v1/phones',
  '/v1/phones/*rest',
  '/v1/tracks',
  '/v1/tracks/*rest',
  '/v1/movements',
  '/v1/movements/*rest',
  '/v1/identities',
  '/v1/identities/*rest',
  '/v1/raw',
  '/v1/raw/*rest',
  '/v1/images',
  '/v1/images/*rest',
] as const;

export const REFUSED_ROUTE_EXPLANATION =
  'Lethe has no individual-level data to serve: identifiers are pseudonymized at the gateway and never stored, per-person records are deleted within the raw-data TTL, and pseudonyms cannot be linked across periods. ' +
  'Only anonymous aggregates are published (/v1/aggregates). To ask for data formally, file a data request (POST /v1/data-requests); every request and its answer is counted in /v1/transparency-report.';

const normalizeName = (name: string) =>
  name
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[-_.[\]\s]/g, '');

/** Splits a parameter name into lower-case words at separators and camelCase boundaries. */
const words = (name: string) =>
  name
    .normalize('NFKC')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);

/** The api's word for a parameter name that asks for an identifier, or undefined. */
function nameCategory(name: string): string | undefined {
  const n = normalizeName(name);
  if (IDENTIFYING.has(n)) return n;
  const token = words(name).find((w) => IDENTIFYING_TOKENS.has(w));
  if (token) return token.replace(/s$/, '');
  const sub = IDENTIFYING_SUBSTRINGS.find((s) => n.includes(s));
  if (sub) return sub === 'macaddr' ? 'mac' : sub;
  return undefined;
}

/**
 * The names among `names` that ask for an identifier, as the api's own canonical words (never
 * the caller's spelling, which could be anything).
 */
export function identifyingParams(names: readonly string[]): string[] {
  return [...new Set(names.map(nameCategory).filter((c): c is string => c !== undefined))].sort();
}

const PSEUDONYM = /^[A-Za-z0-9_-]{22}$/;
const MOBILE_ID = /^\d{14,16}$/;
const PHONE = /^\+\d{7,15}$/;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
const MAC_BARE = /^[0-9A-Fa-f]{12}$/;

const VALUE_KINDS = new Set(['mac', 'plate', 'pseudonym', 'imsi', 'phone', 'email']);
const BODY_WORDS = new Set([
  'plate',
  'mac',
  'pseudonym',
  'individual',
  'movements',
  'sightings',
  'identity',
  'raw-readings',
  'images',
  'wifi-networks',
  'signal-strength',
  'vehicle-speeds',
  'loop-speeds',
]);

/**
 * Whether `word` is a category this module can produce (or `device`, the per-device refusal of
 * figures about people): the transparency report counts only these, so a record written by
 * anyone else cannot put free text into the public report.
 */
export function isCategory(word: unknown): word is string {
  if (typeof word !== 'string') return false;
  const [prefix, rest] = word.includes(':') ? (word.split(':', 2) as [string, string]) : ['', word];
  if (prefix === 'path') return Object.values(PATH_WORDS).includes(rest) || rest === 'vehicles';
  if (prefix === 'value') return VALUE_KINDS.has(rest);
  if (prefix === 'body') return BODY_WORDS.has(rest) || IDENTIFYING.has(rest) || IDENTIFYING_TOKENS.has(rest) || IDENTIFYING_SUBSTRINGS.includes(rest);
  if (prefix !== '') return false;
  return rest === 'device' || IDENTIFYING.has(rest) || IDENTIFYING_TOKENS.has(rest) || IDENTIFYING.has(`${rest}s`) || IDENTIFYING_SUBSTRINGS.includes(rest);
}

/** What kind of identifier a value looks like, in the api's words, or undefined. */
export function valueCategory(value: string): string | undefined {
  const v = value.normalize('NFKC').trim();
  const kind = personalDataKind(v);
  // Twelve bare hex digits are a MAC only with a letter in them: twelve decimal digits are a number.
  if (kind === 'a MAC address' || (MAC_BARE.test(v) && /[A-Fa-f]/.test(v))) return 'mac';
  if (kind === 'a licence plate') return 'plate';
  if (PSEUDONYM.test(v) && /[A-Za-z]/.test(v) && /\d/.test(v)) return 'pseudonym';
  if (MOBILE_ID.test(v)) return 'imsi';
  if (PHONE.test(v.replace(/[\s().-]/g, ''))) return 'phone';
  if (EMAIL.test(v)) return 'email';
  return undefined;
}

/** Percent-decodes repeatedly (double encoding), tolerating malformed escapes. */
function decode(text: string): string {
  let current = text;
  for (let i = 0; i < 3 && current.includes('%'); i++) {
    const next = current.replace(/(%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    });
    if (next === current) break;
    current = next;
  }
  return current;
}

/**
 * The path's segments as the api reads them: decoded, NFKC, lower case, no empty, `.` or `..`
 * segments, no `;params`. Keeps the case-preserving form too, for identifier shapes.
 */
export function normalizePath(rawPath: string): { segments: string[]; original: string[] } {
  const original: string[] = [];
  for (const part of decode(rawPath).replaceAll('\\', '/').split('/')) {
    const segment = part.split(';')[0]!.normalize('NFKC').trim();
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      original.pop();
      continue;
    }
    original.push(segment);
  }
  return { segments: original.map((s) => s.toLowerCase()), original };
}

/** `/v1/devices/:id/sightings`, `/v1/plates/*rest` (one or more segments) against normalised segments. */
export function matchPattern(pattern: string, segments: readonly string[]): boolean {
  const parts = pattern.split('/').filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part.startsWith('*')) return segments.length > i;
    if (i >= segments.length) return false;
    if (part.startsWith(':') || (part.startsWith('{') && part.endsWith('}'))) continue;
    if (part.toLowerCase() !== segments[i]) return false;
  }
  return segments.length === parts.length;
}

export interface IndividualLooking {
  /** Categories in the api's words, sorted: `path:sightings`, `plate`, `value:mac`, … Empty: not individual-looking. */
  categories: string[];
  /** The refused route pattern the path matches, if any. */
  refusedRoute?: string;
}

/**
 * Classifies a request by its raw path and its query (names and values, as parsed). Paths of
 * the api's own routes (`knownSegments`) are never read as identifiers: `V1` is not a plate.
 */
export function classifyRequest(rawPath: string, query: Record<string, unknown>, knownSegments: ReadonlySet<string> = new Set()): IndividualLooking {
  const { segments, original } = normalizePath(rawPath);
  const categories = new Set<string>();
  segments.forEach((segment, i) => {
    const word = segment.replace(/\.(json|geojson|ndjson|csv|xml|txt|html?)$/, '').replace(/[-_.\s]/g, '');
    const category = PATH_WORDS[word];
    if (category) categories.add(`path:${category}`);
    // One vehicle (vehicles/<id>) is individual; the vehicles measurement is not.
    if (word === 'vehicles' && i + 1 < segments.length) categories.add('path:vehicles');
    if (!knownSegments.has(segment)) {
      const kind = valueCategory(original[i]!);
      if (kind) categories.add(`value:${kind}`);
    }
  });
  for (const [name, value] of Object.entries(query)) {
    const named = nameCategory(decode(name));
    if (named) {
      categories.add(named);
      continue;
    }
    if (personalDataKind(name)) categories.add('value:plate');
    for (const v of Array.isArray(value) ? value : [value]) {
      const kind = typeof v === 'string' ? valueCategory(decode(v)) : undefined;
      if (kind) categories.add(`value:${kind}`);
    }
  }
  const refusedRoute = REFUSED_ROUTES.find((pattern) => matchPattern(pattern, segments));
  return { categories: [...categories].sort(), ...(refusedRoute === undefined ? {} : { refusedRoute }) };
}
