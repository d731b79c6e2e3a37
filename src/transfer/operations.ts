import type { Identifier, OperationDefinition, Reference } from 'fhir/r4.js';
import { CARE_TYPE_SYSTEM, CARE_TYPE_VALUESET } from '../vocabulary/canonical.js';
import { operationDefinition } from '../rest/operations/definitions.js';
import { readOperationInput, writeOperationOutput, type OperationParameters } from '../rest/operations/parameters.js';
import { badRequest, issue, outcome, OperationOutcomeError, unprocessable, type OperationOutcomeIssue } from '../fhir/outcome.js';
import type { RouteDefinition } from '../rest/router.js';
import type { FhirHandler } from '../rest/types.js';
import type { Resource } from '../fhir/version.js';
import { careType } from '../vocabulary/care-types.js';
import { valueSetMembers } from '../vocabulary/terminology.js';
import { type Coding, type DocumentKind } from './codes.js';
import { requireRole, type TransferContext } from './context.js';
import { withUnitOfWork } from './context.js';
import type { DocumentSource } from './document.js';
import { pullOnBehalf } from './receiver.js';
import { handoff, offer, trustedByIdentifier } from './sender.js';

/**
 * The sending EHR's operations (conformance/OperationDefinition-eoverdracht-offer.json and -handoff.json):
 *
 * - `POST [base]/$offer`: the advance notice (`advanceNotice`: a Bundle with the Composition and what it references,
 *   or `composition`: a reference to one stored here) and one `receiver` identifier (URA or gateway organisation id)
 *   per candidate; answers with one `task` per receiver.
 * - `POST [base]/Task/[id]/$handoff`: the nursing handoff (`nursingHandoff` Bundle or `composition` reference) for
 *   the receiver that accepted; the Task goes in-progress and the other candidates are cancelled.
 *
 *
 * And the receiving EHR's (conformance/OperationDefinition-eoverdracht-pull.json):
 *
 * - `POST [base]/Task/[id]/$pull`: the pull of the sender's Task and its document, on behalf of the person the EHR's
 *   token names (a sender may open the nursing handoff only to a person); answers the local Task.
 *
 * All work on the R4 and the STU3 base; what goes out to other organisations is STU3.
 */
const OFFER = operationDefinition('eoverdracht-offer');
const HANDOFF = operationDefinition('eoverdracht-handoff');
const PULL = operationDefinition('eoverdracht-pull');

export function transferRoutes(context: TransferContext): RouteDefinition[] {
  const offerHandler: FhirHandler = async (request, rest) => {
    requireRole(context, rest.principal.tenant, 'sender');
    const parameters = readOperationInput(OFFER, request);
    const { result, issues } = await offer(withUnitOfWork(context, rest.store), {
      tenant: rest.principal.tenant,
      version: rest.services.version,
      source: documentSource(parameters, 'advanceNotice'),
      receivers: receiversOf(context, parameters.values<Identifier>('receiver')),
      careType: careTypeOf(parameters.value<Coding>('careType')),
    });
    return [outcome('ok', [issue('information', 'informational', `Offered to ${result.length} receiver(s)`), ...issues]), answer(OFFER, result, issues)];
  };
  const handoffHandler: FhirHandler = async (request, rest) => {
    requireRole(context, rest.principal.tenant, 'sender');
    const { result, issues } = await handoff(withUnitOfWork(context, rest.store), {
      tenant: rest.principal.tenant,
      version: rest.services.version,
      taskId: request.params.id,
      source: documentSource(readOperationInput(HANDOFF, request), 'nursingHandoff'),
    });
    return [outcome('ok', [issue('information', 'informational', 'Handed over'), ...issues]), answer(HANDOFF, [result], issues)];
  };
  const pullHandler: FhirHandler = async (request, rest) => {
    const { principal } = rest;
    const task = await pullOnBehalf(withUnitOfWork(context, rest.store), {
      tenant: principal.tenant,
      version: rest.services.version,
      task: request.params.id,
      ...(principal.person ? { person: principal.person } : {}),
    });
    return [outcome('ok', [issue('information', 'informational', 'Pull queued on behalf of the person the token names')]), writeOperationOutput(PULL, { task })];
  };
  return [
    { method: 'POST', path: '$offer', access: 'operation', interactions: [], operation: OFFER, audit: true, handler: offerHandler },
    { method: 'POST', path: 'Task/:id/$handoff', access: 'operation', interactions: [], operation: HANDOFF, audit: true, handler: handoffHandler },
    { method: 'POST', path: 'Task/:id/$pull', access: 'operation', interactions: [], operation: PULL, audit: true, handler: pullHandler },
  ];
}

function documentSource(parameters: OperationParameters, bundleParameter: DocumentKind): DocumentSource {
  const bundle = parameters.one(bundleParameter)?.resource;
  const composition = parameters.value<Reference>('composition')?.reference;
  if ((bundle === undefined) === (composition === undefined)) {
    throw new OperationOutcomeError(badRequest(`Give either '${bundleParameter}' (a Bundle) or 'composition' (a reference), not both or neither`, 'Parameters.parameter'));
  }
  return bundle ? { bundle } : { composition: composition as string };
}

/** Receivers by URA or gateway organisation id, among the trusted organisations; each at most once. */
function receiversOf(context: TransferContext, identifiers: Identifier[]): string[] {
  const ids = identifiers.map((identifier) => {
    const found = trustedByIdentifier(context, identifier);
    if (!found) throw new OperationOutcomeError(unprocessable(`No trusted organisation has the identifier ${identifier.system}|${identifier.value}`, 'receiver'));
    return found;
  });
  if (new Set(ids).size !== ids.length) throw new OperationOutcomeError(badRequest('A receiver is named twice', 'receiver'));
  return ids;
}

/** The care-type ValueSet as `system|code`. */
const CARE_TYPE_CODES = valueSetMembers(CARE_TYPE_VALUESET);

/**
 * The care type the transfer asks for (the one the EHR matched capacity for): the Tasks carry it as `performerType`,
 * so the receiver that accepts counts a place of that type taken (docs/capacity.md §4). Optional.
 */
function careTypeOf(coding: Coding | undefined): Coding | undefined {
  if (coding === undefined) return undefined;
  if (typeof coding.code !== 'string') throw new OperationOutcomeError(badRequest("'careType' needs a code (and its system)", 'careType'));
  const known = CARE_TYPE_CODES.has(`${coding.system}|${coding.code}`) ? careType(coding.code) : undefined;
  if (!known) {
    const text = `'careType' ${coding.system}|${coding.code} is not in the ValueSet ${CARE_TYPE_VALUESET} (the codes of ${CARE_TYPE_SYSTEM})`;
    throw new OperationOutcomeError(outcome('unprocessable', [issue('error', 'code-invalid', text, 'careType')]));
  }
  return { system: CARE_TYPE_SYSTEM, code: known.code, display: known.display };
}

function answer(definition: OperationDefinition, tasks: Resource[], issues: OperationOutcomeIssue[]): Resource {
  return writeOperationOutput(definition, { task: tasks, outcome: issues.length > 0 ? outcome('ok', issues) : undefined });
}
