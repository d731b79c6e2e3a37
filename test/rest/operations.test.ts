import { describe, expect, it } from '@jest/globals';
import { capacityRoutes } from '../../src/capacity/routes.js';
import { directoryRoutes } from '../../src/directory/index.js';
import { allowsGet, definedLevels, operationDefinition, operationDefinitions, type OperationLevel } from '../../src/rest/operations/definitions.js';
import { readOperationInput, readParameters, writeOperationOutput } from '../../src/rest/operations/parameters.js';
import { OperationOutcomeError } from '../../src/fhir/outcome.js';
import type { RouteDefinition } from '../../src/rest/router.js';
import { FHIR_ROUTES } from '../../src/rest/routes.js';
import { subscriptionRoutes } from '../../src/subscriptions/routes.js';
import { transferRoutes } from '../../src/transfer/operations.js';

const OFFER = operationDefinition('eoverdracht-offer');
const MATCH = operationDefinition('MeasureReport-match-capacity');
const CENSUS = operationDefinition('Location-census');

const bundle = { resourceType: 'Bundle', type: 'collection' };
const receiver = { name: 'receiver', valueIdentifier: { system: 'http://fhir.nl/fhir/NamingSystem/ura', value: '11111111' } };
const parameters = (...parameter: object[]) => ({ resourceType: 'Parameters', parameter });

/** The 400 OperationOutcome an input is refused with: its text and the parameter it names. */
function refusal(read: () => unknown): { text?: string; expression?: string[] } {
  try {
    read();
  } catch (error) {
    if (!(error instanceof OperationOutcomeError)) throw error;
    expect(error.outcome.id).toBe('bad-request');
    const [issue] = error.outcome.issue;
    return { text: issue.details?.text, expression: issue.expression };
  }
  throw new Error('accepted');
}

describe('operation input read by its OperationDefinition', () => {
  const offer = (body: unknown, query = {}) => readOperationInput(OFFER, { query, body });

  it('gives each parameter its values, in the JSON form of its type', () => {
    const input = offer(parameters({ name: 'advanceNotice', resource: bundle }, receiver, { ...receiver, valueIdentifier: { value: '2' } }));
    expect(input.one('advanceNotice')?.resource).toEqual(bundle);
    expect(input.values('receiver')).toEqual([receiver.valueIdentifier, { value: '2' }]);
    expect(input.value('careType')).toBeUndefined();
  });

  it('refuses a missing, repeated, unknown or mistyped parameter, naming it', () => {
    const careType = { name: 'careType', valueCoding: { code: 'elv-hoog' } };
    expect(refusal(() => offer(parameters({ name: 'advanceNotice', resource: bundle })))).toEqual({ text: "'receiver' is required", expression: ['receiver'] });
    expect(refusal(() => offer(parameters(receiver, careType, careType)))).toEqual({ text: "'careType' may be given at most 1 time", expression: ['careType'] });
    expect(refusal(() => offer(parameters(receiver, { name: 'recipient', valueString: 'x' })))).toEqual({ text: "Unknown parameter 'recipient'", expression: ['recipient'] });
    expect(refusal(() => offer(parameters({ name: 'receiver', valueString: '11111111' })))).toEqual({ text: "'receiver' takes one valueIdentifier (Identifier)", expression: ['receiver'] });
    expect(refusal(() => offer(parameters(receiver, { name: 'advanceNotice', resource: { resourceType: 'Patient' } })))).toMatchObject({ expression: ['advanceNotice'] });
    expect(refusal(() => offer(parameters(receiver, { valueString: 'nameless' })))).toMatchObject({ text: 'Every parameter needs a name' });
    expect(refusal(() => offer({ resourceType: 'Patient' }))).toMatchObject({ text: 'The operation takes a Parameters resource' });
  });

  it('reads GET query parameters as their types, and refuses those a query cannot carry', () => {
    const input = readOperationInput(MATCH, { query: { 'care-type': 'elv-hoog', count: '3', 'include-unknown': 'true', date: '2025-03-21' } });
    expect([input.value('care-type'), input.value('count'), input.value('include-unknown'), input.value('date')]).toEqual(['elv-hoog', 3, true, '2025-03-21']);
    expect(input.asText()).toEqual({ 'care-type': ['elv-hoog'], count: ['3'], 'include-unknown': ['true'], date: ['2025-03-21'] });
    const match = (query: Record<string, string | string[]>) => readOperationInput(MATCH, { query: { 'care-type': 'grz', ...query } });
    expect(refusal(() => match({ count: 'ten' }))).toMatchObject({ expression: ['count'] });
    expect(refusal(() => match({ count: '0' }))).toMatchObject({ expression: ['count'] });
    expect(refusal(() => match({ 'include-unknown': 'yes' }))).toMatchObject({ expression: ['include-unknown'] });
    expect(refusal(() => match({ date: '21-03-2025' }))).toMatchObject({ expression: ['date'] });
    expect(refusal(() => match({ region: ['a', 'b'] }))).toMatchObject({ text: "'region' may be given at most 1 time" });
    expect(refusal(() => match({ _count: '1' }))).toMatchObject({ text: "Unknown parameter '_count'" });
    expect(refusal(() => offer(undefined, { receiver: '11111111' }))).toMatchObject({ expression: ['receiver'], text: expect.stringContaining('cannot be given in the query') });
  });

  it('takes the body as the parameter itself where the operation has one resource parameter', () => {
    expect(readOperationInput(CENSUS, { query: {}, body: bundle }).one('census')?.resource).toEqual(bundle);
    expect(readOperationInput(CENSUS, { query: {}, body: parameters({ name: 'census', resource: bundle }) }).one('census')?.resource).toEqual(bundle);
    expect(refusal(() => readOperationInput(CENSUS, { query: {}, body: { resourceType: 'Patient' } }))).toMatchObject({ text: 'The operation takes a Parameters resource' });
  });

  it('reads parts, and primitives that carry only an extension', () => {
    const absent = { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }] };
    const candidate = (...part: object[]) => ({ name: 'candidate', part });
    const complete = [
      { name: 'rank', valueInteger: 1 },
      { name: 'provider', valueIdentifier: { value: '1' } },
      { name: 'name', valueString: 'Zorggroep Maas' },
      { name: 'available', _valueInteger: absent },
      { name: 'measured-at', valueInstant: '2025-03-14T09:00:00Z' },
      { name: 'stale', valueBoolean: true },
      { name: 'endpoint', resource: { resourceType: 'Endpoint' } },
    ];
    const answer = parameters({ name: 'care-type', valueCoding: { code: 'grz' } }, { name: 'date', valueDate: '2025-03-14' }, candidate(...complete));
    const [read] = readParameters(MATCH, 'out', answer).all('candidate');
    expect(read.part?.value('name')).toBe('Zorggroep Maas');
    expect(read.part?.one('available')).toEqual({});
    const withoutRank = parameters(...answer.parameter.slice(0, 2), candidate(...complete.slice(1)));
    expect(refusal(() => readParameters(MATCH, 'out', withoutRank))).toEqual({ text: "'candidate.rank' is required", expression: ['candidate.rank'] });
    expect(refusal(() => readParameters(MATCH, 'in', answer))).toEqual({ text: "'care-type' takes one valueCode (code)", expression: ['care-type'] });
  });
});

describe('operation output written by its OperationDefinition', () => {
  it('puts each value in the element its type says, in the definition order, leaving out what is absent', () => {
    const task = { resourceType: 'Task', id: '1' };
    expect(writeOperationOutput(OFFER, { outcome: undefined, task: [task, task] })).toEqual(parameters({ name: 'task', resource: task }, { name: 'task', resource: task }));
    expect(writeOperationOutput(MATCH, { date: '2025-03-14', candidate: [{ rank: 1, provider: [{ value: '1' }] }] })).toEqual(
      parameters({ name: 'date', valueDate: '2025-03-14' }, { name: 'candidate', part: [{ name: 'rank', valueInteger: 1 }, { name: 'provider', valueIdentifier: { value: '1' } }] }),
    );
    expect(() => writeOperationOutput(OFFER, { tasks: [task] })).toThrow("offer defines no output parameter 'tasks'");
  });
});

describe('operations and their definitions cannot drift apart', () => {
  const none = {} as never;
  const routes: RouteDefinition[] = [...FHIR_ROUTES, ...transferRoutes(none), ...capacityRoutes(none), ...subscriptionRoutes(none), ...directoryRoutes(none)];
  const operations = routes.filter((route) => route.operation);

  it('every routed operation is invoked where and how its definition says', () => {
    for (const { method, path, operation } of operations) {
      const segments = path.split('/');
      const level: OperationLevel = segments.length === 1 ? 'system' : segments.length === 2 ? 'type' : 'instance';
      expect({ path, level, defined: definedLevels(operation!).includes(level) }).toEqual({ path, level, defined: true });
      expect(`$${operation!.code}`).toBe(segments[segments.length - 1]);
      if (level !== 'system') expect([path, operation!.resource]).toEqual([path, expect.arrayContaining([segments[0].startsWith(':') ? 'Resource' : segments[0]])]);
      if (method === 'GET') expect([path, allowsGet(operation!)]).toEqual([path, true]);
    }
  });

  it('every definition in conformance/ has a route', () => {
    const routed = new Set(operations.map((route) => route.operation!.id));
    expect([...operationDefinitions().keys()].filter((id) => !routed.has(id))).toEqual([]);
  });
});
