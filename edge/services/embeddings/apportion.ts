/**
 * Splits a whole number of tokens among callers in proportion to their weights (their inputs'
 * estimated tokens) by the largest-remainder method, so the parts are whole numbers that add up to
 * the total exactly: each gets the floor of its share, and the tokens left go one each to the
 * largest remainders (ties to the earlier caller). All-zero weights split evenly.
 */
export function apportion(total: number, weights: readonly number[]): number[] {
  if (weights.length === 0) return [];
  const sum = weights.reduce((a, b) => a + b, 0);
  const shares = weights.map((w) => (sum > 0 ? (total * w) / sum : total / weights.length));
  const parts = shares.map(Math.floor);
  let left = total - parts.reduce((a, b) => a + b, 0);
  const order = shares.map((share, i) => ({ i, rest: share - Math.floor(share) })).sort((a, b) => b.rest - a.rest || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    parts[i]! += 1;
    left -= 1;
  }
  return parts;
}
