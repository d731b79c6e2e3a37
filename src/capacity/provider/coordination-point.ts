import type { GatewayConfig, TrustedOrganization } from '../../config/config.js';
import type { Publishers } from '../coordination/service.js';

/** The coordination point as this gateway reaches it: the organisation and its R4 FHIR base. */
export interface ReachableCoordinationPoint {
  organization: TrustedOrganization;
  base: string;
}

export type FindCoordinationPoint = () => ReachableCoordinationPoint | undefined;

/**
 * The one lookup of the configured coordination point (by id or by URA) in the trust registry: `trusted[]`, then the
 * care-services directory. It is looked up each time it is needed, since the directory syncs after start; undefined
 * while nobody knows it or it names no FHIR base.
 */
export function coordinationPointFinder(setting: GatewayConfig['coordinationPoint'], registry: Publishers): FindCoordinationPoint {
  return () => {
    if (!setting) return undefined;
    const organization = 'ura' in setting ? registry.trustedByUra(setting.ura) : registry.trusted(setting.organization);
    const base = organization?.endpoints.capacity ?? organization?.endpoints.fhir;
    return organization && base ? { organization, base } : undefined;
  };
}
