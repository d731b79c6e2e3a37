import type { OperationDefinition, OperationDefinitionParameter, ParametersParameter } from 'fhir/r4.js';
import { isObject } from '../../vocabulary/json.js';
import { badRequest, OperationOutcomeError } from '../../fhir/outcome.js';
import type { QueryValues } from '../types.js';
import type { Resource } from '../../fhir/version.js';
import { inputParameters, isPrimitiveType } from './definitions.js';

/**
 * Reads and writes an operation's `Parameters` as its OperationDefinition says: names, `use`, min/max cardinality
 * and types (primitives, complex types, resources and parts). Input that does not fit is a 400 OperationOutcome
 * naming the parameter. STU3 and R4 Parameters have the same shape, so one reader serves both bases.
 */
export interface ParameterValue {
  /** A primitive (string, number or boolean) or a complex type (Identifier, Coding, Reference, ...). */
  value?: unknown;
  resource?: Resource;
  part?: OperationParameters;
}

export class OperationParameters {
  constructor(private readonly byName: ReadonlyMap<string, ParameterValue[]>) {}

  all(name: string): ParameterValue[] {
    return this.byName.get(name) ?? [];
  }

  /** The single value of a parameter whose definition allows at most one. */
  one(name: string): ParameterValue | undefined {
    return this.all(name)[0];
  }

  /** A parameter's values in the JSON form of its type (`Identifier`, `Coding`, string, number, ...). */
  values<T>(name: string): T[] {
    return this.all(name).flatMap(({ value }) => (value === undefined ? [] : [value as T]));
  }

  /** The value of a parameter given at most once. */
  value<T>(name: string): T | undefined {
    return this.values<T>(name)[0];
  }

  /** Every primitive parameter's values as text, by name: for domain code that checks its input as query text. */
  asText(): Record<string, string[]> {
    return Object.fromEntries(
      [...this.byName.keys()].map((name) => [name, this.values<unknown>(name).flatMap((value) => (isObject(value) ? [] : [String(value)]))]),
    );
  }
}

type Use = 'in' | 'out';

/**
 * An operation's input: the query's parameters (primitives only, as GET allows) and the body's. The body is a
 * `Parameters` resource or, where the operation takes exactly one resource parameter, that resource itself.
 */
export function readOperationInput(definition: OperationDefinition, request: { query: QueryValues; body?: unknown }): OperationParameters {
  const given = [...queryParameters(definition, request.query), ...bodyParameters(definition, request.body)];
  return readGroup(inputParameters(definition), given, '');
}

/** Checks a `Parameters` resource against the definition's parameters of one use (the output of a handler, in tests). */
export function readParameters(definition: OperationDefinition, use: Use, parameters: unknown): OperationParameters {
  return readGroup(ofUse(definition.parameter, use), parameterList(parameters), '');
}

/** Values by parameter name; a part is given as values by part name. Names the definition lacks are a programming error. */
export type OutputValues = Record<string, unknown>;

/** Builds the `Parameters` an operation answers with, in the definition's order, each value in the element its type says. */
export function writeOperationOutput(definition: OperationDefinition, values: OutputValues): Resource {
  return { resourceType: 'Parameters', parameter: writeGroup(ofUse(definition.parameter, 'out'), values, definition.code) };
}

function writeGroup(definitions: OperationDefinitionParameter[], values: OutputValues, context: string): ParametersParameter[] {
  for (const name of Object.keys(values)) {
    if (!definitions.some((parameter) => parameter.name === name)) throw new Error(`${context} defines no output parameter '${name}'`);
  }
  return definitions.flatMap((parameter) =>
    [values[parameter.name]].flat().flatMap((value) => (value === undefined ? [] : [writeValue(parameter, value)])),
  );
}

function writeValue(parameter: OperationDefinitionParameter, value: unknown): ParametersParameter {
  const { name } = parameter;
  if (parameter.part) return { name, part: writeGroup(parameter.part, value as OutputValues, name) };
  if (isResourceType(parameter.type)) return { name, resource: value as ParametersParameter['resource'] };
  return { name, [valueKey(parameter.type)]: value };
}

function ofUse(parameters: OperationDefinitionParameter[] | undefined, use: Use): OperationDefinitionParameter[] {
  return (parameters ?? []).filter((parameter) => parameter.use === use);
}

function parameterList(parameters: unknown): unknown[] {
  if (!isObject(parameters) || parameters.resourceType !== 'Parameters') throw invalid('The operation takes a Parameters resource', 'resourceType');
  if (parameters.parameter !== undefined && !Array.isArray(parameters.parameter)) throw invalid('Parameters.parameter must be a list', 'Parameters.parameter');
  return parameters.parameter ?? [];
}

function bodyParameters(definition: OperationDefinition, body: unknown): unknown[] {
  if (body === undefined) return [];
  if (isObject(body) && body.resourceType !== 'Parameters') {
    const [single, ...others] = inputParameters(definition).filter((parameter) => isResourceType(parameter.type));
    if (single && others.length === 0 && acceptsResource(single.type, body.resourceType)) return [{ name: single.name, resource: body }];
  }
  return parameterList(body);
}

function queryParameters(definition: OperationDefinition, query: QueryValues): ParametersParameter[] {
  const inputs = inputParameters(definition);
  return Object.entries(query).flatMap(([name, values]) => {
    const parameter = inputs.find((candidate) => candidate.name === name);
    if (!parameter) throw unknownParameter(name);
    if (!isPrimitiveType(parameter.type)) throw invalid(`'${name}' (${parameter.type ?? 'parts'}) cannot be given in the query; POST a Parameters resource`, name);
    return [values].flat().map((text) => ({ name, [valueKey(parameter.type)]: fromQuery(parameter.type!, text) }));
  });
}

/** A query value in the JSON form the parameter's type has in a Parameters resource. */
function fromQuery(type: string, text: string): unknown {
  if (type === 'boolean') return text === 'true' ? true : text === 'false' ? false : text;
  if (NUMBER_TYPES.has(type)) return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
  return text;
}

function readGroup(definitions: OperationDefinitionParameter[], given: unknown[], path: string): OperationParameters {
  const byName = new Map<string, ParameterValue[]>();
  for (const item of given) {
    if (!isObject(item) || typeof item.name !== 'string') throw invalid('Every parameter needs a name', `${path}parameter`);
    const parameter = definitions.find((candidate) => candidate.name === item.name);
    if (!parameter) throw unknownParameter(`${path}${item.name}`);
    let values = byName.get(item.name);
    if (!values) byName.set(item.name, (values = []));
    values.push(readValue(parameter, item, `${path}${item.name}`));
  }
  for (const parameter of definitions) checkCardinality(parameter, byName.get(parameter.name)?.length ?? 0, `${path}${parameter.name}`);
  return new OperationParameters(byName);
}

function checkCardinality(parameter: OperationDefinitionParameter, count: number, path: string): void {
  if (count < parameter.min) throw invalid(`'${path}' is required${parameter.min > 1 ? ` at least ${parameter.min} times` : ''}`, path);
  const max = parameter.max === '*' ? Infinity : Number(parameter.max);
  if (count > max) throw invalid(`'${path}' may be given at most ${parameter.max} time${max === 1 ? '' : 's'}`, path);
}

function readValue(parameter: OperationDefinitionParameter, item: Record<string, unknown>, path: string): ParameterValue {
  const { type } = parameter;
  if (parameter.part) {
    if (!Array.isArray(item.part)) throw invalid(`'${path}' takes parts`, path);
    return { part: readGroup(parameter.part, item.part, `${path}.`) };
  }
  if (isResourceType(type)) {
    const resource = item.resource;
    if (!isObject(resource) || !acceptsResource(type, resource.resourceType)) throw invalid(`'${path}' takes a ${type} resource`, path);
    return { resource: resource as Resource };
  }
  const key = valueKey(type);
  const value = item[key];
  // An extension-only primitive (`_valueInteger` with a data-absent-reason) carries no value of its own.
  if (value === undefined && isPrimitiveType(type) && isObject(item[`_${key}`])) return {};
  if (!fitsType(type!, value)) throw invalid(`'${path}' takes one ${key} (${type})`, path);
  return { value };
}

const NUMBER_TYPES = new Set(['integer', 'unsignedInt', 'positiveInt', 'decimal']);

/** Lexical forms FHIR gives its primitive types (JSON strings unless boolean or a number). */
const STRING_FORMS: Record<string, RegExp> = {
  code: /^[^\s]+( [^\s]+)*$/,
  id: /^[A-Za-z0-9\-.]{1,64}$/,
  date: /^\d{4}(-\d{2}(-\d{2})?)?$/,
  dateTime: /^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?)?)?$/,
  instant: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/,
};

function fitsType(type: string, value: unknown): boolean {
  if (!isPrimitiveType(type)) return isObject(value);
  if (type === 'boolean') return typeof value === 'boolean';
  if (NUMBER_TYPES.has(type)) return typeof value === 'number' && fitsNumber(type, value);
  return typeof value === 'string' && value.length > 0 && (STRING_FORMS[type]?.test(value) ?? true);
}

function fitsNumber(type: string, value: number): boolean {
  if (type === 'decimal') return Number.isFinite(value);
  return Number.isSafeInteger(value) && value >= (type === 'positiveInt' ? 1 : type === 'unsignedInt' ? 0 : -(2 ** 31));
}

/** Complex data types a parameter can have; every other capitalised type name is a resource. */
const COMPLEX_TYPES = new Set([
  'Address', 'Age', 'Annotation', 'Attachment', 'CodeableConcept', 'Coding', 'ContactDetail', 'ContactPoint', 'Contributor',
  'Count', 'DataRequirement', 'Distance', 'Dosage', 'Duration', 'Expression', 'HumanName', 'Identifier', 'Meta', 'Money',
  'ParameterDefinition', 'Period', 'Quantity', 'Range', 'Ratio', 'Reference', 'RelatedArtifact', 'SampledData', 'Signature',
  'Timing', 'TriggerDefinition', 'UsageContext',
]);

const ANY_RESOURCE = new Set(['Resource', 'DomainResource', 'Any']);

function isResourceType(type: string | undefined): type is string {
  return type !== undefined && !isPrimitiveType(type) && !COMPLEX_TYPES.has(type);
}

function acceptsResource(type: string | undefined, resourceType: unknown): boolean {
  return typeof resourceType === 'string' && (ANY_RESOURCE.has(type ?? '') || resourceType === type);
}

/** `value[x]`: the type name with a capital (`positiveInt` → `valuePositiveInt`). */
function valueKey(type: string | undefined): string {
  return type ? `value${type[0].toUpperCase()}${type.slice(1)}` : 'value';
}

function unknownParameter(path: string): OperationOutcomeError {
  return invalid(`Unknown parameter '${path}'`, path);
}

function invalid(text: string, expression: string): OperationOutcomeError {
  return new OperationOutcomeError(badRequest(text, expression));
}
