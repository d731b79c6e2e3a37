import { codeSystemConcepts } from './terminology.js';
import { CARE_TYPE_SYSTEM } from './canonical.js';

/** The Dutch follow-up care types (profiles/r4/capacity/CodeSystem-care-type.json). */
export type CareSetting = 'verblijf' | 'thuis';

export interface CareType {
  code: string;
  display: string;
  /** `verblijf`: counted in beds; `thuis`: counted in places for new clients (no beds, so no bed-level intake). */
  setting: CareSetting;
}

export const CARE_TYPES: ReadonlyMap<string, CareType> = new Map(
  [...codeSystemConcepts(CARE_TYPE_SYSTEM).values()].map((concept) => [
    concept.code,
    { code: concept.code, display: concept.display, setting: concept.properties.setting as CareSetting },
  ]),
);

export function careType(code: string | undefined): CareType | undefined {
  return code === undefined ? undefined : CARE_TYPES.get(code);
}
