// Deterministic JSON for hashing: object keys sorted by UTF-16 code units, no whitespace,
// numbers and strings as JSON.stringify writes them. For the values an audit record can hold
// (null, booleans, finite numbers, well-formed strings, arrays, plain objects) this is exactly
// the JSON Canonicalization Scheme of RFC 8785, whose number and string rules are ECMAScript's;
// the few lines here spare a dependency. Anything else (NaN, lone surrogates, undefined,
// class instances) is refused rather than silently written some way.

export function canonicalJson(value: unknown): string {
  return write(value, '$');
}

function write(value: unknown, path: string): string {
  if (value === null || typeof value === 'boolean') return String(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`${path}: ${value} has no JSON form`);
    return JSON.stringify(value);
  }
  if (typeof value === 'string') return writeString(value, path);
  if (Array.isArray(value)) return `[${value.map((v, i) => write(v, `${path}[${i}]`)).join(',')}]`;
  if (typeof value === 'object' && (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null)) {
    const entries = Object.entries(value as Record<string, unknown>);
    // Default sort compares UTF-16 code units, which is what RFC 8785 asks for.
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${writeString(k, path)}:${write(v, `${path}.${k}`)}`).join(',')}}`;
  }
  throw new TypeError(`${path}: a ${typeof value === 'object' ? 'non-plain object' : typeof value} has no canonical JSON form`);
}

function writeString(value: string, path: string): string {
  if (!value.isWellFormed()) throw new TypeError(`${path}: string with a lone surrogate has no canonical JSON form`);
  return JSON.stringify(value);
}
