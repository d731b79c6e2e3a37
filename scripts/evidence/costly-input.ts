import fc from 'fast-check';

/**
 * Requests that are well-formed but costly, as fast-check arbitraries for the fuzz evidence (issue #12's classes):
 * resources with huge arrays, batches of many searches (from the tenant's EHR and from a remote organisation),
 * JWTs whose header fields have the wrong JSON type, and queries that repeat one parameter or sort by thousands of
 * terms. `who` says whose token goes with a request: `ehr` (the tenant's own EHR) or `remote` (a remote
 * organisation with a `capacity-subscription` token). Token stand-ins (`UNSIGNED:`, `SIGNED-HEADER:`) are made real
 * by the fuzz script.
 */
export interface CostlyRequest {
  kind: 'costly';
  who: 'ehr' | 'remote' | 'none';
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

const FHIR_JSON = { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' };

/** Sizes around the defaults of limits.resourceElements (100,000) and limits.bundleEntries (500). */
const arrayLength = fc.constantFrom(10, 1_000, 20_000, 99_000, 150_000);
const entryCount = fc.constantFrom(1, 100, 499, 500, 501, 2_000, 10_000);

const hugeArrayResource = fc
  .tuple(arrayLength, fc.constantFrom('name', 'given', 'identifier', 'extension'))
  .map(([length, where]) => {
    if (where === 'given') return { resourceType: 'Patient', name: [{ given: Array.from({ length }, () => 'a') }] };
    if (where === 'identifier') return { resourceType: 'Patient', identifier: Array.from({ length }, (_, at) => ({ system: 'urn:x', value: String(at) })) };
    if (where === 'extension') return { resourceType: 'Basic', code: { text: 'x' }, extension: Array.from({ length }, () => ({ url: 'urn:x', valueString: 'y' })) };
    return { resourceType: 'Patient', name: Array.from({ length }, () => ({ family: 'x' })) };
  });

const hugeArrays = fc.tuple(hugeArrayResource, fc.constantFrom('POST', 'PUT')).map(
  ([resource, method]): CostlyRequest => ({
    kind: 'costly',
    who: 'ehr',
    method,
    path: method === 'PUT' ? `/fhir/${resource.resourceType}/huge` : `/fhir/${resource.resourceType}`,
    headers: FHIR_JSON,
    body: JSON.stringify(method === 'PUT' ? { ...resource, id: 'huge' } : resource),
  }),
);

const searchUrl = fc.constantFrom(
  'MeasureReport?_count=100000',
  'MeasureReport?_include=*&_revinclude=*',
  'Patient?name=x&_count=5000',
  'Observation?_sort=-date',
  'Task?_include=Task:focus&_include=Task:patient',
  'Organization',
);

const manySearchBatches = fc.tuple(entryCount, searchUrl, fc.constantFrom('batch', 'transaction'), fc.constantFrom('ehr', 'remote') as fc.Arbitrary<'ehr' | 'remote'>).map(
  ([count, url, type, who]): CostlyRequest => ({
    kind: 'costly',
    who,
    method: 'POST',
    path: '/fhir',
    headers: FHIR_JSON,
    body: JSON.stringify({ resourceType: 'Bundle', type, entry: Array.from({ length: count }, () => ({ request: { method: 'GET', url } })) }),
  }),
);

/** JSON values of every type but the one a JOSE header field must have. */
const wrongType = fc.oneof(fc.integer(), fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }), fc.constant(null), fc.boolean(), fc.double());
const typedHeader = fc.record(
  { alg: fc.oneof(fc.constantFrom('ES256', 'none'), wrongType), typ: fc.oneof(fc.constant('JWT'), wrongType), kid: fc.oneof(fc.constant('remote#1'), wrongType), crit: wrongType, jwk: wrongType },
  { requiredKeys: [] },
);

const typedHeaderFields = fc
  .tuple(typedHeader, fc.constantFrom('UNSIGNED', 'SIGNED-HEADER'), fc.constantFrom('grant', 'client-assertion', 'introspection', 'bearer'))
  .map(([header, how, where]): CostlyRequest => {
    const token = `${how}:${JSON.stringify(header)}`;
    if (where === 'bearer') return { kind: 'costly', who: 'none', method: 'GET', path: '/fhir/Patient', headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+json' } };
    const form: Record<string, string> =
      where === 'grant'
        ? { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: token }
        : where === 'client-assertion'
          ? { grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: token }
          : { token };
    return {
      kind: 'costly',
      who: 'none',
      method: 'POST',
      path: where === 'introspection' ? '/oauth2/introspect' : '/oauth2/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: JSON.stringify(form),
    };
  });

const repeatCount = fc.constantFrom(2, 50, 51, 1_000, 3_000);
const repeatedQuery = fc.tuple(repeatCount, fc.constantFrom('name', '_sort', '_include', '_id', 'commas', 'sort-terms')).map(([count, shape]) => {
  if (shape === 'commas') return `_id=${Array.from({ length: count }, (_, at) => `id${at}`).join(',')}`;
  if (shape === 'sort-terms') return `_sort=${Array.from({ length: count }, (_, at) => (at % 2 ? '-' : '') + ['birthdate', 'name', '_id', '_lastUpdated'][at % 4]).join(',')}`;
  const value = shape === '_sort' ? 'name' : shape === '_include' ? 'Patient:organization' : 'x';
  return Array.from({ length: count }, () => `${shape}=${value}`).join('&');
});

const repeatedParameters = fc
  .tuple(repeatedQuery, fc.constantFrom('/fhir/Patient', '/fhir/stu3/Patient', '/fhir/MeasureReport', '/fhir/Patient/_search'), fc.constantFrom('ehr', 'remote') as fc.Arbitrary<'ehr' | 'remote'>)
  .map(([search, where, who]): CostlyRequest =>
    where.endsWith('_search')
      ? { kind: 'costly', who, method: 'POST', path: where, headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/fhir+json' }, body: search }
      : { kind: 'costly', who, method: 'GET', path: `${where}?${search}`, headers: { accept: 'application/fhir+json' } },
  );

export const costlyRequest = fc.oneof(hugeArrays, manySearchBatches, typedHeaderFields, repeatedParameters);
