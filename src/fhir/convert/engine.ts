import { OperationOutcomeError, unprocessable } from '../outcome.js';
import type { FhirVersion } from '../version.js';
import { deepEqual, isEmpty, pick, type Json } from './json.js';
import { asList, isObject } from '../../vocabulary/json.js';
import { isConvertible, rulesAt } from './mappings.js';
import { isResourceType, typeInfo, type ElementInfo, type TypeInfo } from './model.js';
import { practitionerRoleStandIn, referencedType, standInRole } from './references.js';
import type { Rule, RuleContext } from './rules.js';

/**
 * The generic STU3 ↔ R4 walk. Every element is converted by the rules the mapping table lists for its place, or
 * else copied under the same name (datatypes and cardinality converted). An element the other release cannot hold
 * is written as a FHIR cross-version extension (`http://hl7.org/fhir/3.0/StructureDefinition/extension-<Path>`
 * in R4, `.../4.0/...` in STU3), and so is the input of any rule whose opposite direction would not give it back.
 * Converting back takes those extensions home again: an element with no counterpart is restored as it was, a rule's
 * input only while the converted value still matches it (if the other side changed the value, the stale original is
 * dropped).
 */
const CROSS_VERSION_BASE: Record<FhirVersion, string> = {
  stu3: 'http://hl7.org/fhir/3.0/StructureDefinition/extension-',
  r4: 'http://hl7.org/fhir/4.0/StructureDefinition/extension-',
};

/** What stands in for an element the target release requires and the source may leave out (or does not have). */
const DATA_ABSENT = { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }] };

/** Types that Extension.value[x] does not take in some release, carried as their nearest relative. */
const EXTENSION_STAND_INS: Record<string, string> = {
  canonical: 'uri',
  url: 'uri',
  uuid: 'uri',
  SimpleQuantity: 'Quantity',
  MoneyQuantity: 'Quantity',
};

export class Converter {
  private static readonly instances = new Map<string, Converter>();

  static between(from: FhirVersion, to: FhirVersion): Converter {
    const key = `${from}>${to}`;
    let converter = Converter.instances.get(key);
    if (!converter) Converter.instances.set(key, (converter = new Converter(from, to)));
    return converter;
  }

  private constructor(
    readonly from: FhirVersion,
    readonly to: FhirVersion,
  ) {}

  get reverse(): Converter {
    return Converter.between(this.to, this.from);
  }

  resource(resource: unknown, expression: string): Json {
    const type = isObject(resource) ? resource.resourceType : undefined;
    if (typeof type !== 'string' || !isConvertible(type)) {
      const what = typeof type === 'string' ? `resource type ${type}` : 'a resource without resourceType';
      throw new OperationOutcomeError(unprocessable(`Cannot convert ${what} between FHIR STU3 and R4`, expression));
    }
    return this.complex(resource, type, type, expression);
  }

  /** A resource, backbone element or datatype value defined at `sourcePath` in the source release and `targetPath` in the target. */
  complex(value: unknown, sourcePath: string, targetPath: string, expression: string): Json {
    if (!isObject(value)) throw new OperationOutcomeError(unprocessable('Expected a JSON object', expression));
    const node = new Node(this, this.typeAt(this.from, sourcePath, expression), this.typeAt(this.to, targetPath, expression), expression);
    const input = this.withoutPlaceholders(value, node);
    const { restored, own } = this.takeBack(input.extension, node.target, expression);
    const out: Json = {};
    const stashed: Json[] = [];
    const done = new Set(['resourceType', 'extension', 'fhir_comments']);
    for (const rule of rulesAt(sourcePath)) {
      Object.assign(out, this.applyRule(rule, input, restored, stashed, node));
      for (const name of rule[this.from]) done.add(name);
    }
    for (const key of Object.keys(input)) {
      const name = key.startsWith('_') ? key.slice(1) : key;
      if (done.has(name)) continue;
      done.add(name);
      Object.assign(out, this.copyElement(name, input, restored, stashed, node));
    }
    mergeRestored(out, restored);
    const extensions: Json[] = [];
    for (let i = 0; i < own.length; i++) extensions.push(this.complex(own[i], 'Extension', 'Extension', `${expression}.extension[${i}]`));
    extensions.push(...stashed);
    if (extensions.length) out.extension = extensions;
    if (typeof input.resourceType === 'string') out.resourceType = input.resourceType;
    if (input.fhir_comments !== undefined) out.fhir_comments = input.fhir_comments;
    this.addPlaceholders(out, node);
    return ordered(out, node.target);
  }

  /** One element's value and `_` sibling, from source element `source` to target element `target`. */
  element(slice: Json, source: ElementInfo, target: ElementInfo, expression: string): Json {
    const result: Json = {};
    const values = asList(slice[source.name]);
    const converted: unknown[] = [];
    for (let i = 0; i < values.length; i++) {
      const at = source.multiple ? `${expression}[${i}]` : expression;
      if (target.type !== 'Reference') converted.push(this.elementValue(values[i], source, target, at));
      else this.pushReference(converted, values[i], source, target, at);
    }
    setList(result, target, target.name, converted);
    const hidden = asList(slice[`_${source.name}`]);
    const elements: unknown[] = [];
    for (const item of hidden) elements.push(item === null ? null : this.complex(item, 'Element', 'Element', expression));
    setList(result, target, `_${target.name}`, elements);
    return result;
  }

  /**
   * A reference the target release does not allow at this element is left out (the caller keeps it aside), except
   * a reference to a PractitionerRole where STU3 allows a Practitioner, which gets the Nictiz stand-in.
   */
  private pushReference(converted: unknown[], value: unknown, source: ElementInfo, target: ElementInfo, expression: string): void {
    const reference = (this.from === 'stu3' && standInRole(value)) || value;
    const type = referencedType(reference);
    if (type === undefined || (isResourceType(this.to, type) && allows(target, type))) {
      converted.push(this.elementValue(reference, source, target, expression));
    } else if (this.to === 'stu3' && type === 'PractitionerRole' && allows(target, 'Practitioner')) {
      converted.push(practitionerRoleStandIn(this.complex(reference, 'Reference', 'Reference', expression)));
    }
  }

  private elementValue(value: unknown, source: ElementInfo, target: ElementInfo, expression: string): unknown {
    if (source.kind === 'primitive') return value;
    if (source.kind === 'resource') return this.resource(value, expression);
    return this.complex(value, source.path, target.path, expression);
  }

  /** Cross-version extensions that carry the source-release elements of `slice`, defined at `source`. */
  pack(slice: Json, source: TypeInfo, nested: boolean, expression: string): Json[] {
    const extensions: Json[] = [];
    for (const name of elementNames(slice)) {
      const element = source.elements.get(name);
      if (!element) throw new OperationOutcomeError(unprocessable(`Unknown element '${name}'`, `${expression}.${name}`));
      const values = asList(slice[name]);
      const hidden = asList(slice[`_${name}`]);
      for (let i = 0; i < Math.max(values.length, hidden.length); i++) {
        extensions.push(this.packValue(element, values[i], hidden[i], source.path, nested, `${expression}.${name}`));
      }
    }
    return extensions;
  }

  /**
   * Splits `extensions` into the cross-version extensions a conversion the other way left for elements of
   * `target` (returned as target-release elements) and the node's own extensions.
   */
  takeBack(extensions: unknown, target: TypeInfo, expression: string): { restored: Json; own: Json[] } {
    const prefix = `${CROSS_VERSION_BASE[this.to]}${target.path}.`;
    const own: Json[] = [];
    const groups = new Map<string, Json[]>();
    for (const extension of asList(extensions)) {
      if (!isObject(extension)) throw new OperationOutcomeError(unprocessable('Expected an extension object', `${expression}.extension`));
      const url = typeof extension.url === 'string' ? extension.url : '';
      const key = url.startsWith(prefix) ? url.slice(prefix.length) : '';
      if (key && !key.includes('.') && this.restoredElement(target, key, extension)) groups.set(key, [...(groups.get(key) ?? []), extension]);
      else own.push(extension);
    }
    return { restored: this.restore(groups, target, expression), own };
  }

  private applyRule(rule: Rule, input: Json, restored: Json, stashed: Json[], node: Node): Json {
    const forward = this.to === 'r4' ? rule.toR4 : rule.toStu3;
    const backward = this.to === 'r4' ? rule.toStu3 : rule.toR4;
    const slice = pick(input, rule[this.from]);
    const kept = take(restored, rule[this.to]);
    if (isEmpty(slice) && isEmpty(kept)) return {};
    const reversed = node.reversed();
    if (!isEmpty(kept) && deepEqual(backward(kept, reversed), slice)) return kept;
    const result = forward(slice, node);
    if (!rule.typeOnly && !deepEqual(backward(result, reversed), slice)) {
      stashed.push(...this.pack(slice, node.source, false, node.expression));
    }
    return result;
  }

  private copyElement(name: string, input: Json, restored: Json, stashed: Json[], node: Node): Json {
    const source = node.source.elements.get(name);
    if (!source) throw new OperationOutcomeError(unprocessable(`Unknown element '${name}'`, `${node.expression}.${name}`));
    const target = node.target.elements.get(name);
    if (!target || target.kind !== source.kind) {
      stashed.push(...this.pack(pick(input, [name]), node.source, false, node.expression));
      return {};
    }
    const at = `${node.expression}.${name}`;
    if (name in restored || `_${name}` in restored) {
      const kept = take(restored, [name]);
      if (deepEqual(this.reverse.element(kept, target, source, at), pick(input, [name]))) return kept;
    }
    const result = this.element(input, source, target, at);
    const count = Math.max(asList(input[name]).length, asList(input[`_${name}`]).length);
    const kept = Math.max(asList(result[name]).length, asList(result[`_${name}`]).length);
    if (kept < count) stashed.push(...this.pack(pick(input, [name]), node.source, false, node.expression));
    return result;
  }

  private packValue(element: ElementInfo, value: unknown, hidden: unknown, path: string, nested: boolean, expression: string): Json {
    if (element.kind === 'resource') {
      throw new OperationOutcomeError(unprocessable(`FHIR ${this.to} has no place for the resources in '${element.name}'`, expression));
    }
    const valueKey = this.extensionValueKey(element);
    const key = element.choice && valueKey === `value${capitalize(element.type)}` ? element.choice : element.name;
    const url = nested ? key : `${CROSS_VERSION_BASE[this.from]}${path}.${key}`;
    if (!valueKey) return { url, extension: this.packChildren(value, element.path, expression) };
    const extension: Json = { url };
    if (value !== undefined && value !== null) {
      const type = EXTENSION_STAND_INS[element.type] ?? element.type;
      extension[valueKey] = element.kind === 'primitive' ? value : this.complex(value, element.path, type, expression);
    }
    if (isObject(hidden)) extension[`_${valueKey}`] = this.complex(hidden, 'Element', 'Element', expression);
    return extension;
  }

  /** The value[x] name that carries an element in an extension of the target release; undefined: nested extensions. */
  private extensionValueKey(element: ElementInfo): string | undefined {
    if (element.kind === 'complex' && element.path !== element.type) return undefined;
    const key = `value${capitalize(EXTENSION_STAND_INS[element.type] ?? element.type)}`;
    return this.typeAt(this.to, 'Extension', '').elements.has(key) ? key : undefined;
  }

  private packChildren(value: unknown, path: string, expression: string): Json[] {
    if (!isObject(value)) throw new OperationOutcomeError(unprocessable('Expected a JSON object', expression));
    const children: Json[] = [];
    if (value.id !== undefined) children.push({ url: 'id', valueString: value.id });
    children.push(...asList(value.extension).map((e) => this.complex(e, 'Extension', 'Extension', `${expression}.extension`)));
    const modifiers = asList(value.modifierExtension).map((e) => this.complex(e, 'Extension', 'Extension', `${expression}.modifierExtension`));
    if (modifiers.length) children.push({ url: 'modifierExtension', extension: modifiers });
    const { id: _id, extension: _extension, modifierExtension: _modifiers, ...elements } = value;
    children.push(...this.pack(elements, this.typeAt(this.from, path, expression), true, expression));
    return children;
  }

  private restoredElement(target: TypeInfo, key: string, extension: Json): ElementInfo | undefined {
    const valueKey = Object.keys(extension).find((k) => k.startsWith('value') || k.startsWith('_value'));
    const suffix = valueKey?.replace(/^_?value/, '') ?? '';
    return target.elements.get(key) ?? target.elements.get(`${key}${suffix}`);
  }

  private restore(groups: Map<string, Json[]>, target: TypeInfo, expression: string): Json {
    const values = new Map<ElementInfo, unknown[]>();
    const hidden = new Map<ElementInfo, unknown[]>();
    for (const [key, extensions] of groups) {
      for (const extension of extensions) {
        const element = this.restoredElement(target, key, extension) as ElementInfo;
        const at = `${expression}.${element.name}`;
        const valueKey = Object.keys(extension).find((k) => k.startsWith('value'));
        const hiddenValue = Object.keys(extension).find((k) => k.startsWith('_value'));
        let value: unknown;
        if (valueKey === undefined) value = hiddenValue ? null : this.unpackChildren(extension.extension, element.path, at);
        else if (element.kind === 'primitive') value = extension[valueKey];
        else value = this.complex(extension[valueKey], valueKey.slice('value'.length), element.path, at);
        values.set(element, [...(values.get(element) ?? []), value]);
        const primitiveElement = hiddenValue ? this.complex(extension[hiddenValue], 'Element', 'Element', at) : null;
        hidden.set(element, [...(hidden.get(element) ?? []), primitiveElement]);
      }
    }
    const restored: Json = {};
    for (const [element, list] of values) {
      if (list.some((v) => v !== null)) setList(restored, element, element.name, list);
      const elements = hidden.get(element) ?? [];
      if (elements.some((e) => e !== null)) setList(restored, element, `_${element.name}`, elements);
    }
    return restored;
  }

  private unpackChildren(children: unknown, path: string, expression: string): Json {
    const type = this.typeAt(this.to, path, expression);
    const result: Json = {};
    const own: Json[] = [];
    const groups = new Map<string, Json[]>();
    for (const child of asList(children)) {
      if (!isObject(child) || typeof child.url !== 'string') continue;
      if (child.url === 'id') result.id = child.valueString;
      else if (child.url === 'modifierExtension') result.modifierExtension = asList(child.extension).map((e) => this.complex(e, 'Extension', 'Extension', expression));
      else if (/^[a-zA-Z]+$/.test(child.url) && this.restoredElement(type, child.url, child)) groups.set(child.url, [...(groups.get(child.url) ?? []), child]);
      else own.push(this.complex(child, 'Extension', 'Extension', expression));
    }
    Object.assign(result, this.restore(groups, type, expression));
    if (own.length) result.extension = own;
    return ordered(result, type);
  }

  /** Drops the stand-in a conversion the other way wrote for an element that release requires and this one does not. */
  private withoutPlaceholders(value: Json, node: Node): Json {
    let result = value;
    for (const element of node.source.required) {
      if (node.target.elements.get(element.name)?.required) continue;
      const key = element.kind === 'primitive' ? `_${element.name}` : element.name;
      if (value[key] === undefined || (key !== element.name && value[element.name] !== undefined)) continue;
      if (deepEqual(value[key], element.multiple ? [DATA_ABSENT] : DATA_ABSENT)) {
        if (result === value) result = { ...value };
        delete result[key];
      }
    }
    return result;
  }

  private addPlaceholders(out: Json, node: Node): void {
    for (const element of node.target.required) {
      if (node.source.elements.get(element.name)?.required) continue;
      if (out[element.name] !== undefined || out[`_${element.name}`] !== undefined) continue;
      const key = element.kind === 'primitive' ? `_${element.name}` : element.name;
      out[key] = element.multiple ? [structuredClone(DATA_ABSENT)] : structuredClone(DATA_ABSENT);
    }
  }

  private typeAt(version: FhirVersion, path: string, expression: string): TypeInfo {
    const info = typeInfo(version, path);
    if (!info) throw new OperationOutcomeError(unprocessable(`FHIR ${version} has no type ${path}`, expression));
    return info;
  }
}

/** The RuleContext of one node being converted. */
class Node implements RuleContext {
  constructor(
    private readonly converter: Converter,
    readonly source: TypeInfo,
    readonly target: TypeInfo,
    readonly expression: string,
  ) {}

  private get from(): FhirVersion {
    return this.converter.from;
  }

  private get to(): FhirVersion {
    return this.converter.to;
  }

  reversed(): Node {
    return new Node(this.converter.reverse, this.target, this.source, this.expression);
  }

  move(slice: Json, source: string, target: string): Json {
    const sourceElement = this.source.elements.get(source);
    const targetElement = this.target.elements.get(target);
    if (!sourceElement || !targetElement) throw new Error(`Mapping names an unknown element: ${this.source.path}.${source} → ${this.target.path}.${target}`);
    return this.converter.element(slice, sourceElement, targetElement, `${this.expression}.${source}`);
  }

  datatype(value: unknown, type: string): Json {
    return this.converter.complex(value, type, type, this.expression);
  }

  value(value: unknown, source: string, target: string): unknown {
    const sourceElement = this.elementAt(this.from, source);
    const targetElement = this.elementAt(this.to, target);
    const converted = this.converter.element({ [sourceElement.name]: value }, sourceElement, targetElement, this.expression);
    return asList(converted[targetElement.name])[0];
  }

  private elementAt(version: FhirVersion, path: string): ElementInfo {
    const parent = path.slice(0, path.lastIndexOf('.'));
    const element = typeInfo(version, parent)?.elements.get(path.slice(parent.length + 1));
    if (!element) throw new Error(`Mapping names an unknown element: ${path}`);
    return element;
  }

  packElements(value: Json, path: string): Json[] {
    const type = typeInfo(this.from, path);
    if (!type) throw new Error(`Mapping names an unknown path: ${path}`);
    return this.converter.pack(value, type, false, this.expression);
  }

  restoreElements(extensions: unknown, path: string): { elements: Json; others: Json[] } {
    const type = typeInfo(this.to, path);
    if (!type) throw new Error(`Mapping names an unknown path: ${path}`);
    const { restored, own } = this.converter.takeBack(extensions, type, this.expression);
    return { elements: restored, others: own };
  }
}

function allows(element: ElementInfo, type: string): boolean {
  return !element.targets || element.targets.has(type);
}

function capitalize(type: string): string {
  return type.charAt(0).toUpperCase() + type.slice(1);
}

/** Element names present in a slice, whether written as `name`, `_name` or both. */
function elementNames(slice: Json): Set<string> {
  return new Set(Object.keys(slice).filter((key) => slice[key] !== undefined).map((key) => (key.startsWith('_') ? key.slice(1) : key)));
}

/** Removes and returns the elements `names` (with `_` siblings) of `restored`. */
function take(restored: Json, names: readonly string[]): Json {
  const kept = pick(restored, names);
  for (const key of Object.keys(kept)) delete restored[key];
  return kept;
}

function setList(target: Json, element: ElementInfo, key: string, list: unknown[]): void {
  if (!list.length) return;
  if (element.multiple) target[key] = list;
  else if (list[0] !== null && list[0] !== undefined) target[key] = list[0];
}

/** Restored elements the node did not already get from a rule or copy; a repeating element gets both. */
function mergeRestored(out: Json, restored: Json): void {
  for (const [key, value] of Object.entries(restored)) {
    if (out[key] === undefined) out[key] = value;
    else if (Array.isArray(out[key]) && Array.isArray(value)) out[key] = [...(out[key] as unknown[]), ...value];
  }
}

/** The node's elements in definition order (resourceType first), which is how FHIR JSON is usually written. */
function ordered(out: Json, type: TypeInfo): Json {
  const keys = Object.keys(out);
  keys.sort((a, b) => (type.order.get(a) ?? Number.MAX_SAFE_INTEGER) - (type.order.get(b) ?? Number.MAX_SAFE_INTEGER));
  const result: Json = {};
  for (const key of keys) result[key] = out[key];
  return result;
}
