import type { FhirVersion } from '../fhir/version.js';
import { CORE_PREFIX, type Constraint, type ElementDef, type TypedValue, type TypeRef } from './definitions.js';
import { type ElementNode, type StructureTree, type StructureTrees } from './element-tree.js';
import { ExtensionContexts } from './extension-context.js';
import { type Invariant, InvariantCompiler } from './invariants.js';
import { type PrimitiveRule, primitiveRule } from './primitives.js';
import type { Registry } from './registry.js';
import { compileSlicing, type SlicingRule } from './slicing.js';
import type { Expansion, Terminology } from './terminology.js';

/**
 * StructureDefinitions compiled into rules the walker applies: one ElementRule per element, built lazily the
 * first time an instance reaches it and kept for every later validation.
 */
export interface TypeRule {
  code: string;
  /** The JSON property for this element with this type (`valueQuantity` for a choice). */
  key: string;
  /** The property of a primitive's id and extensions (`_valueString`). */
  companion: string;
  /** The FHIRPath step naming it (`value.ofType(Quantity)` for a choice). */
  segment: string;
  kind: 'primitive' | 'complex' | 'resource';
  profiles: string[];
  targetProfiles: string[];
}

export interface Child {
  rule: ElementRule;
  type: TypeRule;
}

/** The properties an object may have, by JSON key. */
export class Structure {
  readonly byKey = new Map<string, Child>();
  /** Elements that must be present: required themselves, or with a required slice. */
  readonly required: ElementRule[] = [];
  readonly choices: ElementRule[] = [];

  constructor(
    rules: ElementRule[],
    /** A resource's root: `resourceType` belongs here. */
    readonly isResource: boolean,
  ) {
    for (const rule of rules) {
      for (const type of rule.types) {
        const typeSlice = rule.typeSlice(type.key);
        this.byKey.set(type.key, { rule: typeSlice ?? rule, type: typeSlice?.types[0] ?? type });
      }
      if (rule.min > 0 || rule.node.slices.some((slice) => (slice.def.min ?? 0) > 0)) this.required.push(rule);
      if (rule.types.length > 1 && rule.node.name.endsWith(CHOICE)) this.choices.push(rule);
    }
  }
}

/**
 * An invariant with the child keys it reads (undefined: it reads more than the children). When none of them is
 * present the outcome is known without evaluating; `groups` holds those keys per element it reads.
 */
export interface PlannedInvariant {
  invariant: Invariant;
  keys?: string[];
  groups?: string[][];
}

/** What to check on one instance of an element with a given type. */
export interface ItemPlan {
  structure?: Structure;
  invariants: PlannedInvariant[];
  primitive?: PrimitiveRule;
}

export interface RequiredBinding {
  valueSet: string;
  expansion(): Expansion | undefined;
}

const CHOICE = '[x]';
const suffix = (code: string) => code.charAt(0).toUpperCase() + code.slice(1);

export class ElementRule {
  readonly id: string;
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly isArray: boolean;
  readonly types: TypeRule[];
  readonly fixed?: TypedValue;
  readonly pattern?: TypedValue;
  readonly minValue?: TypedValue;
  readonly maxValue?: TypedValue;
  readonly binding?: RequiredBinding;
  readonly invariants: Invariant[];
  /** A resource root that inherits DomainResource's rules (dom-2 among its constraints). */
  readonly isDomainResource: boolean;
  private readonly target: ElementRule;
  private readonly plans = new Map<string, ItemPlan>();
  private ownStructure?: Structure | null;
  private slicingRule?: SlicingRule | null;
  private typeSlices?: Map<string, ElementRule>;

  constructor(
    private readonly compiler: Compiler,
    readonly node: ElementNode,
    readonly tree: StructureTree,
    isRoot: boolean,
  ) {
    const def = node.def;
    this.id = def.id;
    this.name = node.name.endsWith(CHOICE) ? node.name.slice(0, -CHOICE.length) : node.name;
    this.min = def.min ?? 0;
    this.max = def.max ?? Infinity;
    this.isArray = (def.baseMax ?? def.max ?? Infinity) > 1;
    this.target = (def.contentReference && compiler.referencedRule(tree, def.contentReference)) || this;
    this.types = isRoot ? [] : this.typeRules(def, node.name.endsWith(CHOICE));
    this.fixed = def.fixed;
    this.pattern = def.pattern;
    this.minValue = def.minValue;
    this.maxValue = def.maxValue;
    if (def.binding?.strength === 'required' && def.binding.valueSet) this.binding = compiler.requiredBinding(def.binding.valueSet);
    this.isDomainResource = isRoot && (def.constraints ?? []).some((c) => c.key === 'dom-2');
    // An element defined by reference (Questionnaire.item.item) carries the constraints of the element it names.
    const constraints = this.target === this ? def.constraints : [...(def.constraints ?? []), ...(this.target.node.def.constraints ?? [])];
    this.invariants = (constraints ?? [])
      .map((constraint) => compiler.invariant(constraint, this.target.node.def.path))
      .filter((invariant): invariant is Invariant => invariant !== undefined);
  }

  private typeRules(def: ElementDef, choice: boolean): TypeRule[] {
    const refs = this.target === this ? (def.types ?? []) : this.target.node.def.types ?? [];
    return refs.map((ref) => this.compiler.typeRule(this.adjustedType(ref, def), this.name, choice));
  }

  /** R4 types Resource.id as a plain string; it is an id (which the HL7 validator checks too). */
  private adjustedType(ref: TypeRef, def: ElementDef): TypeRef {
    const isResourceId = this.compiler.isResource(this.tree.definition.type) && /^[A-Za-z]+\.id$/.test(def.path);
    return isResourceId && ref.code === 'string' ? { ...ref, code: 'id' } : ref;
  }

  /**
   * The element's own children: those under its path (for a contentReference, there when a profile constrains
   * below it, and then they win), else those of the element a contentReference names.
   */
  children(): Structure | undefined {
    if (this.target !== this && this.node.children.length === 0) return this.target.children();
    if (this.ownStructure === undefined) {
      const children = this.node.children.map((child) => this.compiler.ruleFor(child, this.tree));
      this.ownStructure = children.length ? new Structure(children, this.node === this.tree.root && this.compiler.isResource(this.tree.definition.type)) : null;
    }
    return this.ownStructure ?? undefined;
  }

  slicing(): SlicingRule | undefined {
    if (this.slicingRule === undefined) this.slicingRule = compileSlicing(this.compiler, this) ?? null;
    return this.slicingRule ?? undefined;
  }

  /** A slice of a choice element that constrains one of its types (`value[x]:valueReference`). */
  typeSlice(key: string): ElementRule | undefined {
    if (!this.node.name.endsWith(CHOICE) || this.node.slices.length === 0) return undefined;
    if (!this.typeSlices) {
      this.typeSlices = new Map();
      for (const slice of this.node.slices) {
        const rule = this.compiler.ruleFor(slice, this.tree);
        if (rule.types.length === 1) this.typeSlices.set(rule.types[0].key, rule);
      }
    }
    return this.typeSlices.get(key);
  }

  /** The checks for one instance of this element holding the given type (the root: the resource itself). */
  plan(type?: TypeRule): ItemPlan {
    const cacheKey = type?.key ?? '';
    let plan = this.plans.get(cacheKey);
    if (!plan) {
      plan = this.buildPlan(type);
      this.plans.set(cacheKey, plan);
    }
    return plan;
  }

  private buildPlan(type?: TypeRule): ItemPlan {
    if (!type) return this.compiler.planFor(this.children(), this.invariants);
    if (type.kind === 'primitive') {
      const base = this.compiler.primitive(type.code);
      const maxLength = this.node.def.maxLength;
      const primitive = maxLength === undefined ? base.rule : { ...base.rule, maxLength };
      return { structure: base.elementStructure, invariants: this.invariants.map((invariant) => ({ invariant })), primitive };
    }
    const typeRoot = this.compiler.typeRoot(type);
    const invariants = [...this.invariants];
    for (const invariant of typeRoot?.invariants ?? []) if (!invariants.some((i) => i.key === invariant.key)) invariants.push(invariant);
    return this.compiler.planFor(this.children() ?? typeRoot?.children(), invariants);
  }
}

/** Compiles and caches rules for every definition a validator meets. */
export class Compiler {
  private readonly rules = new WeakMap<ElementNode, ElementRule>();
  private readonly roots = new Map<string, ElementRule | undefined>();
  private readonly primitives = new Map<string, { rule: PrimitiveRule; elementStructure?: Structure }>();
  private readonly invariants: InvariantCompiler;
  private readonly targets = new WeakMap<TypeRule, Set<string> | null>();
  private readonly ancestors = new Map<string, string[]>();
  readonly extensionContexts: ExtensionContexts;

  constructor(
    readonly version: FhirVersion,
    readonly registry: Registry,
    readonly trees: StructureTrees,
    readonly terminology: Terminology,
  ) {
    this.invariants = new InvariantCompiler(version);
    this.extensionContexts = new ExtensionContexts(version);
  }

  /** The types a type specializes (HumanName: Element; Patient: DomainResource, Resource). */
  typeAncestors(type: string): string[] {
    let found = this.ancestors.get(type);
    if (!found) {
      found = [];
      let base = this.registry.structure(CORE_PREFIX + type)?.baseDefinition;
      while (base?.startsWith(CORE_PREFIX) && found.length < 10) {
        const name = base.slice(CORE_PREFIX.length);
        found.push(name);
        base = this.registry.structure(base)?.baseDefinition;
      }
      this.ancestors.set(type, found);
    }
    return found;
  }

  ruleFor(node: ElementNode, tree: StructureTree): ElementRule {
    let rule = this.rules.get(node);
    if (!rule) {
      rule = new ElementRule(this, node, tree, node === tree.root);
      this.rules.set(node, rule);
    }
    return rule;
  }

  /** The root rule of a StructureDefinition (a resource, type, profile or extension). */
  root(canonical: string): ElementRule | undefined {
    if (!this.roots.has(canonical)) {
      const tree = this.trees.tree(canonical);
      this.roots.set(canonical, tree ? this.ruleFor(tree.root, tree) : undefined);
    }
    return this.roots.get(canonical);
  }

  /** The definition whose children an instance of a type follows: its one type profile when known, else the type. */
  typeRoot(type: TypeRule): ElementRule | undefined {
    if (type.profiles.length === 1) {
      const profiled = this.root(type.profiles[0]);
      if (profiled) return profiled;
    }
    return this.root(CORE_PREFIX + type.code);
  }

  /** What a contentReference (`#Questionnaire.item`) names. */
  referencedRule(tree: StructureTree, contentReference: string): ElementRule | undefined {
    const referenced = this.trees.referenced(contentReference, tree);
    return referenced && this.ruleFor(referenced.node, referenced.tree);
  }

  typeRule(ref: TypeRef, stem: string, choice: boolean): TypeRule {
    const kind = this.kindOf(ref.code);
    const key = choice ? stem + suffix(ref.code) : stem;
    return {
      code: ref.code,
      key,
      companion: `_${key}`,
      segment: choice ? `${stem}.ofType(${ref.code})` : stem,
      kind,
      profiles: ref.profiles,
      targetProfiles: ref.targetProfiles,
    };
  }

  /** By the core definition of the type, not by the profile's own `kind` (which some profiles get wrong). */
  isResource(type: string): boolean {
    return this.kindOf(type) === 'resource';
  }

  private kindOf(code: string): TypeRule['kind'] {
    const definition = this.registry.structure(CORE_PREFIX + code);
    if (definition?.kind === 'primitive-type') return 'primitive';
    if (definition?.kind === 'resource') return 'resource';
    return 'complex';
  }

  /** A primitive type's value check and the structure of its `_x` companion (id and extension, never value). */
  primitive(code: string): { rule: PrimitiveRule; elementStructure?: Structure } {
    let compiled = this.primitives.get(code);
    if (!compiled) {
      const root = this.root(CORE_PREFIX + code);
      const valueNode = root?.node.children.find((child) => child.name === 'value');
      const rules = (root?.node.children ?? [])
        .filter((child) => child.name !== 'value')
        .map((child) => this.ruleFor(child, root!.tree));
      compiled = {
        rule: primitiveRule(code, valueNode?.def.regex, valueNode?.def.maxLength),
        elementStructure: rules.length ? new Structure(rules, false) : undefined,
      };
      this.primitives.set(code, compiled);
    }
    return compiled;
  }

  /** The resource types a Reference may point to; undefined when any will do (or a target profile is unknown). */
  targetTypes(type: TypeRule): Set<string> | undefined {
    if (!this.targets.has(type)) this.targets.set(type, this.resolveTargets(type.targetProfiles));
    return this.targets.get(type) ?? undefined;
  }

  private resolveTargets(profiles: string[]): Set<string> | null {
    const types = new Set<string>();
    for (const url of profiles) {
      const type = this.registry.structure(url)?.type;
      if (!type || type === 'Resource' || type === 'DomainResource') return null;
      types.add(type);
    }
    return types.size ? types : null;
  }

  requiredBinding(valueSet: string): RequiredBinding {
    let expansion: Expansion | undefined | null = null;
    return {
      valueSet,
      expansion: () => {
        if (expansion === null) expansion = this.terminology.expansion(valueSet);
        return expansion;
      },
    };
  }

  invariant(constraint: Constraint, path: string): Invariant | undefined {
    return this.invariants.compile(constraint, path);
  }

  /** Pairs each invariant with the child keys it reads, so that it is only evaluated when one is present. */
  planFor(structure: Structure | undefined, invariants: Invariant[]): ItemPlan {
    return { structure, invariants: invariants.map((invariant) => planInvariant(structure, invariant)) };
  }
}

function planInvariant(structure: Structure | undefined, invariant: Invariant): PlannedInvariant {
  const names = invariant.names;
  if (!structure || !names) return { invariant };
  const groups = new Map<ElementRule, string[]>();
  for (const [key, child] of structure.byKey) {
    if (!names.has(child.rule.name) && !names.has(key)) continue;
    const group = groups.get(child.rule) ?? [];
    group.push(key, child.type.companion);
    groups.set(child.rule, group);
  }
  return { invariant, keys: [...groups.values()].flat(), groups: [...groups.values()] };
}
