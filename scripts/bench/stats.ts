/** Small statistics shared by the bench and evidence scripts. */

/** The p-th percentile (0–100) of the samples, nearest-rank from below. */
export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export const round = (value: number, digits = 3) => Number(value.toFixed(digits));
