import type { Resource } from '../fhir/version.js';
import type { Compiler, ElementRule, RequiredBinding } from './compile.js';
import { CORE_PREFIX, type Discriminator, type TypedValue } from './definitions.js';
import type { ElementNode } from './element-tree.js';
import { EXTENSION_STEP, matchesFixed, matchesPattern, valuesAt } from './values.js';
import { asList, isObject } from '../vocabulary/json.js';

/**
 * Slicing: which slice each item of a sliced array belongs to, decided by the discriminators. A matcher answers
 * true, false, or undefined when it cannot tell (a `resolve()` on a reference that is not at hand): such an item
 * may belong to the slice, so it counts towards the slice's minimum but not its maximum.
 */
export type Resolve = (reference: string) => Resource | undefined;
/** Whether a value (a resource or datatype) meets a profile; undefined when the profile is not known. */
export type Conforms = (value: unknown, profile: string) => boolean | undefined;
export type Matcher = (item: unknown, resolve: Resolve, conforms: Conforms) => boolean | undefined;

export interface SliceRule {
  name: string;
  /** A re-slice (`actionType/Single`) names the slice it refines: an item in it is in that slice too. */
  parent?: number;
  rule: ElementRule;
  /** Undefined when the slice states no value for a discriminator: nothing can be said to match it. */
  matchers?: Matcher[];
}

export interface SlicingRule {
  rules: 'open' | 'closed' | 'openAtEnd';
  slices: SliceRule[];
  /** The order in which items are tried against the slices. */
  order: number[];
}

const EXTENSION_DISCRIMINATOR: Discriminator[] = [{ type: 'value', path: 'url' }];

export function compileSlicing(compiler: Compiler, rule: ElementRule): SlicingRule | undefined {
  const { node } = rule;
  if (node.name.endsWith('[x]') || node.slices.length === 0) return undefined;
  const isExtension = rule.types.length === 1 && rule.types[0].code === 'Extension';
  const discriminators = node.def.slicing?.discriminators.length
    ? node.def.slicing.discriminators
    : isExtension
      ? EXTENSION_DISCRIMINATOR
      : [];
  const slices = node.slices.map((slice): SliceRule => {
    const matchers = discriminators.map((d) => matcherFor(compiler, slice, d));
    return {
      name: slice.def.sliceName ?? slice.def.id,
      rule: compiler.ruleFor(slice, rule.tree),
      matchers: matchers.every((m) => m !== undefined) && matchers.some((m) => m !== ANY) ? (matchers as Matcher[]) : undefined,
    };
  });
  slices.forEach((slice) => {
    const slash = slice.name.lastIndexOf('/');
    if (slash > 0) {
      const parent = slices.findIndex((other) => other.name === slice.name.slice(0, slash));
      if (parent >= 0) slice.parent = parent;
    }
  });
  // Re-slices are tried before the slices they refine.
  const order = slices.map((_, index) => index).sort((a, b) => Number(slices[b].parent !== undefined) - Number(slices[a].parent !== undefined));
  return { rules: node.def.slicing?.rules ?? 'open', slices, order };
}

/** Matches every item: the slice says nothing about this discriminator, so it does not tell slices apart. */
const ANY: Matcher = () => true;

function matcherFor(compiler: Compiler, slice: ElementNode, discriminator: Discriminator): Matcher | undefined {
  const segments = pathSegments(discriminator.path);
  switch (discriminator.type) {
    case 'value':
    case 'pattern':
      return valueMatcher(compiler, slice, segments);
    case 'exists':
      return existsMatcher(compiler, slice, segments);
    case 'type':
      return typeMatcher(compiler, slice, segments);
    case 'profile':
      return segments.at(-1) === 'resolve()' ? profileMatcher(compiler, slice) : conformanceMatcher(compiler, slice, segments);
    default:
      return undefined;
  }
}

/** A discriminator path's steps: `$this` dropped, dots inside `extension('http://...')` kept. */
function pathSegments(path: string): string[] {
  const steps = path.match(/(?:[^.(]|\([^)]*\))+/g) ?? [];
  return steps[0] === '$this' ? steps.slice(1) : steps;
}

interface Expected {
  value: unknown;
  mode: 'fixed' | 'pattern';
}

/**
 * A value or pattern discriminator: the value the slice states at the path; else, as the HL7 validator does, the
 * value set of a required binding there (slices told apart by binding only), or the element's absence when the
 * slice forbids it. A slice that states none of these does not constrain that discriminator.
 */
function valueMatcher(compiler: Compiler, slice: ElementNode, segments: string[]): Matcher | undefined {
  const expected = expectedValue(compiler, slice, segments) ?? extensionUrl(slice, segments);
  if (expected) {
    const matches = expected.mode === 'fixed' ? matchesFixed : matchesPattern;
    return (item) => valuesAt(item, segments).some((value) => matches(value, expected.value));
  }
  const node = nodeAt(compiler, slice, segments);
  if (node?.def.max === 0) return (item) => valuesAt(item, segments).length === 0;
  const binding = node?.def.binding;
  if (binding?.strength === 'required' && binding.valueSet) return bindingMatcher(compiler.requiredBinding(binding.valueSet), segments);
  return ANY;
}

/** Membership of the coded values at the path in a value set; undecided when the value set cannot be expanded here. */
function bindingMatcher(binding: RequiredBinding, segments: string[]): Matcher {
  return (item) => {
    const expansion = binding.expansion();
    if (!expansion) return undefined;
    return valuesAt(item, segments).some((value) => {
      if (typeof value === 'string') return expansion.has(undefined, value);
      const codings = isObject(value) && Array.isArray(value.coding) ? value.coding : [value];
      return codings.some((c) => isObject(c) && typeof c.code === 'string' && expansion.has(typeof c.system === 'string' ? c.system : undefined, c.code));
    });
  };
}

function nodeAt(compiler: Compiler, slice: ElementNode, segments: string[]): ElementNode | undefined {
  let node: ElementNode | undefined = slice;
  for (const name of segments) node = node && childNamed(compiler, node, name);
  return node;
}

/** An extension slice is discriminated by the url of its extension definition. */
function extensionUrl(slice: ElementNode, segments: string[]): Expected | undefined {
  const profile = slice.def.types?.[0]?.profiles[0];
  return segments.length === 1 && segments[0] === 'url' && profile ? { value: profile, mode: 'fixed' } : undefined;
}

function own(node: ElementNode): (TypedValue & { mode: Expected['mode'] }) | undefined {
  if (node.def.fixed) return { ...node.def.fixed, mode: 'fixed' };
  if (node.def.pattern) return { ...node.def.pattern, mode: 'pattern' };
  return undefined;
}

/** The value a slice states at a discriminator path: on the element itself, inside a pattern above it, or in a required sub-slice. */
function expectedValue(compiler: Compiler, node: ElementNode, segments: string[]): Expected | undefined {
  const stated = own(node);
  if (segments.length === 0) return stated && { value: stated.value, mode: stated.mode };
  if (stated) {
    const values = valuesAt(stated.value, segments);
    if (values.length === 1) return { value: values[0], mode: stated.mode };
  }
  const child = childNamed(compiler, node, segments[0]);
  if (!child) return undefined;
  const rest = segments.slice(1);
  const direct = expectedValue(compiler, child, rest);
  if (direct) return direct;
  const slices = [...child.slices].sort((a, b) => (b.def.min ?? 0) - (a.def.min ?? 0));
  for (const slice of slices) {
    const found = expectedValue(compiler, slice, rest);
    if (found) return found;
  }
  return undefined;
}

function childNamed(compiler: Compiler, node: ElementNode, name: string): ElementNode | undefined {
  const children = node.children.length ? node.children : typeChildren(compiler, node);
  const extension = EXTENSION_STEP.exec(name);
  if (extension) {
    const element = children.find((child) => child.name === extension[1]);
    return element && extensionSlice(element, extension[2]);
  }
  return children.find((child) => child.name === name || child.name === `${name}[x]`);
}

/** The slice of an extension element that holds the extension with this url; of several, the last (a re-slice is the more specific). */
function extensionSlice(element: ElementNode, url: string): ElementNode | undefined {
  let found: ElementNode | undefined;
  for (const slice of element.slices) {
    if (slice.def.types?.some((type) => type.profiles.includes(url))) found = slice;
    found = extensionSlice(slice, url) ?? found;
  }
  return found;
}

function typeChildren(compiler: Compiler, node: ElementNode): ElementNode[] {
  const types = node.def.types ?? [];
  if (types.length !== 1) return [];
  return compiler.trees.tree(CORE_PREFIX + types[0].code)?.root.children ?? [];
}

function existsMatcher(compiler: Compiler, slice: ElementNode, segments: string[]): Matcher | undefined {
  const node = nodeAt(compiler, slice, segments);
  if (!node) return undefined;
  const required = (node.def.min ?? 0) > 0;
  const forbidden = node.def.max === 0;
  if (!required && !forbidden) return undefined;
  return (item) => valuesAt(item, segments).length > 0 === required;
}

function typeMatcher(compiler: Compiler, slice: ElementNode, segments: string[]): Matcher | undefined {
  const node = nodeAt(compiler, slice, segments);
  // A choice narrowed the STU3 way (a required `contentString`) is a required type slice of `content[x]`.
  const required = node?.slices.filter((typeSlice) => (typeSlice.def.min ?? 0) > 0) ?? [];
  const types = required.length ? required.flatMap((typeSlice) => typeSlice.def.types ?? []) : (node?.def.types ?? []);
  const codes = new Set(types.map((t) => t.code.charAt(0).toUpperCase() + t.code.slice(1)));
  if (codes.size === 0) return undefined;
  return (item) => typesAt(item, segments).some((type) => codes.has(type));
}

/** The types of the values at a path: a resource's resourceType, or the type suffix of a choice property. */
function typesAt(item: unknown, segments: string[]): string[] {
  if (segments.length === 0) {
    const type = (item as { resourceType?: unknown } | null)?.resourceType;
    return typeof type === 'string' ? [type] : [];
  }
  const stem = segments.at(-1)!.replace('[x]', '');
  return valuesAt(item, segments.slice(0, -1)).flatMap((parent) => {
    if (typeof parent !== 'object' || parent === null) return [];
    const record = parent as Record<string, unknown>;
    const held = record[stem] as { resourceType?: unknown } | undefined;
    if (typeof held?.resourceType === 'string') return [held.resourceType];
    return Object.keys(record)
      .filter((key) => key.length > stem.length && key.startsWith(stem))
      .map((key) => key.slice(stem.length));
  });
}

const REFERENCE_TYPE = /(?:^|\/)([A-Z][A-Za-z]+)\/[A-Za-z0-9\-.]{1,64}(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

/** The resource type a literal reference names (`Patient/1`, `http://x/fhir/Patient/1`), if it names one. */
export function referenceType(reference: string): string | undefined {
  return REFERENCE_TYPE.exec(reference)?.[1];
}

/** A profile discriminator on an element itself (`$this.resource`): the value there must meet the slice's type profile. */
function conformanceMatcher(compiler: Compiler, slice: ElementNode, segments: string[]): Matcher | undefined {
  const profiles = (nodeAt(compiler, slice, segments)?.def.types ?? []).flatMap((t) => t.profiles);
  if (profiles.length === 0) return undefined;
  return (item, _, conforms) => {
    let undecided = false;
    for (const value of valuesAt(item, segments)) {
      for (const profile of profiles) {
        const meets = conforms(value, profile);
        if (meets) return true;
        if (meets === undefined) undecided = true;
      }
    }
    return undecided ? undefined : false;
  };
}

/**
 * A profile discriminator on `resolve()`: the referenced resource must conform to the slice's target profile.
 * Resolved resources count when they declare the profile; otherwise their type (or the type the reference
 * names) rules the slice out when it differs from the profile's type; anything else is undecided.
 */
function profileMatcher(compiler: Compiler, slice: ElementNode): Matcher | undefined {
  const profiles = (slice.def.types ?? []).flatMap((t) => t.targetProfiles);
  if (profiles.length === 0) return undefined;
  const types = profiles.map((url) => compiler.registry.structure(url)?.type);
  const knownTypes = types.every((type) => type !== undefined) ? new Set(types) : undefined;
  return (item, resolve) => {
    const reference = (item as { reference?: unknown } | null)?.reference;
    if (typeof reference !== 'string') return undefined;
    const target = resolve(reference);
    const declared = asList(target?.meta?.profile);
    if (declared.some((url) => profiles.includes(String(url)))) return true;
    const type = target?.resourceType ?? referenceType(reference);
    if (knownTypes && type && !knownTypes.has(type)) return false;
    return undefined;
  };
}
