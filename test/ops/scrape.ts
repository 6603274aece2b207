/**
 * Test helper: parses the Prometheus text exposition format into `name{label="v",…}` → value,
 * with labels sorted by name, so tests can read single series and compare scrapes.
 */

export type Samples = ReadonlyMap<string, number>;

/** The key of a series: `name` or `name{a="1",b="2"}` (labels sorted). */
export function series(name: string, labels: Record<string, string> = {}): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return name;
  return `${name}{${keys.map((k) => `${k}="${labels[k] ?? ''}"`).join(',')}}`;
}

export function parseMetrics(text: string): Samples {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`unparseable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1] ?? ''] = pair[2] ?? '';
    out.set(series(m[1] ?? '', labels), Number(m[3]));
  }
  return out;
}

/** The value of a series, 0 when absent. */
export function value(samples: Samples, name: string, labels: Record<string, string> = {}): number {
  return samples.get(series(name, labels)) ?? 0;
}
