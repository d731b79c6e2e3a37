import type { Response } from 'express';
import { isOk, type OperationOutcome } from '../fhir/outcome.js';
import { responseMeta } from '../rest/headers.js';
import type { FhirResponse } from '../rest/types.js';
import type { FhirVersion, Resource } from '../fhir/version.js';
import { CONTENT_TYPES, serialize, type FhirFormat } from './format.js';
import { httpStatus } from '../rest/status.js';

export interface ResponseOptions {
  format: FhirFormat;
  version: FhirVersion;
  pretty: boolean;
  baseUrl: string;
  /** `Prefer: return=...` of a write; undefined for interactions it does not apply to. */
  prefer?: string;
}

type ReturnPreference = 'minimal' | 'representation' | 'OperationOutcome';

/** Writes `[outcome, resource?]` as HTTP: status from the outcome kind, headers from the resource, body per Prefer. */
export function sendFhir(res: Response, [result, resource]: FhirResponse, options: ResponseOptions): void {
  res.status(httpStatus(result));
  const meta = responseMeta(result, resource, options.baseUrl);
  if (meta.etag) res.setHeader('ETag', meta.etag);
  if (meta.lastModified) res.setHeader('Last-Modified', new Date(meta.lastModified).toUTCString());
  if (meta.location) res.setHeader('Location', meta.location);
  const body = responseBody(result, resource, returnPreference(options.prefer));
  if (!body) {
    res.end();
    return;
  }
  res.setHeader('Content-Type', CONTENT_TYPES[options.format]);
  res.send(serialize(body.resourceType === 'OperationOutcome' ? forRelease(body as OperationOutcome, options.version) : body, options.format, options.version, options.pretty));
}

function responseBody(result: OperationOutcome, resource: Resource | undefined, preference: ReturnPreference): Resource | undefined {
  if (!isOk(result)) return result;
  if (preference === 'minimal') return undefined;
  if (preference === 'OperationOutcome') return result;
  return resource ?? result;
}

function returnPreference(prefer: string | undefined): ReturnPreference {
  const match = prefer ? /return=(minimal|representation|OperationOutcome)/i.exec(prefer) : null;
  if (!match) return 'representation';
  const value = match[1].toLowerCase();
  return value === 'minimal' ? 'minimal' : value === 'operationoutcome' ? 'OperationOutcome' : 'representation';
}

/** STU3 clients read an issue's position from `location`; it carries the same FHIRPath as `expression`. */
function forRelease(outcome: OperationOutcome, version: FhirVersion): OperationOutcome {
  if (version !== 'stu3') return outcome;
  return { ...outcome, issue: outcome.issue.map((issue) => (issue.expression && !issue.location ? { ...issue, location: issue.expression } : issue)) };
}
