import type { Bundle, BundleEntry } from '../fhir/bundle.js';
import { notFound } from '../fhir/outcome.js';
import type { Resource } from '../fhir/version.js';
import type { FhirResponse, RestContext } from './types.js';

interface Parameter {
  resource?: Resource;
  part?: Parameter[];
}

interface Served {
  /** The resource as the caller may see it (the projections that concern the caller), or undefined. */
  shown(resource: Resource): Resource | undefined;
  /** Whether the caller may read the resource itself: `_include`d resources are no way around authorization. */
  readable(resource: Resource): boolean;
}

/**
 * The answer of a routed request as its caller may see it: every resource in it (the answer itself, a Bundle's
 * entries, the resources of a Parameters and its parts) through the capabilities' projections that concern the
 * caller, and `_include`d resources only where the caller could read them itself. A withheld answer is 404, as if
 * it were not there; a withheld entry or parameter is left out.
 */
export async function servedResponse(response: FhirResponse, context: RestContext): Promise<FhirResponse> {
  const [outcome, resource] = response;
  if (!resource) return response;
  const projections = (context.services.projections ?? []).filter((projection) => projection.concerns(context.principal));
  const readableIncludes = await readableIncluded(resource, context);
  const served = servedResource(resource, {
    shown: (item) => projections.reduce<Resource | undefined>((shown, projection) => shown && projection.project(shown), item),
    readable: (item) => readableIncludes.has(item),
  });
  return served ? [outcome, served] : [notFound()];
}

function servedResource(resource: Resource, served: Served): Resource | undefined {
  if (resource.resourceType === 'Bundle') return servedBundle(resource as Bundle, served);
  if (resource.resourceType === 'Parameters' && Array.isArray(resource.parameter)) {
    const parameter = servedParameters(resource.parameter as Parameter[], served);
    return parameter === resource.parameter ? resource : { ...resource, parameter };
  }
  return served.shown(resource);
}

function servedBundle(bundle: Bundle, served: Served): Bundle {
  if (!bundle.entry) return bundle;
  const entry = bundle.entry.flatMap((item): BundleEntry[] => {
    if (!item.resource) return [item];
    if (item.search?.mode === 'include' && !served.readable(item.resource)) return [];
    const resource = servedResource(item.resource, served);
    if (!resource) return [];
    return [resource === item.resource ? item : { ...item, resource }];
  });
  return unchanged(entry, bundle.entry) ? bundle : { ...bundle, entry };
}

function servedParameters(parameters: Parameter[], served: Served): Parameter[] {
  const shown = parameters.flatMap((parameter): Parameter[] => {
    const resource = parameter.resource && servedResource(parameter.resource, served);
    if (parameter.resource && !resource) return [];
    const part = Array.isArray(parameter.part) ? servedParameters(parameter.part, served) : parameter.part;
    if (resource === parameter.resource && part === parameter.part) return [parameter];
    return [{ ...parameter, ...(resource ? { resource } : {}), ...(part ? { part } : {}) }];
  });
  return unchanged(shown, parameters) ? parameters : shown;
}

/** Whether nothing was withheld or projected: the answer is then passed on as the handler built it. */
function unchanged<T>(served: T[], original: T[]): boolean {
  return served.length === original.length && served.every((item, index) => item === original[index]);
}

/** The `_include`d resources of a Bundle answer the caller could read itself (the guard decides each, asynchronously). */
async function readableIncluded(resource: Resource, context: RestContext): Promise<Set<Resource>> {
  const entries = resource.resourceType === 'Bundle' ? ((resource as Bundle).entry ?? []) : [];
  const included = entries.flatMap((item) => (item.resource && item.search?.mode === 'include' ? [item.resource] : []));
  const decisions = await Promise.all(included.map((item) => readable(item, context)));
  return new Set(included.filter((_item, index) => decisions[index]));
}

async function readable(resource: Resource, context: RestContext): Promise<boolean> {
  const { resourceType, id } = resource;
  const access = { version: context.services.version, operation: 'read' as const, path: `/${resourceType}/${String(id)}`, resourceType };
  return (await context.services.authenticator.authorize(context.principal, access)) === undefined;
}
