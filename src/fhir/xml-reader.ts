import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { isResourceType, typeInfo, type ElementInfo, type TypeInfo } from './convert/model.js';
import { narrativeAllowed } from './narrative.js';
import { issue, outcome, OperationOutcomeError, type OperationOutcomeIssue } from './outcome.js';
import type { FhirVersion, Resource } from './version.js';

/**
 * FHIR XML read with full fidelity, driven by the release's element model (convert/model.ts): every element and
 * attribute must be one the definitions know, in the FHIR namespace, once where the element is single; text only in
 * the narrative, which must keep to the XHTML subset FHIR allows; only the five XML entities and character
 * references. Whatever the JSON form can hold comes out as JSON would have it: `_name` companions for the `id` and
 * extensions of primitives (with `null` for the gaps of repeating ones), numbers and booleans by type, contained and
 * entry resources, the narrative as its source text, comments as `fhir_comments` (as FHIR.js kept them). Anything
 * else is an error naming the FHIR path and the line.
 *
 * fast-xml-parser tokenizes (iteratively, in document order, with each element's source offsets); the tree is then
 * walked with an explicit stack, so neither deep nor wide input can overflow the call stack.
 */
export interface XmlReadLimits {
  /** Deepest allowed element nesting (the resource's root element is depth 1). */
  maxDepth: number;
}

const FHIR_NS = 'http://hl7.org/fhir';
const XHTML_NS = 'http://www.w3.org/1999/xhtml';
const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';
/** Errors reported at most per document: enough to fix a file, bounded for a hostile one. */
const MAX_ISSUES = 20;
const NARRATIVE_REFUSED =
  'The narrative is not in the XHTML subset FHIR allows (no scripts, event attributes, forms, frames, objects or undeclared entities)';

/** FHIR primitive types written as JSON numbers. */
export const JSON_NUMBER_TYPES: ReadonlySet<string> = new Set(['integer', 'positiveInt', 'unsignedInt', 'decimal', 'integer64']);
/** The JSON number grammar, which is also FHIR's decimal and integer lexical form. */
const JSON_NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

const FORBIDDEN_XML = /<!DOCTYPE|<!ENTITY/i;

const TOKENIZER_OPTIONS = {
  preserveOrder: true,
  captureMetaData: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  processEntities: false,
  htmlEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  commentPropName: '#comment',
  cdataPropName: '#cdata',
} as const;
const tokenizers = new Map<number, XMLParser>();

/** The ordered element tree; the tokenizer stops at the first element nested deeper than the limit. */
function tokenize(xml: string, { maxDepth }: XmlReadLimits): XmlNode[] {
  let tokenizer = tokenizers.get(maxDepth);
  if (!tokenizer) tokenizers.set(maxDepth, (tokenizer = new XMLParser({ ...TOKENIZER_OPTIONS, maxNestedTags: maxDepth - 1 })));
  try {
    return tokenizer.parse(xml) as XmlNode[];
  } catch (error) {
    const text = /nested/i.test((error as Error).message)
      ? `Elements nested deeper than ${maxDepth} levels exceed limits.jsonDepth (${maxDepth})`
      : `Malformed XML: ${(error as Error).message}`;
    throw refusal(text);
  }
}
const META = XMLParser.getMetaDataSymbol() as unknown as symbol;
const ATTRIBUTES = ':@';

type Json = Record<string, unknown>;
/** A node of fast-xml-parser's ordered output: one key naming it (a tag, `#text`, `#comment`, `#cdata`), its attributes and offsets. */
type XmlNode = Record<string, unknown> & { [ATTRIBUTES]?: Record<string, string> };

/** Where an element stands in the source text (offsets into the text as given, before line ends are normalised). */
const offsets = (node: XmlNode | undefined) => (node as { [META]?: { startIndex: number; endIndex?: number } } | undefined)?.[META];

const nodeName = (node: XmlNode): string => Object.keys(node).find((key) => key !== ATTRIBUTES) ?? '';
const childrenOf = (node: XmlNode): XmlNode[] => (node[nodeName(node)] as XmlNode[] | undefined) ?? [];
const attributesOf = (node: XmlNode): Record<string, string> => node[ATTRIBUTES] ?? {};
const isBlank = (text: string) => /^[ \t\r\n]*$/.test(text);
const isNamespaceDeclaration = (name: string) => name === 'xmlns' || name.startsWith('xmlns:');
/** A refusal of the whole document, before any element is read. */
const refusal = (text: string) => new OperationOutcomeError(outcome('bad-request', [issue('error', 'structure', text)]));

/** In-scope namespace declarations: prefix ('' for the default) → URI, chained to the enclosing element's. */
interface Scope {
  readonly names: ReadonlyMap<string, string>;
  readonly parent?: Scope;
}

function scopeOf(node: XmlNode, parent: Scope | undefined): Scope | undefined {
  let names: Map<string, string> | undefined;
  for (const [name, value] of Object.entries(attributesOf(node))) {
    if (!isNamespaceDeclaration(name)) continue;
    (names ??= new Map()).set(name === 'xmlns' ? '' : name.slice(6), value);
  }
  return names ? { names, parent } : parent;
}

function namespaceOf(prefix: string, scope: Scope | undefined): string | undefined {
  for (let at = scope; at; at = at.parent) {
    const uri = at.names.get(prefix);
    if (uri !== undefined) return uri;
  }
  return undefined;
}

function qualified(name: string, scope: Scope | undefined): { local: string; namespace: string | undefined } {
  const colon = name.indexOf(':');
  if (colon < 0) return { local: name, namespace: namespaceOf('', scope) };
  return { local: name.slice(colon + 1), namespace: namespaceOf(name.slice(0, colon), scope) };
}

/** One element whose content fills `target` by the elements of `type`; a primitive's content is its `_name` companion. */
interface Frame {
  node: XmlNode;
  target: Json;
  type: TypeInfo;
  path: string;
  scope: Scope | undefined;
  /** A resource's root element (its `id` is an element; in datatypes and backbones `id` is an attribute). */
  resource: boolean;
  /** A primitive element: its `value` attribute was read by the parent. */
  primitive: boolean;
}

/** Repeating primitives of one element: values and companions by position, `null` where there is none. */
interface Repeats {
  values: unknown[];
  companions: (Json | null)[];
}

class Reader {
  /** Issues with where they stand in the text: elements are read from a stack, the outcome lists them in document order. */
  private readonly issues: { issue: OperationOutcomeIssue; at: number }[] = [];
  private readonly stack: Frame[] = [];
  private lineStarts?: number[];

  constructor(
    private readonly version: FhirVersion,
    private readonly xml: string,
    private readonly limits: XmlReadLimits,
  ) {}

  read(): Resource {
    const root = this.rootElement(tokenize(this.xml, this.limits));
    let resource: Json | undefined;
    if (root) resource = this.resourceFrame(root, scopeOf(root, undefined), '');
    while (this.stack.length > 0 && this.issues.length < MAX_ISSUES) this.fill(this.stack.pop()!);
    if (this.issues.length > 0 || !resource) {
      const inOrder = this.issues.sort((a, b) => a.at - b.at).map(({ issue: found }) => found);
      throw new OperationOutcomeError(outcome('bad-request', inOrder));
    }
    return resource as unknown as Resource;
  }

  /** The one element of the document; declarations, comments and white space may stand around it. */
  private rootElement(nodes: XmlNode[]): XmlNode | undefined {
    const elements = nodes.filter((node) => !nodeName(node).startsWith('#'));
    if (nodes.some((node) => nodeName(node) === '#text' && !isBlank(node['#text'] as string))) {
      this.fail('Text is not allowed outside the root element', '', nodes[0]);
    }
    if (elements.length !== 1) {
      this.fail(`An XML document holds one resource, not ${elements.length} top-level elements`, '', elements[1] ?? nodes[0]);
    }
    return elements.length === 1 ? elements[0] : undefined;
  }

  /** Starts reading a resource element: in the FHIR namespace and named after a resource type of the release. */
  private resourceFrame(node: XmlNode, scope: Scope | undefined, parentPath: string): Json | undefined {
    const { local, namespace } = qualified(nodeName(node), scope);
    if (namespace !== FHIR_NS || !isResourceType(this.version, local)) {
      this.fail(`'${nodeName(node)}' is not a FHIR ${this.version.toUpperCase()} resource in the ${FHIR_NS} namespace`, parentPath, node);
      return undefined;
    }
    const resource: Json = { resourceType: local };
    const path = parentPath ? `${parentPath}.ofType(${local})` : local;
    this.stack.push({ node, target: resource, type: typeInfo(this.version, local)!, path, scope, resource: true, primitive: false });
    return resource;
  }

  /** Reads one element's attributes and children into its target; elements below it are pushed as frames of their own. */
  private fill(frame: Frame): void {
    this.attributes(frame);
    const seen = new Set<string>();
    const choices = new Map<string, string>();
    const repeats = new Map<string, Repeats>();
    const counts = new Map<string, number>();
    let comments: string[] | undefined;
    for (const child of childrenOf(frame.node)) {
      const name = nodeName(child);
      if (name === '#comment') {
        (comments ??= []).push(commentText(child));
        continue;
      }
      if (name === '#text' || name === '#cdata') {
        if (name === '#cdata' || !isBlank(child['#text'] as string)) this.fail('Text is not allowed here', frame.path, child, frame.node);
        continue;
      }
      const scope = scopeOf(child, frame.scope);
      const { local, namespace } = qualified(name, scope);
      const info = frame.type.elements.get(local);
      if (!info || this.isAttribute(frame, local)) {
        this.fail(`Unknown element '${name}'`, frame.path, child);
        continue;
      }
      const expected = info.type === 'xhtml' ? XHTML_NS : FHIR_NS;
      if (namespace !== expected) {
        this.fail(`Element '${name}' is in ${namespace ? `the namespace ${namespace}` : 'no namespace'}, not ${expected}`, frame.path, child);
        continue;
      }
      if (!info.multiple && seen.has(local)) {
        this.fail(`'${local}' occurs more than once; it may occur at most once`, `${frame.path}.${local}`, child);
        continue;
      }
      seen.add(local);
      if (info.choice && choices.get(info.choice) !== undefined && choices.get(info.choice) !== local) {
        this.fail(`'${local}' and '${choices.get(info.choice)}' are both given for ${info.choice}[x], which takes one type`, frame.path, child);
        continue;
      }
      if (info.choice) choices.set(info.choice, local);
      const index = counts.get(local) ?? 0;
      counts.set(local, index + 1);
      const path = info.multiple ? `${frame.path}.${local}[${index}]` : `${frame.path}.${local}`;
      const context = { frame, child, info, path, scope, comments };
      comments = undefined;
      if (info.type === 'xhtml') this.narrative(context);
      else if (info.kind === 'primitive') this.primitive(context, repeats);
      else if (info.kind === 'resource') this.containedResource(context);
      else this.complex(context);
    }
    for (const [name, { values, companions }] of repeats) {
      if (values.some((value) => value !== null)) frame.target[name] = values;
      if (companions.some((companion) => companion !== null)) frame.target[`_${name}`] = companions;
    }
  }

  /** `id` of datatypes and backbones, and `url` of extensions, are attributes in XML. */
  private isAttribute(frame: Frame, name: string): boolean {
    return (name === 'id' && !frame.resource) || (name === 'url' && frame.type.path === 'Extension');
  }

  private attributes(frame: Frame): void {
    for (const [name, raw] of Object.entries(attributesOf(frame.node))) {
      if (isNamespaceDeclaration(name) || (name === 'value' && frame.primitive)) continue;
      if (this.isAttribute(frame, name)) {
        const value = this.attributeValue(raw, frame.path, frame.node, `@${name}`);
        if (value !== undefined) frame.target[name] = value;
      } else if (!this.isSchemaLocation(name, frame.scope)) {
        this.fail(`Unknown attribute '${name}'`, frame.path, frame.node);
      }
    }
  }

  private isSchemaLocation(name: string, scope: Scope | undefined): boolean {
    const { local, namespace } = qualified(name, scope);
    return name.includes(':') && local === 'schemaLocation' && namespace === XSI_NS;
  }

  private primitive({ frame, child, info, path, scope, comments }: ChildContext, repeats: Map<string, Repeats>): void {
    const attributes = attributesOf(child);
    const value = attributes.value === undefined ? undefined : this.attributeValue(attributes.value, path, child, '@value', info.type);
    const hasContent = attributes.id !== undefined || childrenOf(child).some((node) => !nodeName(node).startsWith('#'));
    if (attributes.value === undefined && !hasContent) this.fail(`'${info.name}' has neither a value nor an extension`, path, child);
    const hasCompanion = hasContent || comments !== undefined;
    const companion: Json = comments ? { fhir_comments: comments } : {};
    this.stack.push({ node: child, target: companion, type: typeInfo(this.version, 'Element')!, path, scope, resource: false, primitive: true });
    if (!info.multiple) {
      if (value !== undefined) frame.target[info.name] = value;
      if (hasCompanion) frame.target[`_${info.name}`] = companion;
      return;
    }
    let repeat = repeats.get(info.name);
    if (!repeat) repeats.set(info.name, (repeat = { values: [], companions: [] }));
    repeat.values.push(value ?? null);
    repeat.companions.push(hasCompanion ? companion : null);
  }

  private complex({ frame, child, info, path, scope, comments }: ChildContext): void {
    const value: Json = comments ? { fhir_comments: comments } : {};
    const type = typeInfo(this.version, info.path);
    if (!type) {
      this.fail(`No definition of ${info.path} is known for '${info.name}'`, path, child);
      return;
    }
    attach(frame.target, info, value);
    this.stack.push({ node: child, target: value, type, path, scope, resource: false, primitive: false });
  }

  /** `contained`, `Bundle.entry.resource`, `Parameters.parameter.resource`: a wrapper holding one resource element. */
  private containedResource({ frame, child, info, path, scope, comments }: ChildContext): void {
    const elements: XmlNode[] = [];
    for (const node of childrenOf(child)) {
      const name = nodeName(node);
      if (!name.startsWith('#')) elements.push(node);
      else if (name === '#cdata' || (name === '#text' && !isBlank(node['#text'] as string))) this.fail('Text is not allowed here', path, node, child);
    }
    for (const name of Object.keys(attributesOf(child))) {
      if (!isNamespaceDeclaration(name)) this.fail(`Unknown attribute '${name}'`, path, child);
    }
    if (elements.length !== 1) {
      this.fail(`'${info.name}' must hold exactly one resource, not ${elements.length}`, path, child);
      return;
    }
    const resource = this.resourceFrame(elements[0], scopeOf(elements[0], scope), path);
    if (!resource) return;
    if (comments) resource.fhir_comments = comments;
    attach(frame.target, info, resource);
  }

  /** The narrative's div, as its source text, in the XHTML subset FHIR allows (the validator's txt-1/txt-2 check). */
  private narrative({ frame, child, info, path }: ChildContext): void {
    const { startIndex, endIndex } = offsets(child) ?? { startIndex: 0 };
    const div = this.xml.slice(startIndex, endIndex).replace(/\r\n?/g, '\n');
    if (!narrativeAllowed(this.version, div)) {
      this.fail(NARRATIVE_REFUSED, path, child);
      return;
    }
    frame.target[info.name] = div;
  }

  /**
   * An attribute's value: white space normalised as XML does, references resolved (only the five predefined
   * entities exist without a DTD), numbers and booleans by the primitive type. A value not of the type's lexical
   * form stays a string, for the validator to refuse as it refuses it in JSON.
   */
  private attributeValue(raw: string, path: string, node: XmlNode, attribute: string, type = 'string'): unknown {
    let invalid: string | undefined;
    const text = raw.replace(/[\t\n\r]/g, ' ').replace(/&([^;&]*);?/g, (reference, name: string) => {
      const resolved = resolveReference(name, reference);
      invalid ??= resolved === undefined ? reference : undefined;
      return resolved ?? '';
    });
    if (invalid !== undefined) {
      this.fail(`'${invalid}' in ${attribute} is not a character reference or one of the five XML entities`, path, node);
      return undefined;
    }
    if (type === 'boolean') return text === 'true' ? true : text === 'false' ? false : text;
    return JSON_NUMBER_TYPES.has(type) && JSON_NUMBER.test(text) ? Number(text) : text;
  }

  private fail(text: string, path: string, node: XmlNode | undefined, enclosing?: XmlNode): void {
    if (this.issues.length >= MAX_ISSUES) return;
    const start = offsets(node)?.startIndex ?? offsets(enclosing)?.startIndex;
    const where = start === undefined ? '' : ` (line ${this.lineOf(start)})`;
    this.issues.push({ issue: issue('error', 'structure', `${text}${where}`, path || undefined), at: start ?? 0 });
  }

  private lineOf(index: number): number {
    this.lineStarts ??= [...this.xml.matchAll(/\n/g)].map((match) => match.index + 1);
    let [low, high] = [0, this.lineStarts.length];
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.lineStarts[middle] <= index) low = middle + 1;
      else high = middle;
    }
    return low + 1;
  }
}

interface ChildContext {
  frame: Frame;
  /** The comments just before the element, kept as FHIR.js kept them: `fhir_comments` of the element's JSON object or companion. */
  comments: string[] | undefined;
  child: XmlNode;
  info: ElementInfo;
  path: string;
  scope: Scope | undefined;
}

const commentText = (node: XmlNode) => ((node['#comment'] as XmlNode[] | undefined)?.[0]?.['#text'] as string | undefined) ?? '';

function attach(target: Json, info: ElementInfo, value: Json): void {
  if (info.multiple) ((target[info.name] ??= []) as Json[]).push(value);
  else target[info.name] = value;
}

const PREDEFINED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** The text an entity or character reference stands for; undefined for anything else (a bare `&`, `&nbsp;`). */
function resolveReference(name: string, reference: string): string | undefined {
  if (!reference.endsWith(';')) return undefined;
  if (Object.hasOwn(PREDEFINED, name)) return PREDEFINED[name];
  const code = /^#x[0-9a-fA-F]{1,6}$/.test(name) ? parseInt(name.slice(2), 16) : /^#[0-9]{1,7}$/.test(name) ? parseInt(name.slice(1), 10) : NaN;
  return isXmlCharacter(code) ? String.fromCodePoint(code) : undefined;
}

function isXmlCharacter(code: number): boolean {
  if (code === 0x9 || code === 0xa || code === 0xd) return true;
  return (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff);
}

/** Refuses what is not well-formed XML, and any DTD (FHIR forbids them; refusing them also rules out entity expansion). */
function assertWellFormed(xml: string): void {
  if (FORBIDDEN_XML.test(xml)) throw refusal('XML with a DOCTYPE or ENTITY declaration is not allowed');
  const verdict = XMLValidator.validate(xml);
  if (verdict !== true) {
    const { msg, line, col } = verdict.err;
    throw refusal(`Malformed XML at line ${line}, column ${col}: ${msg}`);
  }
}

const BYTE_ORDER_MARK = '\uFEFF';

export function readFhirXml(version: FhirVersion, text: string, limits: XmlReadLimits): Resource {
  const xml = text.startsWith(BYTE_ORDER_MARK) ? text.slice(1) : text;
  assertWellFormed(xml);
  return new Reader(version, xml, limits).read();
}
