/**
 * Does a weighted route split traffic as declared? For each route, its count out of N is compared
 * with its weight by an exact two-sided binomial test; the split is rejected when any route's
 * p-value is below (1 - confidence) / routes (Bonferroni: the chance of a false alarm over all
 * routes stays at most 1 - confidence).
 */

function logPmf(k: number, n: number, p: number, lf: number[]): number {
  if (p === 0) return k === 0 ? 0 : -Infinity;
  if (p === 1) return k === n ? 0 : -Infinity;
  return lf[n]! - lf[k]! - lf[n - k]! + k * Math.log(p) + (n - k) * Math.log(1 - p);
}

/** Exact two-sided p-value: the probability of an outcome at most as likely as `k` (R's binom.test). */
export function binomialTwoSidedP(k: number, n: number, p: number): number {
  const lf: number[] = [0];
  for (let i = 1; i <= n; i++) lf.push(lf[i - 1]! + Math.log(i));
  const observed = logPmf(k, n, p, lf);
  // Relative tolerance as in R, so outcomes as likely as the observed one count.
  const eps = 1e-7;
  let total = 0;
  for (let i = 0; i <= n; i++) {
    const l = logPmf(i, n, p, lf);
    if (l <= observed + eps) total += Math.exp(l);
  }
  return Math.min(1, total);
}

export interface SplitVerdict {
  ok: boolean;
  total: number;
  alpha: number;
  routes: Array<{ route: string; expected: number; count: number; share: number; p: number; ok: boolean }>;
  /** Responses from routes that were not declared at all. */
  unexpected: Record<string, number>;
}

/**
 * `weights` as declared (percentages or any proportions), `counts` as observed. A route with
 * weight 0 must get nothing; an undeclared route getting anything fails the split.
 */
export function checkSplit(
  weights: Record<string, number>,
  counts: Record<string, number>,
  confidence = 0.99,
): SplitVerdict {
  const sum = Object.values(weights).reduce((a, b) => a + b, 0);
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const names = Object.keys(weights);
  const alpha = (1 - confidence) / Math.max(1, names.length);
  const routes = names.map((route) => {
    const expected = sum > 0 ? weights[route]! / sum : 0;
    const count = counts[route] ?? 0;
    const p = binomialTwoSidedP(count, total, expected);
    return { route, expected, count, share: total ? count / total : 0, p, ok: p >= alpha };
  });
  const unexpected = Object.fromEntries(Object.entries(counts).filter(([r, c]) => !(r in weights) && c > 0));
  return {
    ok: total > 0 && routes.every((r) => r.ok) && Object.keys(unexpected).length === 0,
    total,
    alpha,
    routes,
    unexpected,
  };
}
