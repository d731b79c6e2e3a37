import fc from 'fast-check';

/**
 * Hostile HTTP input for the gateway's FHIR API, as fast-check arbitraries: paths and queries (mostly the shapes the
 * router serves, sometimes anything), bodies (nearly valid resources, long arrays, arbitrary JSON, prototype keys, deep nesting,
 * Bundles, XML with DTDs and deep nesting, binary), headers and methods. Used by the bad-input test and the fuzz
 * evidence (scripts/evidence/fuzz.ts).
 */
export const visibleAscii = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 60 });
const segment = fc.oneof(
  fc.constantFrom('Patient', 'Task', 'Composition', 'Bundle', 'Observation', 'metadata', '_history', '_search', '$validate', 'Medication', '__proto__', '..', '%00', '%E0%A4%A'),
  fc.stringMatching(/^[A-Za-z0-9\-.]{1,70}$/),
  visibleAscii.map(encodeURIComponent),
);
export const base = fc.constantFrom('/fhir', '/fhir/stu3');
export const servedType = fc.oneof({ arbitrary: fc.constant('Patient'), weight: 3 }, fc.constantFrom('Task', 'Composition', 'Bundle', 'Observation', 'Basic'));
export const id = fc.oneof({ arbitrary: fc.stringMatching(/^[A-Za-z0-9\-.]{1,64}$/), weight: 3 }, { arbitrary: segment, weight: 1 });
/** Mostly the shapes the router serves, so that input reaches the handlers; sometimes anything. */
export const path = fc.oneof(
  { arbitrary: fc.tuple(base, servedType).map(([root, type]) => `${root}/${type}`), weight: 3 },
  { arbitrary: fc.tuple(base, servedType, id).map(([root, type, which]) => `${root}/${type}/${which}`), weight: 3 },
  { arbitrary: fc.tuple(base, servedType, id, id).map(([root, type, which, version]) => `${root}/${type}/${which}/_history/${version}`), weight: 1 },
  { arbitrary: fc.tuple(base, servedType, fc.constantFrom('_search', '_history', '$validate')).map((parts) => parts.join('/')), weight: 2 },
  { arbitrary: fc.tuple(base, fc.constantFrom('', '/', '/$validate', '/metadata')).map((parts) => parts.join('')), weight: 2 },
  { arbitrary: fc.tuple(base, fc.array(segment, { maxLength: 4 })).map(([root, segments]) => [root, ...segments].join('/')), weight: 1 },
);
const anyQuery = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom('_format', '_count', '_offset', '_include', '_since', '_total', '_sort', 'identifier', 'status', '_id', 'profile', '_pretty', 'subject:Patient', 'owner.name'), visibleAscii),
      visibleAscii,
    ),
    { maxLength: 4 },
  )
  .map((pairs) => (pairs.length ? '?' + new URLSearchParams(pairs).toString() : ''));
/**
 * Queries past the search complexity limits: a parameter repeated, many ORed values, long _sort and _include lists
 * (up to 1,200 terms, within the 8 kB a URL may have before the HTTP parser refuses it on its own).
 */
const complexQuery = fc
  .tuple(fc.constantFrom('name=a', 'identifier=s|1', 'birthdate=ge1940', '_sort=birthdate', '_include=Patient:general-practitioner'), fc.integer({ min: 1, max: 1200 }), fc.boolean())
  .map(([pair, wanted, commas]) => {
    const [name, value] = pair.split('=');
    const times = Math.min(wanted, Math.floor(8000 / ((commas ? value : pair).length + 1)));
    return commas ? `?${name}=${Array.from({ length: times }, () => value).join(',')}` : `?${Array.from({ length: times }, () => pair).join('&')}`;
  });
export const query = fc.oneof({ arbitrary: fc.constant(''), weight: 2 }, anyQuery, complexQuery);

const resourceType = fc.constantFrom('Patient', 'Task', 'Bundle', 'Observation', 'Parameters', 'NotAType', '');
/** Close to valid, so that some writes succeed and others reach the validator. */
const nearlyValidPatient = fc
  .record(
    {
      resourceType: fc.constant('Patient'),
      id: fc.stringMatching(/^[a-z0-9]{1,8}$/),
      gender: fc.constantFrom('male', 'female', 'unknown', 'x'),
      birthDate: fc.constantFrom('1940-01-01', '1940', '01-01-1940'),
      active: fc.oneof(fc.boolean(), fc.string()),
      name: fc.array(fc.record({ family: fc.string(), given: fc.array(fc.string(), { maxLength: 2 }) }), { maxLength: 2 }),
    },
    { requiredKeys: ['resourceType'] },
  )
  .map((value) => JSON.stringify(value));
/** A Patient with one long array, up to 150,000 items (some 3 MB): indexing one of 130,000 names overflowed the stack. */
const longArrays = fc.tuple(fc.constantFrom('name', 'telecom', 'identifier'), fc.integer({ min: 1_000, max: 150_000 })).map(([element, length]) =>
  JSON.stringify({
    resourceType: 'Patient',
    [element]: Array.from({ length }, (_, i) => (element === 'name' ? { family: `F${i}` } : { system: element === 'telecom' ? 'phone' : 'urn:x', value: String(i) })),
  }),
);
const hostileJson = fc.oneof(
  { arbitrary: nearlyValidPatient, weight: 2 },
  longArrays,
  fc.json({ maxDepth: 6 }),
  fc.record({ resourceType, id: fc.oneof(fc.string(), fc.integer()) }).map((value) => JSON.stringify(value)),
  fc
    .tuple(resourceType, fc.jsonValue({ maxDepth: 5 }), fc.constantFrom('__proto__', 'constructor', 'prototype', 'name', 'entry', 'status', 'meta'))
    .map(([type, value, key]) => `{"resourceType":"${type}","${key}":${JSON.stringify(value)}}`),
  fc.integer({ min: 1, max: 200 }).map((depth) => `{"resourceType":"Basic","extension":${'['.repeat(depth)}${']'.repeat(depth)}}`),
  // Many searches in one batch or transaction, each asking for as much as it can (finding 2 of issue 12).
  fc
    .tuple(fc.integer({ min: 1, max: 1200 }), fc.constantFrom('batch', 'transaction'), fc.constantFrom('Patient?_count=1000', 'Patient?_count=1000&_revinclude=Observation:subject', 'Patient/_history?_count=1000'))
    .map(([count, type, url]) => JSON.stringify({ resourceType: 'Bundle', type, entry: Array.from({ length: count }, () => ({ request: { method: 'GET', url } })) })),
  fc
    .array(fc.record({ request: fc.record({ method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', ''), url: visibleAscii }), fullUrl: fc.string(), resource: fc.jsonValue({ maxDepth: 3 }) }), { maxLength: 4 })
    .chain((entry) => fc.constantFrom('batch', 'transaction', 'collection').map((type) => JSON.stringify({ resourceType: 'Bundle', type, entry }))),
);
const hostileXml = fc.oneof(
  fc.string().map((text) => `<Patient xmlns="http://hl7.org/fhir">${text}</Patient>`),
  fc.constantFrom(
    '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY b "c">]><Patient xmlns="http://hl7.org/fhir"/>',
    '<Patient xmlns="http://hl7.org/fhir"><__proto__ value="x"/></Patient>',
    '<Patient><id value="no-namespace"/></Patient>',
    '<Task xmlns="http://hl7.org/fhir"><status value="requested"/><intent value="order"/></Task>',
  ),
  fc.integer({ min: 1, max: 300 }).map((depth) => `<Basic xmlns="http://hl7.org/fhir">${'<extension>'.repeat(depth)}${'</extension>'.repeat(depth)}</Basic>`),
);
export const body = fc.oneof({ arbitrary: hostileJson, weight: 3 }, hostileXml, fc.string(), fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString('latin1')));

const contentType = fc.oneof(
  { arbitrary: fc.constantFrom('application/fhir+json', 'application/fhir+xml'), weight: 4 },
  fc.constantFrom(
    'application/fhir+json',
    'application/fhir+xml',
    'application/json',
    'application/xml',
    'text/xml; charset=utf-8',
    'application/x-www-form-urlencoded',
    'text/plain',
    'multipart/form-data; boundary=x',
  ),
  visibleAscii,
);
export const headers = fc.record(
  {
    'content-type': contentType,
    accept: fc.oneof(
      { arbitrary: fc.constantFrom('application/fhir+json', 'application/fhir+xml', '*/*'), weight: 6 },
      fc.constantFrom('text/html', 'application/fhir+xml;q=0'),
      visibleAscii,
    ),
    'if-match': fc.oneof(fc.constantFrom('W/"1"', '"2"', 'W/""', '*'), visibleAscii),
    'if-none-exist': fc.oneof(fc.constantFrom('identifier=x', '_id=1', 'colour=blue'), visibleAscii),
    prefer: fc.oneof(fc.constantFrom('return=minimal', 'return=OperationOutcome', 'handling=lenient'), visibleAscii),
    'x-request-id': visibleAscii,
  },
  { requiredKeys: [] },
);
export const authorization = fc.constantFrom('valid', 'valid', 'valid', 'none', 'garbage');
export const method = fc.oneof({ arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'), weight: 6 }, fc.constantFrom('PATCH', 'OPTIONS', 'HEAD'));
