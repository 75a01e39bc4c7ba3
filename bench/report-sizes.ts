/**
 * How many records a generated report carries, as a day of real aggregate reports looks: most of 1-10
 * records (median about 3), a few of hundreds, one in a hundred of thousands. One copy for the bench scripts.
 */
export function recordsPerReport(r: () => number): number {
  const x = r();
  if (x < 0.01) return 1000 + Math.floor(r() * 4000);
  if (x < 0.06) return 11 + Math.floor(r() * 300);
  // 1-10, skewed to small: median about 3.
  return 1 + Math.floor(10 * r() ** 2.2);
}
