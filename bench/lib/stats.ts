/**
 * bench/lib/stats.ts — tiny statistics helpers (median, min, max, spread)
 * used to aggregate the interleaved rounds.
 */

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  if (s.length % 2 === 1) return s[mid] ?? Number.NaN;
  return ((s[mid - 1] ?? Number.NaN) + (s[mid] ?? Number.NaN)) / 2;
}

export function minOf(xs: readonly number[]): number {
  return xs.length === 0 ? Number.NaN : Math.min(...xs);
}

export function maxOf(xs: readonly number[]): number {
  return xs.length === 0 ? Number.NaN : Math.max(...xs);
}

/** (max - min) / median, as a fraction; NaN when undefined. */
export function relativeSpread(xs: readonly number[]): number {
  const m = median(xs);
  if (!Number.isFinite(m) || m === 0) return Number.NaN;
  return (maxOf(xs) - minOf(xs)) / m;
}
