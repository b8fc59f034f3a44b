// What would ask for individual-level data: query parameters named after an identifier of a
// person, and routes that would return records about people. None of these exists as a
// feature; an attempt answers 403 with an explanation and is audited (route pattern and
// parameter names only, never their values).

/** Parameter names, compared lower-case with `-`, `_` and `.` removed. */
const IDENTIFYING = new Set([
  'plate', 'plates', 'licenceplate', 'licenseplate', 'numberplate', 'registration', 'vrn', 'anpr',
  'mac', 'macs', 'macaddress', 'bssid', 'ssid', 'ssids', 'rssi', 'imsi', 'imei', 'msisdn', 'phone', 'phonenumber',
  'pseudonym', 'pseudonyms', 'person', 'personid', 'identity', 'identifier', 'face', 'faceid', 'image', 'imageref',
  'sighting', 'sightings', 'track', 'trajectory',
]);

const normalize = (name: string) => name.toLowerCase().replace(/[-_.[\]]/g, '');

/**
 * The names among `names` that ask for an identifier, as the api's own canonical words (never
 * the caller's spelling, which could be anything).
 */
export function identifyingParams(names: readonly string[]): string[] {
  return [...new Set(names.map(normalize).filter((n) => IDENTIFYING.has(n)))].sort();
}

/**
 * Routes that would expose individual-level data (Express path patterns). They are served
 * only to refuse: 403, with an explanation, audited by pattern.
 */
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
