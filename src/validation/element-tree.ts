import { CORE_PREFIX, type ElementDef, type StructureDefinition } from './definitions.js';
import type { Registry } from './registry.js';

/**
 * A StructureDefinition's elements as a tree: each node one ElementDefinition, its children the elements under
 * its path, its slices the named slices of it (each with children of its own). Snapshots are read into this
 * tree; differentials are applied to a copy of their base's tree, which is how snapshots are generated here.
 */
export interface ElementNode {
  def: ElementDef;
  /** The JSON property name as defined (`value[x]` keeps its suffix); the root's is the type name. */
  name: string;
  children: ElementNode[];
  slices: ElementNode[];
}

export interface StructureTree {
  definition: StructureDefinition;
  root: ElementNode;
  /** What could not be applied as written (missing base, unknown element): reported when the profile is used. */
  notes: string[];
}

const lastSegment = (path: string) => path.slice(path.lastIndexOf('.') + 1);

/**
 * A snapshot's elements as a tree. STU3 core snapshots leave out `base` for the elements a resource defines
 * itself; there the element's own cardinality is the base one, which decides array or single in JSON.
 */
function treeFromSnapshot(elements: ElementDef[]): ElementNode {
  for (const def of elements) def.baseMax ??= def.max;
  const byId = new Map<string, ElementNode>();
  const root: ElementNode = { def: elements[0], name: elements[0].path, children: [], slices: [] };
  byId.set(elements[0].id, root);
  for (const def of elements.slice(1)) {
    const node: ElementNode = { def, name: lastSegment(def.path), children: [], slices: [] };
    const colon = def.id.lastIndexOf(':');
    const dot = def.id.lastIndexOf('.');
    if (def.sliceName && colon > dot) byId.get(def.id.slice(0, colon))?.slices.push(node);
    else byId.get(def.id.slice(0, dot))?.children.push(node);
    byId.set(def.id, node);
  }
  return root;
}

/** Copies a subtree under a new id prefix; element paths stay those of the definition they came from. */
function cloneNode(node: ElementNode, id: string): ElementNode {
  return {
    def: { ...node.def, id },
    name: node.name,
    children: node.children.map((child) => cloneNode(child, `${id}.${child.name}`)),
    slices: node.slices.map((slice) => cloneNode(slice, `${id}:${slice.def.sliceName}`)),
  };
}

const CHOICE = '[x]';

function typeSuffix(code: string): string {
  return code.charAt(0).toUpperCase() + code.slice(1);
}

/** `valueQuantity` names the Quantity type of `value[x]` (the STU3 way of constraining a choice). */
function choiceFor(children: ElementNode[], name: string): { node: ElementNode; type: string } | undefined {
  for (const child of children) {
    if (!child.name.endsWith(CHOICE)) continue;
    const stem = child.name.slice(0, -CHOICE.length);
    if (!name.startsWith(stem) || name.length === stem.length) continue;
    const type = child.def.types?.find((t) => typeSuffix(t.code) === name.slice(stem.length));
    if (type) return { node: child, type: type.code };
  }
  return undefined;
}

export class StructureTrees {
  private readonly trees = new Map<string, StructureTree | undefined>();
  private readonly building = new Set<string>();

  constructor(private readonly registry: Registry) {}

  /** The tree of a StructureDefinition by canonical (built and cached on first use; undefined when unknown). */
  tree(canonical: string): StructureTree | undefined {
    if (this.trees.has(canonical)) return this.trees.get(canonical);
    const definition = this.registry.structure(canonical);
    if (!definition || this.building.has(canonical)) return undefined;
    this.building.add(canonical);
    try {
      const tree = this.build(definition);
      this.trees.set(canonical, tree);
      return tree;
    } finally {
      this.building.delete(canonical);
    }
  }

  /**
   * Whether a path (`Observation.valueQuantity`, `Patient.name.family`) names an element of a definition, through
   * its types' elements and choice renames; an element with several types is not looked into (true: not judged).
   */
  hasPath(canonical: string, path: string): boolean | undefined {
    const tree = this.tree(canonical);
    if (!tree) return undefined;
    const [first, ...names] = path.split('.');
    if (first !== tree.root.name) return false;
    let node = tree.root;
    for (const name of names) {
      const children = node.children.length ? node.children : this.childrenOf(node, tree);
      if (!children) return true;
      const child = children.find((c) => c.name === name) ?? choiceFor(children, name)?.node;
      if (!child) return false;
      node = child;
    }
    return true;
  }

  /** The elements under an element of a built tree: its content reference's, or its one type's (undefined: several types). */
  private childrenOf(node: ElementNode, tree: StructureTree): ElementNode[] | undefined {
    if (node.def.contentReference) return this.referenced(node.def.contentReference, tree)?.node.children ?? [];
    const types = node.def.types ?? [];
    if (types.length !== 1) return undefined;
    return this.tree(CORE_PREFIX + types[0].code)?.root.children ?? [];
  }

  /**
   * The element a contentReference names: `#Questionnaire.item` one of the definition that has it (so a profile's
   * constraints on Questionnaire.item hold for nested items too), `{url}#Questionnaire.item` one of the definition
   * at url (the definition that has it when that one is not known).
   */
  referenced(contentReference: string, tree: StructureTree): { tree: StructureTree; node: ElementNode } | undefined {
    const hash = contentReference.indexOf('#');
    const source = (hash > 0 && this.tree(contentReference.slice(0, hash))) || tree;
    const node = findByPath(source.root, contentReference.slice(hash + 1));
    return node && { tree: source, node };
  }

  private build(definition: StructureDefinition): StructureTree | undefined {
    if (definition.snapshot?.length) return { definition, root: treeFromSnapshot(definition.snapshot), notes: [] };
    if (!definition.differential) return undefined;
    const notes: string[] = [];
    const base = this.baseTree(definition, notes);
    if (!base) return undefined;
    const root = cloneNode(base.root, base.root.def.id);
    for (const def of definition.differential) this.apply(root, base, def, notes);
    return { definition, root, notes: [...base.notes, ...notes] };
  }

  /** The base to build on; an unknown base degrades to the core definition of the same type. */
  private baseTree(definition: StructureDefinition, notes: string[]): StructureTree | undefined {
    const declared = definition.baseDefinition;
    const known = declared ? this.tree(declared) : undefined;
    if (known) return known;
    const core = CORE_PREFIX + definition.type;
    if (core === definition.url) return undefined;
    const fallback = this.tree(core);
    if (fallback) {
      notes.push(
        `its base ${declared ?? '(none)'} is not known, so it was built on ${core}: constraints of the missing base are not checked`,
      );
    }
    return fallback;
  }

  private apply(root: ElementNode, base: StructureTree, def: ElementDef, notes: string[]): void {
    const segments = def.id.split('.');
    if (segments[0] !== root.name) {
      notes.push(`element ${def.id} does not belong to ${root.name} and was ignored`);
      return;
    }
    let node = root;
    for (const segment of segments.slice(1)) {
      const next = this.step(node, segment, base);
      if (!next) {
        notes.push(`element ${def.id} is not in the base and was ignored`);
        return;
      }
      node = next;
    }
    node.def = merge(node.def, def);
    const [type, ...others] = def.types ?? [];
    if (type?.profileElement && others.length === 0) this.graft(node, type.profiles[0], type.profileElement, notes);
  }

  /**
   * An element typed by an element of another profile (`elementdefinition-profile-element`, as a library of
   * Composition sections) takes that element's children and constraints; the type keeps no profile, since the
   * profile's root is not what the element is.
   */
  private graft(node: ElementNode, profile: string, elementId: string, notes: string[]): void {
    const source = this.tree(profile);
    const element = source && findById(source.root, elementId);
    if (!element) {
      notes.push(`element ${node.def.id} is typed by ${profile}#${elementId}, which is not known, so that element's constraints are not checked`);
      return;
    }
    node.children = element.children.map((child) => cloneNode(child, `${node.def.id}.${child.name}`));
    const types = node.def.types!.map(({ profileElement: _, ...type }) => ({ ...type, profiles: [] }));
    node.def = { ...node.def, types, constraints: mergeConstraints(node.def.constraints, element.def.constraints) };
  }

  /** Descends one id segment (`name` or `name:slice`), expanding types and creating slices as needed. */
  private step(node: ElementNode, segment: string, base: StructureTree): ElementNode | undefined {
    const colon = segment.indexOf(':');
    const name = colon < 0 ? segment : segment.slice(0, colon);
    let sliceName = colon < 0 ? undefined : segment.slice(colon + 1);
    if (node.children.length === 0) this.expand(node, base);
    let child = node.children.find((c) => c.name === name);
    if (!child) {
      const choice = choiceFor(node.children, name);
      if (!choice) return undefined;
      child = choice.node;
      sliceName ??= name;
    }
    return sliceName === undefined ? child : this.slice(child, sliceName);
  }

  private slice(sliced: ElementNode, sliceName: string): ElementNode {
    const existing = sliced.slices.find((s) => s.def.sliceName === sliceName);
    if (existing) return existing;
    const slice = cloneNode({ ...sliced, slices: [] }, `${sliced.def.id}:${sliceName}`);
    slice.def = { ...slice.def, sliceName, min: 0, slicing: undefined };
    if (sliced.name.endsWith(CHOICE)) {
      const stem = sliced.name.slice(0, -CHOICE.length);
      const type = sliced.def.types?.find((t) => stem + typeSuffix(t.code) === sliceName);
      if (type) slice.def.types = [type];
    }
    sliced.slices.push(slice);
    return slice;
  }

  /**
   * Gives an element the children of its type, or of the base's element a contentReference names (as the HL7
   * snapshot generator does: a profile's slices of Parameters.parameter.part do not recur in their own parts).
   */
  private expand(node: ElementNode, base: StructureTree): void {
    if (node.def.contentReference) {
      const target = this.referenced(node.def.contentReference, base)?.node;
      node.children = (target?.children ?? []).map((child) => cloneNode(child, `${node.def.id}.${child.name}`));
      return;
    }
    const types = node.def.types ?? [];
    if (types.length !== 1) return;
    const [type] = types;
    const source = (type.profiles.length === 1 && this.tree(type.profiles[0])) || this.tree(CORE_PREFIX + type.code);
    if (!source) return;
    node.children = source.root.children.map((child) => cloneNode(child, `${node.def.id}.${child.name}`));
  }
}

function findById(node: ElementNode, id: string): ElementNode | undefined {
  if (node.def.id === id) return node;
  for (const child of [...node.children, ...node.slices]) {
    if (id.startsWith(child.def.id)) {
      const found = findById(child, id);
      if (found) return found;
    }
  }
  return undefined;
}

/** The (unsliced) element at a path such as `Composition.section`. */
function findByPath(root: ElementNode, path: string): ElementNode | undefined {
  let node: ElementNode | undefined = root;
  for (const name of path.split('.').slice(1)) node = node?.children.find((child) => child.name === name);
  return node;
}

function mergeConstraints(base: ElementDef['constraints'], added: ElementDef['constraints']): ElementDef['constraints'] {
  if (!added?.length) return base;
  const keys = new Set(added.map((c) => c.key));
  return [...(base ?? []).filter((c) => !keys.has(c.key)), ...added];
}

/** A differential element laid over the element it constrains: what it states wins, constraints accumulate. */
function merge(base: ElementDef, diff: ElementDef): ElementDef {
  const merged: ElementDef = { ...base };
  if (diff.sliceName !== undefined) merged.sliceName = diff.sliceName;
  if (diff.min !== undefined) merged.min = diff.min;
  if (diff.max !== undefined) merged.max = diff.max;
  if (diff.types) merged.types = diff.types;
  if (diff.contentReference !== undefined) merged.contentReference = diff.contentReference;
  if (diff.fixed) merged.fixed = diff.fixed;
  if (diff.pattern) merged.pattern = diff.pattern;
  if (diff.binding) merged.binding = { ...base.binding, ...diff.binding };
  merged.constraints = mergeConstraints(base.constraints, diff.constraints);
  if (diff.slicing) merged.slicing = diff.slicing;
  if (diff.maxLength !== undefined) merged.maxLength = diff.maxLength;
  if (diff.minValue) merged.minValue = diff.minValue;
  if (diff.maxValue) merged.maxValue = diff.maxValue;
  if (diff.mustHaveValue) merged.mustHaveValue = true;
  if (diff.narrative) merged.narrative = diff.narrative;
  return merged;
}

