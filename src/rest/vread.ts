import { allOk } from '../fhir/outcome.js';
import type { FhirHandler } from './types.js';

/** `GET [base]/[type]/[id]/_history/[vid]`. */
export const readVersion: FhirHandler = async (request, context) => {
  const { type, id, vid } = request.params;
  return [allOk, await context.store.resources.vread(context.scope, type, id, vid)];
};
