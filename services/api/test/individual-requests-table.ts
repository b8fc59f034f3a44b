// Requests that look for a person (issue 11, finding 8), in every spelling the api must see
// through, for the unit test (services/api/test/individual-requests.test.ts) and P9
// (test/privacy/p9-requests-audited.test.ts). Each is sent raw (node:http, no URL clean-up by
// the client) with every method; each must be audited and counted exactly once, whatever its
// status, and none of its values may reach the audit log, the metrics or the logs.
import { request } from 'node:http';

/** The identifiers the table sends; none may be found anywhere afterwards. */
export const SENT_VALUES = [
  'CZ9 QK417',
  'CZ9',
  'QK417',
  '0A:CA:FE:12:34:56',
  '0A:CA:FE',
  '454001234567890',
  'alice@example.org',
  'alice',
  'Qm9vbTEyMzQ1Njc4OTAxMg',
];

/** [raw path with query, what kind of route it is] */
export const INDIVIDUAL_PATHS: ReadonlyArray<readonly [string, 'refused' | 'documented' | 'unmatched']> = [
  ['/v1/devices/LP-0001/sightings', 'refused'],
  ['/v1/sightings', 'refused'],
  ['/v1//sightings', 'refused'],
  ['//v1///sightings//', 'refused'],
  ['/V1/Sightings/', 'refused'],
  ['/v1/%73ightings', 'refused'],
  ['/v1/%2573ightings', 'refused'],
  ['/v1/./sightings', 'refused'],
  ['/v1/x/../sightings', 'refused'],
  ['/v1\\sightings', 'refused'],
  ['/v1/sightings;jsessionid=1', 'refused'],
  [`/v1/${encodeURIComponent('ｓｉｇｈｔｉｎｇｓ')}`, 'refused'],
  ['/v1/sightings.json', 'unmatched'],
  ['/v1/plates/CZ9%20QK417', 'refused'],
  ['/v1/PLATES/CZ9%20QK417/history', 'refused'],
  ['/v1/vehicles/CZ9%20QK417/trips', 'refused'],
  ['/v1/macs/0A:CA:FE:12:34:56', 'refused'],
  ['/v1/pseudonyms/Qm9vbTEyMzQ1Njc4OTAxMg', 'refused'],
  ['/v1/devices/LP-0001/tracks', 'unmatched'],
  ['/api/v2/people/alice', 'unmatched'],
  ['/v1/devices/0A:CA:FE:12:34:56', 'unmatched'],
  ['/v1/aggregates?measurement=vehicles&vrm=CZ9%20QK417', 'documented'],
  ['/v1/aggregates?measurement=pedestrians&wifi=0A:CA:FE:12:34:56', 'documented'],
  ['/v1/aggregates?measurement=pedestrians&Licence_Plate=CZ9', 'documented'],
  ['/v1/aggregates?measurement=pedestrians&plate[]=CZ9', 'documented'],
  ['/v1/aggregates?measurement=pedestrians&wifiMac=0A:CA:FE:12:34:56', 'documented'],
  ['/v1/aggregates?measurement=pedestrians&%70late=CZ9', 'documented'],
  ['/v1/aggregates?measurement=pedestrians&q=CZ9%20QK417', 'documented'],
  ['/v1/register?imsi=454001234567890', 'documented'],
  ['/v1/transparency-report?period=day&email=alice@example.org', 'documented'],
  ['/openapi.json?pseudonym=Qm9vbTEyMzQ1Njc4OTAxMg', 'documented'],
  ['/livez?mac=0A:CA:FE:12:34:56', 'documented'],
  ['/metrics?name=alice', 'documented'],
  ['/v1/data-requests?plate=CZ9', 'documented'],
  ['/v1/nothing-here?bluetooth=0A:CA:FE:12:34:56', 'unmatched'],
  ['/nothing?q=0A-CA-FE-12-34-56', 'unmatched'],
];

export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'] as const;

/** The status each request must get: 403 where the route (or a refused route) takes the method, else 405. */
export function expectedStatus(path: string, kind: 'refused' | 'documented' | 'unmatched', method: string): 403 | 405 {
  if (kind !== 'documented') return method === 'GET' || method === 'HEAD' ? 403 : 405;
  const p = path.split('?')[0]!;
  const allowed = p === '/v1/data-requests' ? ['POST'] : ['GET', 'HEAD'];
  return allowed.includes(method) ? 403 : 405;
}

/** One request exactly as given: no client-side normalisation of the path. */
export function rawRequest(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: { ...headers, ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: no answer within 30 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** Data-request bodies about a person; each must be counted once, as a data request or a refused attempt. */
export const PLATE_REQUEST = { subject: { type: 'plate', value: 'CZ9 QK417' }, level: 'individual', data: ['movements'], purpose: 'criminal-investigation' };
