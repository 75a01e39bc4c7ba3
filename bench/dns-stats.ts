/** Small statistics helpers shared by the DNS benches (bench:dns-cache, bench:dns). */

/** The q-quantile of an ascending array (nearest rank, no interpolation); NaN when empty. */
export const quantile = (sorted: ArrayLike<number>, q: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

export const round = (v: number, digits = 2): number => Number(v.toFixed(digits));
