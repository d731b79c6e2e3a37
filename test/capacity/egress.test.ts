import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Resource } from '../../src/fhir/version.js';
import type { Scope } from '../../src/store/repository.js';
import { DATA_ABSENT_REASON_EXTENSION, POPULATION_SYSTEM, ZORGREGIO_EXTENSION } from '../../src/capacity/canonical.js';
import { readPublication } from '../../src/capacity/coordination/publication.js';
import { buildAvailabilityPayload, type AvailabilitySource } from '../../src/capacity/egress/payload.js';
import { compileEgressPolicy, EGRESS_POLICY_FILE, egressPolicy } from '../../src/capacity/egress/policy.js';
import { project } from '../../src/capacity/egress/project.js';
import { releaseAvailability } from '../../src/capacity/egress/release.js';
import { StoredReportEgress } from '../../src/capacity/egress/stored-report.js';
import { valueSetMembers } from '../../src/vocabulary/terminology.js';
import { availability, MOMENT, organization, providerSample, source } from './samples.js';
import { fixtureFolder } from '../fixtures.js';
import { AGB_SYSTEM, CARE_TYPE_SYSTEM, URA_SYSTEM } from '../../src/vocabulary/canonical.js';

const fixtures = fixtureFolder('capacity');
const rawPolicy = JSON.parse(readFileSync(EGRESS_POLICY_FILE, 'utf8')) as { resources: Record<string, RawRule> };

type RawRule = {
  fixed?: unknown;
  type?: string;
  oneOf?: unknown[];
  pattern?: string;
  maxLength?: number;
  valueSet?: string;
  elements?: Record<string, RawRule>;
  required?: string[];
  items?: RawRule;
  max?: number;
};

/** An independent reading of the policy file: every element of `value` must be allowed by `rule`. */
function violations(value: unknown, rule: RawRule, at: string): string[] {
  if ('fixed' in rule) return JSON.stringify(value) === JSON.stringify(rule.fixed) ? [] : [`${at}: not the fixed value`];
  if (rule.items) {
    if (!Array.isArray(value) || value.length === 0 || value.length > rule.max!) return [`${at}: not a list of 1..${rule.max}`];
    return value.flatMap((item, index) => violations(item, rule.items!, `${at}[${index}]`));
  }
  if (rule.elements) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${at}: not an object`];
    const found = Object.entries(value).flatMap(([name, item]) =>
      rule.elements![name] ? violations(item, rule.elements![name], `${at}.${name}`) : [`${at}.${name}: not allowed`],
    );
    const missing = (rule.required ?? []).filter((names) => !names.split('|').some((name) => name in value));
    return [...found, ...missing.map((names) => `${at}.${names}: required`)];
  }
  const textual = typeof value === 'string';
  const numeric = Number.isInteger(value) && (value as number) >= 0;
  const ok =
    (rule.type === 'unsignedInt' ? numeric : textual) &&
    (rule.oneOf === undefined || rule.oneOf.includes(value)) &&
    (rule.pattern === undefined || new RegExp(rule.pattern, 'u').test(value as string)) &&
    (rule.maxLength === undefined || (value as string).length <= rule.maxLength) &&
    (rule.type !== 'instant' || !Number.isNaN(Date.parse(value as string))) &&
    (rule.valueSet === undefined || [...valueSetMembers(rule.valueSet)].some((member) => member.endsWith(`|${String(value)}`)));
  return ok ? [] : [`${at}: ${JSON.stringify(value)} does not conform`];
}

/** The payload against the policy file: its links as the file's `links` describe them, every resource by its rule. */
function payloadViolations(payload: Resource): string[] {
  const { contained, reporter, ...report } = payload as Resource & { contained: Resource[]; reporter: Record<string, unknown> };
  const [organization, ...endpoints] = contained;
  const { id, endpoint: links, ...provider } = organization as Resource & { endpoint?: unknown };
  const { reference, ...reporterRest } = reporter;
  const endpointIds = endpoints.map((_, index) => `endpoint-${index + 1}`);
  return [
    ...(id === 'provider' && organization.resourceType === 'Organization' ? [] : ['contained[0]: not the provider Organization']),
    ...(reference === '#provider' ? [] : ['MeasureReport.reporter.reference: not #provider']),
    ...(JSON.stringify(links ?? []) === JSON.stringify(endpointIds.map((item) => ({ reference: `#${item}` }))) ? [] : ['Organization.endpoint: not the contained Endpoints']),
    ...violations(provider, rawPolicy.resources.Organization, 'Organization'),
    ...endpoints.flatMap(({ id: endpointId, ...endpoint }, index) => [
      ...(endpointId === endpointIds[index] ? [] : [`contained[${index + 1}].id: ${String(endpointId)}`]),
      ...violations(endpoint, rawPolicy.resources.Endpoint, `Endpoint[${index}]`),
    ]),
    ...violations({ ...report, reporter: reporterRest }, rawPolicy.resources.MeasureReport, 'MeasureReport'),
  ];
}

// ---- what a provider's internal data may carry, and a fuzzer that puts it anywhere --------------------------------

/** Every element name the policy allows somewhere; injected fields never use these, so they are truly extra. */
function allowedNames(rule: RawRule, names = new Set<string>()): Set<string> {
  for (const [name, child] of Object.entries(rule.elements ?? {})) {
    names.add(name);
    allowedNames(child, names);
  }
  if (rule.items) allowedNames(rule.items, names);
  return names;
}
const ALLOWED = Object.values(rawPolicy.resources).reduce((names, rule) => allowedNames(rule, names), new Set<string>());

const MARK = '§';
const marked = fc.string({ maxLength: 10 }).map((text) => `${MARK}${text}`);
const junkKey = fc.oneof(
  fc.constantFrom('tarief', 'tariff', 'price', 'prijs', 'kosten', 'omzetplafond', 'budgetplafond', 'contract', 'clientStop',
    'cliëntenstop', 'note', 'notes', 'comment', 'staff', 'personeel', 'rooster', 'text', 'contained', 'modifierExtension',
    'implicitRules', 'language', 'id', 'Name', 'Identifier', 'valueMoney', 'valueString', 'subject', 'evaluatedResource',
    'measureScore', 'stratifier', 'subjectResults', 'managingOrganization', 'telecom', 'contact', 'header', 'alias',
    'partOf', 'improvementNotation', 'identifierX', '__proto__', 'constructor'),
  fc.string({ minLength: 1, maxLength: 8 }),
);
const junkValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    marked,
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.oneof(fc.constantFrom(...ALLOWED), marked), tie('value'), { maxKeys: 4 }),
  ),
})).value;

const SENSITIVE_EXTENSIONS = [
  { url: 'http://vvt.example/fhir/StructureDefinition/tarief', valueMoney: { value: 312.5, currency: 'EUR' } },
  { url: 'http://vvt.example/fhir/StructureDefinition/omzetplafond', valueQuantity: { value: 1_250_000, unit: 'EUR' } },
  {
    url: 'http://vvt.example/fhir/StructureDefinition/clientstop',
    extension: [{ url: 'insurer', valueString: 'Verzekeraar A' }, { url: 'active', valueBoolean: true }],
  },
  { url: 'http://vvt.example/fhir/StructureDefinition/staff', valueInteger: 42 },
  { url: `${ZORGREGIO_EXTENSION}-intern`, valueId: 'rotterdam' },
  { url: ZORGREGIO_EXTENSION.replace('https:', 'http:'), valueId: 'rotterdam' },
  { url: ZORGREGIO_EXTENSION, valueString: 'tarief 120' },
  { url: DATA_ABSENT_REASON_EXTENSION, valueCode: 'tarief' },
  { url: DATA_ABSENT_REASON_EXTENSION, valueString: 'unknown' },
];
const junkExtension = fc.oneof(
  fc.constantFrom(...SENSITIVE_EXTENSIONS),
  fc.record({ url: marked, valueString: marked }),
  fc.record({ url: fc.constantFrom(ZORGREGIO_EXTENSION, DATA_ABSENT_REASON_EXTENSION), valueId: marked, valueCode: marked }),
);
const lookalikeSystem = fc.constantFrom(
  `${URA_SYSTEM}/`,
  URA_SYSTEM.toUpperCase(),
  URA_SYSTEM.replace('http:', 'https:'),
  'http://fhir.nl/fhir/NamingSystem/URA',
  'urn:oid:2.16.528.1.1007.3.3',
  'http://fhir.nl/fhir/NamingSystem/agb',
  `${AGB_SYSTEM} `,
  'http://zorgverzekeraar.example/contract',
  'http://vvt.example/tariefafspraak',
);
const junkIdentifier = fc.record({
  system: fc.oneof(lookalikeSystem, marked),
  value: fc.oneof(fc.stringMatching(/^[0-9]{8}$/), marked),
});
const junkCoding = fc.record({
  system: fc.oneof(fc.constantFrom(`${CARE_TYPE_SYSTEM}-intern`, `${POPULATION_SYSTEM}/tarief`, 'http://vvt.example/zorgproduct'), marked),
  code: fc.oneof(fc.constantFrom('elv-hoog', 'available', 'total', 'tarief'), marked),
});
const narrative = fc.record({ status: fc.constant('generated'), div: marked.map((text) => `<div xmlns="http://www.w3.org/1999/xhtml">${text} tarief € 312,50</div>`) });
const containedResource = fc.oneof(
  fc.constant({ resourceType: 'Organization', id: 'verzekeraar', identifier: [{ system: URA_SYSTEM, value: '99999999' }], name: 'Verzekeraar A' }),
  fc.record({ resourceType: fc.constant('Contract'), id: marked, term: junkValue }),
);

type Junk =
  | { kind: 'field'; key: string; value: unknown }
  | { kind: 'extension' | 'identifier' | 'coding' | 'item'; at: number; value: unknown }
  | { kind: 'root'; key: 'text' | 'contained' | 'modifierExtension' | 'meta'; value: unknown };

const junk: fc.Arbitrary<Junk> = fc.oneof(
  fc.record({ kind: fc.constant('field' as const), key: junkKey, value: junkValue }),
  fc.record({ kind: fc.constant('extension' as const), at: fc.nat(), value: junkExtension }),
  fc.record({ kind: fc.constant('identifier' as const), at: fc.nat(), value: junkIdentifier }),
  fc.record({ kind: fc.constant('coding' as const), at: fc.nat(), value: junkCoding }),
  fc.record({ kind: fc.constant('item' as const), at: fc.nat(), value: junkValue }),
  fc.record({ kind: fc.constant('root' as const), key: fc.constant('text' as const), value: narrative }),
  fc.record({ kind: fc.constant('root' as const), key: fc.constant('contained' as const), value: fc.array(containedResource, { minLength: 1, maxLength: 2 }) }),
  fc.record({ kind: fc.constant('root' as const), key: fc.constant('modifierExtension' as const), value: fc.array(junkExtension, { minLength: 1, maxLength: 2 }) }),
  fc.record({
    kind: fc.constant('root' as const),
    key: fc.constant('meta' as const),
    value: fc.record({ tag: fc.array(junkCoding, { maxLength: 2 }), security: fc.array(junkCoding, { maxLength: 2 }), source: marked }),
  }),
);

function objectsIn(value: unknown, found: Record<string, unknown>[] = []): Record<string, unknown>[] {
  if (Array.isArray(value)) value.forEach((item) => objectsIn(item, found));
  else if (typeof value === 'object' && value !== null) {
    found.push(value as Record<string, unknown>);
    Object.values(value).forEach((item) => objectsIn(item, found));
  }
  return found;
}

function insert(list: unknown[], at: number, value: unknown): void {
  list.splice(at % (list.length + 1), 0, structuredClone(value));
}

/** Puts one piece of junk into `node` (or, for `root`, into the resource itself) without touching allowed data. */
function inject(resource: Record<string, unknown>, node: Record<string, unknown>, item: Junk): void {
  switch (item.kind) {
    case 'field':
      if (!ALLOWED.has(item.key) && !Object.hasOwn(node, item.key)) Object.defineProperty(node, item.key, { value: structuredClone(item.value), enumerable: true, writable: true, configurable: true });
      return;
    case 'root':
      resource[item.key] = structuredClone(item.value);
      return;
    case 'extension':
    case 'identifier':
    case 'coding': {
      if (node[item.kind] === undefined) node[item.kind] = [];
      if (Array.isArray(node[item.kind])) insert(node[item.kind] as unknown[], item.at, item.value);
      return;
    }
    case 'item': {
      const lists = Object.values(node).filter(Array.isArray);
      if (lists.length > 0) insert(lists[item.at % lists.length], item.at, item.value);
    }
  }
}

function dirty(clean: AvailabilitySource, plan: [number, number, Junk][]): AvailabilitySource {
  const copy = structuredClone(clean);
  const resources = [copy.organization, copy.report, ...copy.endpoints] as Record<string, unknown>[];
  for (const [which, where, item] of plan) {
    const resource = resources[which % resources.length];
    const nodes = objectsIn(resource);
    inject(resource, nodes[where % nodes.length], item);
  }
  return copy;
}

const plan = fc.array(fc.tuple(fc.nat(), fc.nat(), junk), { minLength: 1, maxLength: 25 });

describe('egress policy: what leaves is built from the allowlist', () => {
  it('compiles the reviewed policy file and rejects malformed rules', () => {
    expect([...egressPolicy().resources.keys()].sort()).toEqual(['Endpoint', 'HealthcareService', 'Location', 'MeasureReport', 'Organization']);
    expect(() => compileEgressPolicy({ version: '1', resources: { X: { elements: { a: { type: 'nope' } } } } })).toThrow(/X\.a: unknown type/);
    expect(() => compileEgressPolicy({ version: '1', resources: { X: { elements: {}, required: ['a'] } } })).toThrow(/required 'a'/);
    expect(() => compileEgressPolicy({ version: '1', resources: { X: { items: { type: 'string' } } } })).toThrow(/max/);
  });

  it('projects by the rule: fixed values, alternatives, list limits, nothing unnamed', () => {
    const rule = compileEgressPolicy({
      version: '1',
      resources: {
        X: {
          elements: {
            kind: { fixed: 'x' },
            a: { type: 'unsignedInt' },
            b: { type: 'string', pattern: '^[a-z]+$' },
            list: { items: { type: 'code', oneOf: ['ok'] }, max: 2 },
          },
          required: ['a|b'],
        },
      },
    }).resources.get('X')!;
    expect(project({ a: 3, b: 'Nope', list: ['no', 'ok', 'ok', 'ok'], extra: 1 }, rule)).toEqual({ kind: 'x', a: 3, list: ['ok', 'ok'] });
    expect(project({ a: -1, b: 'fine' }, rule)).toEqual({ kind: 'x', b: 'fine' });
    expect(project({ a: '3', list: ['ok'] }, rule)).toBeUndefined();
    expect(project({ kind: 'x' }, rule)).toBeUndefined();
    expect(project([{ a: 1 }], rule)).toBeUndefined();
  });

  it('property: injected fields, extensions, contained resources, narrative and identifiers never leave', () => {
    fc.assert(
      fc.property(providerSample, availability, plan, (sample, counts, mutations) => {
        const clean = source(sample, counts);
        const expected = buildAvailabilityPayload(clean) as Resource;
        const actual = buildAvailabilityPayload(dirty(clean, mutations)) as Resource;
        expect(actual).toEqual(expected);
        expect(JSON.stringify(actual)).not.toContain(MARK);
        expect(payloadViolations(actual)).toEqual([]);
      }),
      { numRuns: 400 },
    );
  });

  it('property: the allowed data arrives whole at the coordination point', () => {
    fc.assert(
      fc.property(providerSample, availability, (sample, counts) => {
        const payload = buildAvailabilityPayload(source(sample, counts));
        const publication = readPublication(payload, MOMENT);
        expect(publication).toMatchObject({
          availability: counts,
          publishedAt: MOMENT.toISOString(),
          report: payload,
          provider: { identifiers: [{ system: URA_SYSTEM, value: sample.ura }], name: sample.name, region: sample.region, postalCode: sample.postalCode },
        });
        expect(JSON.stringify(publication)).toContain(sample.endpoints[0].address);
      }),
    );
  });

  it('lets nothing of foreign reports or organisations through (SANER example, US hospital)', () => {
    const saner = JSON.parse(readFileSync(path.join(fixtures, 'saner/MeasureReport-ExampleNJ-20200404-CDCPatientImpactAndHospitalCapacity.json'), 'utf8'));
    const hospital = JSON.parse(readFileSync(path.join(fixtures, 'learning-spike-erp/Org-1067.json'), 'utf8')).entry[0].resource;
    const provider = organization({ ura: '12345678', name: 'VVT Zuid', postalCode: '3011 AB', region: 'rijnmond', endpoints: [] });
    expect(buildAvailabilityPayload({ organization: provider, endpoints: [], report: saner })).toMatchObject({
      resourceType: 'OperationOutcome',
      id: 'unprocessable',
    });
    const withHospital = buildAvailabilityPayload({ organization: hospital, endpoints: [], report: saner });
    expect(withHospital).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ expression: ['Organization'] }] });
  });

  it("records every released payload: hash, destination, time and the payload, in the tenant's audit trail", async () => {
    const created: { tenant: string; resource: Resource }[] = [];
    const trail = {
      async append(tenant: string, resource: Resource): Promise<Resource> {
        created.push({ tenant, resource });
        return { ...resource, id: `audit-${created.length}` };
      },
    };
    const scope: Scope = { tenant: 'vvt-zuid', version: 'r4' };
    const sample = { ura: '12345678', name: 'VVT Zuid', postalCode: '3011 AB', region: 'rijnmond', endpoints: [{ role: 'notification' as const, address: 'https://vvt.example/notify' }] };
    const counts = { measuredAt: '2025-03-14T09:00:00.000Z', groups: [{ careType: 'elv-hoog', available: 2 }] };
    const released = await releaseAvailability(trail, scope, { destination: 'https://zcc.example/fhir', source: source(sample, counts), at: MOMENT });
    if ('resourceType' in released) throw new Error('expected a release');
    expect(released.hash).toBe(createHash('sha256').update(released.body).digest('hex'));
    expect(JSON.parse(released.body)).toEqual(released.payload);
    expect(created).toHaveLength(1);
    expect(created[0].tenant).toEqual(scope.tenant);
    const entity = (created[0].resource.entity as { detail: Record<string, string>[] }[])[0];
    const detail = Object.fromEntries(entity.detail.map((item) => [item.type, item.valueString ?? item.valueBase64Binary]));
    expect(detail).toEqual({ destination: 'https://zcc.example/fhir', sha256: released.hash, payload: Buffer.from(released.body).toString('base64') });
    expect(created[0].resource).toMatchObject({ resourceType: 'AuditEvent', recorded: MOMENT.toISOString(), agent: [{ who: { identifier: { value: 'vvt-zuid' } } }] });
  });

  it("builds a coordination point's stored report once per version for all its subscribers, and records each body byte for byte", async () => {
    const sample = { ura: '12345678', name: 'VVT Zuid', postalCode: '3011 AB', region: 'rijnmond', endpoints: [{ role: 'notification' as const, address: 'https://vvt.example/notify' }] };
    const published = buildAvailabilityPayload(source(sample, { measuredAt: '2025-03-14T09:00:00.000Z', groups: [{ careType: 'elv-hoog', available: 2 }] }));
    const stored = { ...published, id: 'ura-12345678', meta: { versionId: '3' }, text: { status: 'generated', div: '<div>omzetplafond</div>' } };
    const reads: string[] = [];
    const created: { tenant: string; resource: Resource }[] = [];
    const store = {
      resources: { vread: async (_scope: Scope, _type: string, id: string, versionId: string) => (reads.push(`${id}/${versionId}`), stored) },
      audit: { append: async (tenant: string, resource: Resource) => (created.push({ tenant, resource }), resource) },
    };
    const egress = new StoredReportEgress();
    const payloads = await Promise.all(Array.from({ length: 50 }, () => egress.payload(store, 'zcc', { id: 'ura-12345678', versionId: '3' })));
    expect(reads).toEqual(['ura-12345678/3']);
    expect(new Set(payloads).size).toBe(1);
    expect(payloads[0]).toEqual({ ...published, id: 'ura-12345678' });

    const body = JSON.stringify({ resourceType: 'Bundle', type: 'history', entry: [{ resource: payloads[0] }] });
    const version = { id: 'ura-12345678', versionId: '3' };
    const secondBody = body.replace('"history"', '"history" ');
    await Promise.all([
      egress.record(store.audit, 'zcc', version, { destination: 'https://ehr.example/hooks', at: MOMENT, body }),
      egress.record(store.audit, 'zcc', version, { destination: 'https://other.example/hooks', at: MOMENT, body: secondBody }),
    ]);
    await egress.record(store.audit, 'zcc', version, { destination: 'https://later.example/hooks', at: MOMENT, body });
    expect(created.map(({ resource }) => (resource.entity as unknown[]).length)).toEqual([2, 1]);
    const details = created.flatMap(({ resource }) =>
      (resource.entity as { detail: Record<string, string>[] }[]).map((entity) => Object.fromEntries(entity.detail.map((item) => [item.type, item.valueString ?? item.valueBase64Binary]))),
    );
    expect(details).toEqual([
      {
        destination: 'https://ehr.example/hooks',
        sha256: createHash('sha256').update(body).digest('hex'),
        payload: Buffer.from(JSON.stringify(payloads[0])).toString('base64'),
      },
      { destination: 'https://other.example/hooks', sha256: createHash('sha256').update(secondBody).digest('hex') },
      { destination: 'https://later.example/hooks', sha256: createHash('sha256').update(body).digest('hex') },
    ]);
    expect(created[0]).toMatchObject({ tenant: 'zcc', resource: { recorded: MOMENT.toISOString() } });
  });

  it('records nothing when there is nothing publishable', async () => {
    const created: Resource[] = [];
    const trail = { append: async (_: string, resource: Resource) => (created.push(resource), resource) };
    const result = await releaseAvailability(trail, { tenant: 't', version: 'r4' }, {
      destination: 'x',
      source: { organization: { resourceType: 'Organization', name: 'No identifier' }, endpoints: [], report: { resourceType: 'MeasureReport' } },
      at: MOMENT,
    });
    expect(result).toMatchObject({ resourceType: 'OperationOutcome', id: 'unprocessable' });
    expect(created).toEqual([]);
  });
});
