// Tumbling windows: [start, start + size), aligned to the Unix epoch so every instance and
// every replay puts a timestamp in the same window.
export function windowStart(ts: number, sizeMs: number): number {
  return ts - (((ts % sizeMs) + sizeMs) % sizeMs);
}

export function snakeCase(name: string): string {
  return name.replace(/[A-Z]+/g, (m, offset: number) => (offset > 0 ? '_' : '') + m.toLowerCase());
}
