import type { FhirVersion } from '../fhir/version.js';

/**
 * Conformance resources as the validator keeps them: one version-neutral shape for R4 and STU3, stripped of
 * narrative and documentation (the base definitions are ~60 MB of JSON, mostly prose the validator never reads).
 */
export interface TypeRef {
  code: string;
  profiles: string[];
  targetProfiles: string[];
  /** The element of the one profile that constrains this one (`elementdefinition-profile-element`), rather than the profile's root. */
  profileElement?: string;
}

export interface Constraint {
  key: string;
  severity: 'error' | 'warning';
  human: string;
  expression?: string;
  bestPractice: boolean;
}

export interface Discriminator {
  type: 'value' | 'pattern' | 'exists' | 'type' | 'profile';
  path: string;
}

export interface Slicing {
  discriminators: Discriminator[];
  rules: 'open' | 'closed' | 'openAtEnd';
  ordered: boolean;
}

export interface Binding {
  strength: 'required' | 'extensible' | 'preferred' | 'example';
  valueSet?: string;
}

/** A fixed[x] or pattern[x] value with its type suffix, e.g. {type: 'Uri', value: 'http://snomed.info/sct'}. */
export interface TypedValue {
  type: string;
  value: unknown;
}

/** One ElementDefinition. In a differential every field but id and path is optional. */
export interface ElementDef {
  id: string;
  path: string;
  sliceName?: string;
  min?: number;
  /** '*' is Infinity. */
  max?: number;
  /** Cardinality of the element in the base resource or type: decides array vs single in JSON. */
  baseMax?: number;
  types?: TypeRef[];
  contentReference?: string;
  fixed?: TypedValue;
  pattern?: TypedValue;
  binding?: Binding;
  constraints?: Constraint[];
  slicing?: Slicing;
  maxLength?: number;
  minValue?: TypedValue;
  maxValue?: TypedValue;
  /** The regex a primitive type's `value` must match (from the type's definition). */
  regex?: string;
  /** A primitive here must have a value, not only extensions (R5 `mustHaveValue`). */
  mustHaveValue?: boolean;
  /** What a profile requires of a narrative here (HL7's narrative-language-control and narrative-source-control). */
  narrative?: NarrativeControls;
}

/**
 * `languages`: `_no` (no language sections), `_yes` (language sections), `_resource` (a section in the resource's
 * language) or language codes (a section in each). `source`: the issue severity for text not labelled with its source.
 */
export interface NarrativeControls {
  languages?: string[];
  source?: 'fatal' | 'error' | 'warning' | 'information';
}

export interface StructureDefinition {
  url: string;
  version?: string;
  name: string;
  type: string;
  kind: string;
  abstract: boolean;
  baseDefinition?: string;
  derivation?: 'specialization' | 'constraint';
  fhirVersion?: string;
  snapshot?: ElementDef[];
  differential?: ElementDef[];
  /** An extension's contexts: where it may be used (R4 `context`, STU3 `contextType` + `context`). */
  contexts?: ExtensionContext[];
  /** FHIRPath an extension's host must meet (`contextInvariant`). */
  contextInvariants?: string[];
  /** Where the definition came from (a file or a base bundle), for messages. */
  source: string;
}

export interface ExtensionContext {
  type: 'element' | 'extension' | 'fhirpath';
  expression: string;
}

/** R4 states each context's type; STU3 one contextType for all (`resource` and `datatype` name elements). */
function normalizeContexts(raw: Json): ExtensionContext[] | undefined {
  const listed = asArray(raw.context as (Json | string)[] | undefined);
  if (listed.length === 0) return undefined;
  const stu3Type = raw.contextType === 'extension' ? 'extension' : 'element';
  return listed.map((context) =>
    typeof context === 'string'
      ? { type: stu3Type, expression: context }
      : { type: context.type as ExtensionContext['type'], expression: String(context.expression) },
  );
}

export interface ValueSetInclude {
  system?: string;
  concepts?: string[];
  filters?: { property: string; op: string; value: string }[];
  valueSets?: string[];
}

export interface ValueSet {
  url: string;
  includes: ValueSetInclude[];
  excludes: ValueSetInclude[];
  /** A stored expansion, when the definition ships one. */
  expansion?: { system?: string; code?: string }[];
}

export interface Concept {
  code: string;
  children: Concept[];
}

export interface CodeSystem {
  url: string;
  content: string;
  caseSensitive: boolean;
  concepts: Concept[];
}

type Json = Record<string, unknown>;

const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

export function parseMax(max: unknown): number | undefined {
  if (typeof max !== 'string') return undefined;
  return max === '*' ? Infinity : Number.parseInt(max, 10);
}

const FHIR_TYPE_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type';

/**
 * R4 types the `value` of primitives and the `id`/`url` attributes as FHIRPath system types
 * (http://hl7.org/fhirpath/System.String) and names the FHIR type in an extension; STU3 leaves the code out.
 */
function typeCode(raw: Json): string {
  const code = raw.code as string | undefined;
  if (code?.startsWith('http://hl7.org/fhirpath/System.')) {
    const fhirType = asArray(raw.extension as Json[]).find((e) => e.url === FHIR_TYPE_EXTENSION);
    return (fhirType?.valueUrl as string | undefined) ?? code.slice('http://hl7.org/fhirpath/System.'.length).toLowerCase();
  }
  return code ?? 'string';
}

const PROFILE_ELEMENT = 'http://hl7.org/fhir/StructureDefinition/elementdefinition-profile-element';

function normalizeType(raw: Json): TypeRef {
  const type: TypeRef = {
    code: typeCode(raw),
    profiles: asArray(raw.profile as string | string[]),
    targetProfiles: asArray(raw.targetProfile as string | string[]),
  };
  const profileElement = asArray(raw._profile as Json | Json[])
    .flatMap((companion) => asArray(companion?.extension as Json[]))
    .find((e) => e.url === PROFILE_ELEMENT)?.valueString;
  if (typeof profileElement === 'string' && type.profiles.length === 1) type.profileElement = profileElement;
  return type;
}

/** An empty list allows anything, so it absorbs the other. */
const union = (a: string[], b: string[]) => (a.length === 0 || b.length === 0 ? [] : [...new Set([...a, ...b])]);

/** STU3 lists a Reference once per target profile; it is one type with several targets. */
function groupTypes(types: TypeRef[]): TypeRef[] {
  const byCode = new Map<string, TypeRef>();
  for (const type of types) {
    const known = byCode.get(type.code);
    if (!known) byCode.set(type.code, { ...type });
    else {
      known.profiles = union(known.profiles, type.profiles);
      known.targetProfiles = union(known.targetProfiles, type.targetProfiles);
    }
  }
  return [...byCode.values()];
}

const REGEX_EXTENSIONS = new Set([
  'http://hl7.org/fhir/StructureDefinition/regex',
  'http://hl7.org/fhir/StructureDefinition/structuredefinition-regex',
]);

/** R5's ElementDefinition.mustHaveValue, carried into R4 profiles as a cross-version extension. */
const MUST_HAVE_VALUE = 'http://hl7.org/fhir/5.0/StructureDefinition/extension-ElementDefinition.mustHaveValue';

const BEST_PRACTICE = 'http://hl7.org/fhir/StructureDefinition/elementdefinition-bestpractice';

const NARRATIVE_LANGUAGE_CONTROL = 'http://hl7.org/fhir/StructureDefinition/narrative-language-control';
const NARRATIVE_SOURCE_CONTROL = 'http://hl7.org/fhir/StructureDefinition/narrative-source-control';
/** An issue severity (`success`: no check); `hint` is the HL7 validator's word for information. */
const SOURCE_LEVELS: Record<string, NarrativeControls['source']> = { fatal: 'fatal', error: 'error', warning: 'warning', information: 'information', hint: 'information' };

function narrativeControls(extensions: Json[]): NarrativeControls | undefined {
  const controls: NarrativeControls = {};
  for (const extension of extensions) {
    const code = extension.valueCode;
    if (typeof code !== 'string') continue;
    if (extension.url === NARRATIVE_LANGUAGE_CONTROL) (controls.languages ??= []).push(code);
    else if (extension.url === NARRATIVE_SOURCE_CONTROL && Object.hasOwn(SOURCE_LEVELS, code)) controls.source = SOURCE_LEVELS[code];
  }
  return controls.languages || controls.source ? controls : undefined;
}

function normalizeConstraint(raw: Json): Constraint {
  return {
    key: String(raw.key),
    severity: raw.severity === 'warning' ? 'warning' : 'error',
    human: String(raw.human ?? raw.key),
    expression: typeof raw.expression === 'string' ? raw.expression : undefined,
    bestPractice: asArray(raw.extension as Json[]).some((e) => e.url === BEST_PRACTICE && e.valueBoolean === true),
  };
}

function normalizeBinding(raw: Json): Binding {
  const reference = (raw.valueSetReference as Json | undefined)?.reference;
  const valueSet = (raw.valueSet ?? raw.valueSetUri ?? reference) as string | undefined;
  return { strength: raw.strength as Binding['strength'], valueSet: valueSet?.split('|')[0] };
}

function typedValue(raw: Json, prefix: 'fixed' | 'pattern' | 'minValue' | 'maxValue'): TypedValue | undefined {
  for (const key in raw) {
    if (key.startsWith(prefix) && key.length > prefix.length && key[prefix.length] === key[prefix.length].toUpperCase()) {
      return { type: key.slice(prefix.length), value: raw[key] };
    }
  }
  return undefined;
}

export function normalizeElement(raw: Json): ElementDef {
  const element: ElementDef = { id: (raw.id as string | undefined) ?? '', path: raw.path as string };
  if (typeof raw.sliceName === 'string') element.sliceName = raw.sliceName;
  if (typeof raw.min === 'number') element.min = raw.min;
  if (raw.max !== undefined) element.max = parseMax(raw.max);
  const base = raw.base as Json | undefined;
  if (base?.max !== undefined) element.baseMax = parseMax(base.max);
  if (Array.isArray(raw.type)) element.types = groupTypes((raw.type as Json[]).map(normalizeType));
  if (typeof raw.contentReference === 'string') element.contentReference = raw.contentReference;
  element.fixed = typedValue(raw, 'fixed');
  element.pattern = typedValue(raw, 'pattern');
  element.minValue = typedValue(raw, 'minValue');
  element.maxValue = typedValue(raw, 'maxValue');
  if (raw.binding && (raw.binding as Json).strength) element.binding = normalizeBinding(raw.binding as Json);
  if (Array.isArray(raw.constraint)) element.constraints = (raw.constraint as Json[]).map(normalizeConstraint);
  const slicing = raw.slicing as Json | undefined;
  if (slicing) {
    element.slicing = {
      discriminators: asArray(slicing.discriminator as Json[]).map((d) => ({
        type: d.type as Discriminator['type'],
        path: String(d.path),
      })),
      rules: (slicing.rules as Slicing['rules']) ?? 'open',
      ordered: slicing.ordered === true,
    };
  }
  if (typeof raw.maxLength === 'number') element.maxLength = raw.maxLength;
  const regex = asArray(raw.type as Json[])
    .flatMap((t) => asArray(t.extension as Json[]))
    .find((e) => REGEX_EXTENSIONS.has(e.url as string));
  if (regex) element.regex = String(regex.valueString);
  const extensions = asArray(raw.extension as Json[]);
  if (raw.mustHaveValue === true || extensions.some((e) => e.url === MUST_HAVE_VALUE && e.valueBoolean === true)) element.mustHaveValue = true;
  const narrative = narrativeControls(extensions);
  if (narrative) element.narrative = narrative;
  for (const key of ['fixed', 'pattern', 'minValue', 'maxValue'] as const) if (element[key] === undefined) delete element[key];
  return element;
}

/**
 * Old STU3 profiles may leave out element ids; they are derived as the specification describes: an element
 * with a sliceName opens that slice for the elements under its path that follow it.
 */
function assignIds(elements: ElementDef[]): void {
  const current = new Map<string, string>();
  for (const element of elements) {
    if (element.id) {
      current.set(element.path, element.id);
      continue;
    }
    const dot = element.path.lastIndexOf('.');
    const parentId = dot < 0 ? '' : (current.get(element.path.slice(0, dot)) ?? element.path.slice(0, dot));
    const own = dot < 0 ? element.path : `${parentId}.${element.path.slice(dot + 1)}`;
    element.id = element.sliceName ? `${own}:${element.sliceName}` : own;
    current.set(element.path, element.id);
  }
}

function normalizeElements(raw: unknown): ElementDef[] | undefined {
  const list = (raw as Json | undefined)?.element;
  if (!Array.isArray(list)) return undefined;
  const elements = (list as Json[]).map(normalizeElement);
  if (elements.some((e) => !e.id)) assignIds(elements);
  return elements;
}

export function normalizeStructureDefinition(raw: Json, source: string): StructureDefinition {
  return {
    url: String(raw.url),
    version: typeof raw.version === 'string' ? raw.version : undefined,
    name: String(raw.name ?? raw.id ?? raw.url),
    type: String(raw.type ?? raw.constrainedType ?? ''),
    kind: String(raw.kind ?? ''),
    abstract: raw.abstract === true,
    baseDefinition: typeof raw.baseDefinition === 'string' ? raw.baseDefinition.split('|')[0] : undefined,
    derivation: raw.derivation as StructureDefinition['derivation'],
    fhirVersion: typeof raw.fhirVersion === 'string' ? raw.fhirVersion : undefined,
    snapshot: normalizeElements(raw.snapshot),
    differential: normalizeElements(raw.differential),
    contexts: normalizeContexts(raw),
    contextInvariants: asArray(raw.contextInvariant as string[] | undefined).filter((e) => typeof e === 'string'),
    source,
  };
}

function normalizeInclude(raw: Json): ValueSetInclude {
  return {
    system: typeof raw.system === 'string' ? raw.system : undefined,
    concepts: Array.isArray(raw.concept) ? (raw.concept as Json[]).map((c) => String(c.code)) : undefined,
    filters: Array.isArray(raw.filter)
      ? (raw.filter as Json[]).map((f) => ({ property: String(f.property), op: String(f.op), value: String(f.value) }))
      : undefined,
    valueSets: asArray(raw.valueSet as string | string[]).map((url) => url.split('|')[0]),
  };
}

export function normalizeValueSet(raw: Json): ValueSet {
  const compose = (raw.compose ?? {}) as Json;
  const expansion = (raw.expansion as Json | undefined)?.contains as Json[] | undefined;
  const flatten = (items: Json[]): { system?: string; code?: string }[] =>
    items.flatMap((item) => [
      { system: item.system as string | undefined, code: item.code as string | undefined },
      ...flatten(asArray(item.contains as Json[])),
    ]);
  // STU3 ValueSets may still define their own codes inline (codeSystem), as DSTU2 did.
  const inline = raw.codeSystem as Json | undefined;
  const includes = asArray(compose.include as Json[]).map(normalizeInclude);
  if (inline?.system) includes.push({ system: String(inline.system), concepts: flattenCodes(asArray(inline.concept as Json[])) });
  return {
    url: String(raw.url),
    includes,
    excludes: asArray(compose.exclude as Json[]).map(normalizeInclude),
    expansion: expansion ? flatten(expansion) : undefined,
  };
}

function flattenCodes(concepts: Json[]): string[] {
  return concepts.flatMap((c) => [String(c.code), ...flattenCodes(asArray(c.concept as Json[]))]);
}

function normalizeConcepts(raw: Json[]): Concept[] {
  return raw.map((c) => ({ code: String(c.code), children: normalizeConcepts(asArray(c.concept as Json[])) }));
}

export function normalizeCodeSystem(raw: Json): CodeSystem {
  return {
    url: String(raw.url),
    content: String(raw.content ?? 'complete'),
    caseSensitive: raw.caseSensitive !== false,
    concepts: normalizeConcepts(asArray(raw.concept as Json[])),
  };
}

/** Whether a definition declaring `fhirVersion` belongs to a release (one that does not say belongs to all). */
export function belongsTo(fhirVersion: string | undefined, version: FhirVersion): boolean {
  if (!fhirVersion) return true;
  return version === 'stu3' ? fhirVersion.startsWith('3.') : fhirVersion.startsWith('4.0');
}

export const CORE_PREFIX = 'http://hl7.org/fhir/StructureDefinition/';

/**
 * A publisher's namespace: a canonical up to `/StructureDefinition/` (else up to its last `/`), without the
 * scheme, which publishers mix (`nictiz.nl/fhir`, `nuts-foundation.github.io/nl-generic-functions-ig`).
 */
export function publisherNamespace(url: string): string {
  const at = url.lastIndexOf('/StructureDefinition/');
  return url.slice(0, at < 0 ? url.lastIndexOf('/') : at).replace(/^https?:\/\//, '');
}
