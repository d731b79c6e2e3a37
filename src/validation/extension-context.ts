import fhirpath from 'fhirpath';
import r4Model from 'fhirpath/fhir-context/r4/index.js';
import stu3Model from 'fhirpath/fhir-context/stu3/index.js';
import type { FhirVersion } from '../fhir/version.js';
import type { StructureDefinition } from './definitions.js';

/**
 * Extension context: where an extension may be used (its definition's `context`) and what its host must meet
 * (`contextInvariant`), checked as the HL7 validator does.
 */

/** The element an extension sits on. */
export interface Host {
  /** The names the host goes by: its element paths (by definition and in the instance), its type and that type's ancestors. */
  names: Set<string>;
  type: string;
  value: unknown;
  /** The url of the Extension the host is, or whose value it is (for contexts of type `extension`). */
  url?: string;
}

const MODELS = { r4: r4Model, stu3: stu3Model } as const;

/** Contexts that allow every element: Element (resources too, as the HL7 validator reads it), STU3's `Any` and `*`. */
const ANYWHERE = new Set(['Element', 'Any', '*']);

/** Core extensions whose R4 4.0.1 context was corrected since (the HL7 validator uses the corrected one). */
const CORRECTED_CONTEXTS: Record<string, string> = {
  'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type': 'ElementDefinition.type',
};

type Evaluate = (node: unknown, env: Record<string, unknown>) => unknown[];

export class ExtensionContexts {
  private readonly compiled = new Map<string, Evaluate | null>();

  constructor(private readonly version: FhirVersion) {}

  /**
   * The common case, decided without building the host's names: an element context that is the host's path by
   * definition, its type or one of that type's ancestors, and no context invariant.
   */
  allowsDirectly(definition: StructureDefinition, path: string, type: string, ancestors: string[]): boolean {
    if (definition.contextInvariants?.length) return false;
    for (const context of definition.contexts ?? []) {
      if (context.type !== 'element') continue;
      const expression = CORRECTED_CONTEXTS[definition.url] ?? context.expression;
      if (ANYWHERE.has(expression) || expression === path || expression === type || ancestors.includes(expression)) return true;
    }
    return false;
  }

  /** What is wrong with using the extension here; undefined when nothing is. */
  problem(definition: StructureDefinition, host: Host, resource: unknown): string | undefined {
    const contexts = definition.contexts ?? [];
    if (contexts.length > 0 && !contexts.some((context) => this.allows(definition, context, host, resource))) {
      const allowed = contexts.map((c) => `${c.type.charAt(0)}:${c.expression}`).join(', ');
      return `The extension ${definition.url} is not allowed to be used at this point (this element is ${[...host.names].slice(0, 3).join(', ')}; allowed: ${allowed})`;
    }
    for (const invariant of definition.contextInvariants ?? []) {
      const result = this.evaluate(invariant, host.value, resource);
      if (result && !(result.length > 0 && result.every((value) => value === true))) {
        return `The extension ${definition.url} is not allowed to be used at this point (based on context invariant '${invariant}')`;
      }
    }
    return undefined;
  }

  private allows(definition: StructureDefinition, context: { type: string; expression: string }, host: Host, resource: unknown): boolean {
    switch (context.type) {
      case 'element':
        return ANYWHERE.has(context.expression) || host.names.has(CORRECTED_CONTEXTS[definition.url] ?? context.expression);
      case 'extension':
        return host.url === context.expression;
      default: {
        // A FHIRPath context: the host must be among what the expression selects from the resource.
        const selected = this.evaluate(context.expression, resource, resource);
        return selected === undefined || selected.includes(host.value);
      }
    }
  }

  /** Undefined when fhirpath.js cannot evaluate the expression (then it does not judge). */
  private evaluate(expression: string, node: unknown, resource: unknown): unknown[] | undefined {
    let evaluate = this.compiled.get(expression);
    if (evaluate === undefined) {
      try {
        evaluate = fhirpath.compile(expression, MODELS[this.version] as never) as Evaluate;
      } catch {
        evaluate = null;
      }
      this.compiled.set(expression, evaluate);
    }
    if (!evaluate) return undefined;
    try {
      return evaluate(node, { resource, rootResource: resource });
    } catch {
      return undefined;
    }
  }
}
