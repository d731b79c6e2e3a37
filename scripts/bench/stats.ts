/** Small statistics shared by the bench and evidence scripts. */

/** The p-th percentile (0–100) of the samples, nearest-rank from below. */
export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export const round = (value: number, digits = 3) => Number(value.toFixed(digits));

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * Alternating rounds of two contenders, so that both see the same share of a shared machine's load: the median
 * round of each, and the median of the per-round ratios.
 */
export function alternate(rounds: number, ours: () => number, theirs: () => number): { ours: number; theirs: number; ratio: number } {
  const results: [number, number][] = [];
  for (let round = 0; round < rounds; round++) results.push([ours(), theirs()]);
  return {
    ours: median(results.map(([a]) => a)),
    theirs: median(results.map(([, b]) => b)),
    ratio: median(results.map(([a, b]) => a / b)),
  };
}
