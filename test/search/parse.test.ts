import { describe, expect, it } from '@jest/globals';
import { OperationOutcomeError } from '../../src/fhir/outcome.js';
import { DEFAULT_COUNT, MAX_COUNT, parseSearchRequest } from '../../src/fhir/search/index.js';

function rejection(run: () => unknown): { text: string; expression?: string[] } {
  try {
    run();
  } catch (error) {
    if (!(error instanceof OperationOutcomeError)) throw error;
    expect(error.outcome.id).toBe('bad-request');
    const [first] = error.outcome.issue;
    return { text: first.details?.text ?? '', expression: first.expression };
  }
  throw new Error('expected a bad request');
}

describe('parseSearchRequest', () => {
  it('parses criteria, modifiers and comma-separated values, with defaults for the rest', () => {
    const request = parseSearchRequest('r4', 'Task', new URLSearchParams('owner=Organization/vvt-1&status=requested,received&code:not=x'));
    expect(request).toEqual({
      resourceType: 'Task',
      params: [
        { code: 'owner', values: ['Organization/vvt-1'] },
        { code: 'status', values: ['requested', 'received'] },
        { code: 'code', modifier: 'not', values: ['x'] },
      ],
      count: DEFAULT_COUNT,
      offset: 0,
      sort: [],
      include: [],
      revinclude: [],
      total: 'none',
      warnings: [],
    });
  });

  it('keeps escaped commas inside one value and repeated parameters apart (AND)', () => {
    const request = parseSearchRequest('r4', 'Patient', { family: 'a\\,b', birthdate: ['ge1940', 'lt1950'] });
    expect(request.params).toEqual([
      { code: 'family', values: ['a\\,b'] },
      { code: 'birthdate', values: ['ge1940'] },
      { code: 'birthdate', values: ['lt1950'] },
    ]);
  });

  it('reads _count (capped), _offset, _sort, _total, _include and _revinclude', () => {
    const request = parseSearchRequest('r4', 'Task', {
      _count: '5000',
      _offset: '40',
      _sort: '-authored-on,_lastUpdated',
      _total: 'estimate',
      _include: ['Task:focus', 'Task:owner:Organization'],
      _revinclude: 'AuditEvent:entity',
    });
    expect(request).toMatchObject({
      count: MAX_COUNT,
      offset: 40,
      sort: [
        { code: 'authored-on', descending: true },
        { code: '_lastUpdated', descending: false },
      ],
      total: 'accurate',
      include: ['Task:focus', 'Task:owner:Organization'],
      revinclude: ['AuditEvent:entity'],
    });
  });

  it('passes over parameters the HTTP layer handles and empty values', () => {
    expect(parseSearchRequest('stu3', 'Task', { _format: 'xml', _pretty: 'true', _summary: 'count', status: '' }).params).toEqual([]);
  });

  it('knows the STU3 parameters, which differ from R4', () => {
    expect(parseSearchRequest('stu3', 'Task', { organization: 'Organization/1' }).params).toHaveLength(1);
    expect(rejection(() => parseSearchRequest('r4', 'Task', { organization: 'Organization/1' })).text).toContain("'organization'");
  });

  it('refuses the AuditEvent parameters its lean index leaves out', () => {
    expect(parseSearchRequest('r4', 'AuditEvent', { patient: 'Patient/p1', date: 'ge2026' }).params).toHaveLength(2);
    expect(rejection(() => parseSearchRequest('r4', 'AuditEvent', { 'agent-name': 'Urse' })).expression).toEqual(['agent-name']);
  });

  it.each<[string, Record<string, string>, string]>([
    ['an unknown parameter', { colour: 'red' }, 'colour'],
    ['a chained parameter', { 'subject.name': 'x' }, 'subject.name'],
    ['an unsupported modifier', { 'status:contains': 'x' }, 'status:contains'],
    ['a malformed date', { 'authored-on': 'ge2024-13-01' }, 'authored-on'],
    ['a :missing that is not a boolean', { 'owner:missing': 'maybe' }, 'owner'],
    ['a negative _count', { _count: '-1' }, '_count'],
    ['an unknown _total', { _total: 'some' }, '_total'],
    ['an _include from another type', { _include: 'Patient:organization' }, '_include'],
    ['an _include of a non-reference parameter', { _include: 'Task:status' }, '_include'],
    ['a _revinclude that cannot refer to the type', { _revinclude: 'Observation:performer' }, '_revinclude'],
    ['a _sort on an unknown parameter', { _sort: 'colour' }, '_sort'],
    ['a reference with a wrong type modifier', { 'owner:Observation': '1' }, 'owner:Observation'],
  ])('rejects %s, naming it', (_what, query, name) => {
    expect(rejection(() => parseSearchRequest('r4', 'Task', query)).expression).toEqual([name]);
  });

  it('rejects a type that is not a resource type, and repeated control parameters', () => {
    expect(rejection(() => parseSearchRequest('r4', 'Spaceship', {})).text).toContain('Spaceship');
    expect(rejection(() => parseSearchRequest('r4', 'Task', new URLSearchParams('_count=1&_count=2'))).expression).toEqual(['_count']);
  });

  it('turns unknown parameters into warnings under lenient handling, but not malformed values', () => {
    const request = parseSearchRequest('r4', 'Task', { colour: 'red', status: 'requested', 'subject.name': 'x' }, { lenient: true });
    expect(request.params).toEqual([{ code: 'status', values: ['requested'] }]);
    expect(request.warnings.map((w) => [w.severity, w.expression])).toEqual([
      ['warning', ['colour']],
      ['warning', ['subject.name']],
    ]);
    expect(rejection(() => parseSearchRequest('r4', 'Task', { 'authored-on': 'yesterday' }, { lenient: true })).expression).toEqual(['authored-on']);
  });

  it('checks quantity and reference values', () => {
    expect(rejection(() => parseSearchRequest('r4', 'Observation', { 'value-quantity': 'heavy' })).expression).toEqual(['value-quantity']);
    expect(rejection(() => parseSearchRequest('r4', 'Observation', { 'value-quantity': '5|kg' })).expression).toEqual(['value-quantity']);
    expect(parseSearchRequest('r4', 'Observation', { 'value-quantity': 'ge5.4|http://unitsofmeasure.org|kg' }).params).toHaveLength(1);
    expect(rejection(() => parseSearchRequest('r4', 'Observation', { 'subject:Patient': 'Group/1' })).expression).toEqual(['subject']);
  });
});
