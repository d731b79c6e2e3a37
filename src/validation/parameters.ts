import { isObject } from '../vocabulary/json.js';
import { reportUnresolved, type RecordedReference, type Report } from './bundle.js';

type Json = Record<string, unknown>;

const RELATIVE_REFERENCE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;

/**
 * A Parameters resource groups resources as a Bundle does (`$member-match` sends a Patient and the Coverages that
 * refer to it): a relative reference (`Patient/1`) inside it resolves to the parameter resource of that type and
 * id, as the HL7 validator resolves it (its type is checked where it is written). One that resolves to none is
 * an error only when references must resolve (`ContentPolicy.unresolvedReferences`): otherwise it may name a
 * resource on a server this validator cannot ask.
 */
export class ParametersContext {
  readonly references: RecordedReference[] = [];
  private readonly resources = new Map<string, Json>();

  constructor(parameters: Json) {
    this.collect(parameters.parameter);
  }

  private collect(parameters: unknown): void {
    if (!Array.isArray(parameters)) return;
    for (const parameter of parameters) {
      if (!isObject(parameter)) continue;
      const resource = parameter.resource;
      if (isObject(resource) && typeof resource.resourceType === 'string' && typeof resource.id === 'string') {
        this.resources.set(`${resource.resourceType}/${resource.id}`, resource);
      }
      this.collect(parameter.part);
    }
  }

  /** Whether the reference is one a Parameters resource resolves (a relative one). */
  static resolves(reference: string): boolean {
    return RELATIVE_REFERENCE.test(reference);
  }

  resolve(reference: string): Json | undefined {
    const [, type, id] = RELATIVE_REFERENCE.exec(reference) ?? [];
    return type ? this.resources.get(`${type}/${id}`) : undefined;
  }

  /** The recorded references that resolve to no parameter resource. */
  check(report: Report): void {
    for (const { reference, expression } of this.references) {
      if (!this.resolve(reference)) reportUnresolved(report, reference, expression);
    }
  }
}
