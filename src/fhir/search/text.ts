/** Text rules shared by indexing and querying, so both sides of a comparison are shaped the same way. */

/** Index columns stay well below PostgreSQL's b-tree row limit; longer values are compared on this prefix. */
export const MAX_INDEX_TEXT = 500;

export function truncateIndexText(value: string): string {
  return value.length > MAX_INDEX_TEXT ? value.slice(0, MAX_INDEX_TEXT) : value;
}

const ASCII = /^[\x00-\x7f]*$/;

/** FHIR string search is case- and accent-insensitive: `Müller` and `muller` are the same. */
export function normalizeString(value: string): string {
  // Plain ASCII has no accents to take off (and is most of what is indexed).
  const folded = ASCII.test(value) ? value : value.normalize('NFD').replace(/\p{Mn}/gu, '');
  return truncateIndexText(folded.toLowerCase().trim());
}

const RELATIVE_TAIL = /(?:^|\/)([A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;

/** `Type/id` of a literal reference (relative or absolute, version dropped), or undefined for other forms. */
export function relativeReference(reference: string): string | undefined {
  return RELATIVE_TAIL.exec(reference)?.[1];
}
