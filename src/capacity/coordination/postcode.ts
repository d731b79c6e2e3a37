/**
 * Proximity without external data: the numeric distance between two Dutch postcode-4 areas. PC4 numbers were
 * handed out region by region (10xx Amsterdam, 30xx Rotterdam, 97xx Groningen), so within a region a smaller
 * difference roughly means nearer. It is a ranking aid, not a distance in kilometres.
 */
export function postcode4(postalCode: string | undefined): number | undefined {
  const match = postalCode === undefined ? null : /^\s*([1-9][0-9]{3})(\s?[A-Za-z]{2})?\s*$/.exec(postalCode);
  return match ? Number(match[1]) : undefined;
}

export function postcode4Distance(a: number, b: number): number {
  return Math.abs(a - b);
}
