// Describes the shape of a refused message without any of its values, so the rejected-
// messages topic and logs can say what was wrong without repeating a MAC or a plate.
const MAX_EXCERPT = 400;

export function describeStructure(value: unknown, knownKeys: ReadonlySet<string>, depth = 0): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (depth >= 3) return `[${value.length} items]`;
    return `[${value.length} × ${describeStructure(value[0], knownKeys, depth + 1)}]`;
  }
  if (typeof value === 'object') {
    if (depth >= 3) return '{…}';
    const entries = Object.keys(value as object)
      .slice(0, 30)
      .map((key) => `${knownKeys.has(key) ? key : '?'}:${describeStructure((value as Record<string, unknown>)[key], knownKeys, depth + 1)}`);
    return `{${entries.join(',')}}`;
  }
  return typeof value;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function redactedExcerpt(payload: Buffer, knownKeys: ReadonlySet<string>): string {
  let decoded: string;
  try {
    decoded = strictUtf8.decode(payload);
  } catch {
    return `<${payload.length} bytes, not UTF-8>`;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoded);
  } catch {
    return `<${payload.length} bytes, not JSON>`;
  }
  const text = describeStructure(parsed, knownKeys);
  return text.length > MAX_EXCERPT ? `${text.slice(0, MAX_EXCERPT)}…` : text;
}
