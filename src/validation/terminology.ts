import { GatewayError } from '../errors.js';
import type { CodeSystem, Concept, ValueSetInclude } from './definitions.js';
import type { Registry } from './registry.js';

/** The codes of a value set per system; a case-insensitive system keeps its codes lower-cased. */
export class Expansion {
  constructor(private readonly systems: Map<string, { codes: Set<string>; caseSensitive: boolean }>) {}

  has(system: string | undefined, code: string): boolean {
    if (system === undefined) {
      for (const [name] of this.systems) if (this.has(name, code)) return true;
      return false;
    }
    const entry = this.systems.get(system);
    if (!entry) return false;
    return entry.codes.has(entry.caseSensitive ? code : code.toLowerCase());
  }

  /** Whether every code comes from this one system. */
  onlyFrom(system: string): boolean {
    return this.systems.size === 1 && this.systems.has(system);
  }
}

/** Thrown inside an expansion that needs something this process does not have (SNOMED, UCUM, a filter). */
class NotExpandable extends GatewayError {
  static override readonly code = 'ERR_VALUESET_NOT_EXPANDABLE';
}

function collect(concepts: Concept[], into: Set<string>): void {
  for (const concept of concepts) {
    into.add(concept.code);
    collect(concept.children, into);
  }
}

function find(concepts: Concept[], code: string): Concept | undefined {
  for (const concept of concepts) {
    if (concept.code === code) return concept;
    const below = find(concept.children, code);
    if (below) return below;
  }
  return undefined;
}

function filtered(codeSystem: CodeSystem, include: ValueSetInclude): Set<string> {
  const codes = new Set<string>();
  for (const filter of include.filters ?? []) {
    const top = filter.property === 'concept' ? find(codeSystem.concepts, filter.value) : undefined;
    if (!top || !['is-a', 'descendent-of'].includes(filter.op)) throw new NotExpandable();
    if (filter.op === 'is-a') codes.add(top.code);
    collect(top.children, codes);
  }
  return codes;
}

/**
 * Expands ValueSets from the CodeSystems shipped with the base definitions (and loaded profiles). A value set
 * that needs more (an external terminology such as SNOMED CT, an unsupported filter) has no expansion, and the
 * validator then does not judge codes against it: it cannot know.
 */
export class Terminology {
  private readonly expansions = new Map<string, Expansion | undefined>();
  private readonly expanding = new Set<string>();

  constructor(private readonly registry: Registry) {}

  expansion(url: string): Expansion | undefined {
    if (this.expansions.has(url)) return this.expansions.get(url);
    let result: Expansion | undefined;
    try {
      result = new Expansion(this.expand(url));
    } catch (error) {
      if (!(error instanceof NotExpandable)) throw error;
      result = undefined;
    }
    this.expansions.set(url, result);
    return result;
  }

  private expand(url: string): Map<string, { codes: Set<string>; caseSensitive: boolean }> {
    const valueSet = this.registry.valueSet(url);
    if (!valueSet || this.expanding.has(url)) throw new NotExpandable();
    this.expanding.add(url);
    try {
      const systems = new Map<string, { codes: Set<string>; caseSensitive: boolean }>();
      const add = (system: string, codes: Iterable<string>) => {
        const caseSensitive = this.registry.codeSystem(system)?.caseSensitive ?? true;
        const entry = systems.get(system) ?? { codes: new Set<string>(), caseSensitive };
        for (const code of codes) entry.codes.add(caseSensitive ? code : code.toLowerCase());
        systems.set(system, entry);
      };
      if (valueSet.expansion && valueSet.includes.length === 0) {
        for (const item of valueSet.expansion) if (item.system && item.code) add(item.system, [item.code]);
        return systems;
      }
      for (const include of valueSet.includes) {
        if (include.system) add(include.system, this.includeCodes(include));
        for (const nested of include.system ? [] : (include.valueSets ?? [])) {
          for (const [system, entry] of this.expand(nested)) add(system, entry.codes);
        }
      }
      for (const exclude of valueSet.excludes) {
        if (!exclude.system || exclude.filters?.length || exclude.valueSets?.length) throw new NotExpandable();
        const entry = systems.get(exclude.system);
        for (const code of exclude.concepts ?? []) entry?.codes.delete(entry.caseSensitive ? code : code.toLowerCase());
      }
      return systems;
    } finally {
      this.expanding.delete(url);
    }
  }

  private includeCodes(include: ValueSetInclude): Set<string> {
    if (include.valueSets?.length) throw new NotExpandable();
    if (include.concepts) return new Set(include.concepts);
    const codeSystem = this.registry.codeSystem(include.system!);
    if (!codeSystem || codeSystem.content !== 'complete') throw new NotExpandable();
    if (include.filters?.length) return filtered(codeSystem, include);
    const codes = new Set<string>();
    collect(codeSystem.concepts, codes);
    return codes;
  }
}
