import { compact, type Json } from './json.js';
import { asList, isObject } from '../../vocabulary/json.js';

/**
 * One difference between STU3 and R4 at one place in a type: it reads the elements it names on one side and writes
 * those it names on the other. The engine runs it in the direction asked, checks that the opposite direction
 * gives the input back, and keeps whatever it could not carry in cross-version extensions.
 */
export interface Rule {
  /** JSON element names on the STU3 side (their `_` siblings come along). */
  stu3: readonly string[];
  /** JSON element names on the R4 side. */
  r4: readonly string[];
  toR4(slice: Json, context: RuleContext): Json;
  toStu3(slice: Json, context: RuleContext): Json;
  /**
   * Set when the rule only narrows a datatype (canonical → uri) at a place that cannot carry an extension, so the
   * loss of the type tag is accepted instead of stashed.
   */
  typeOnly?: boolean;
}

/** What a rule may ask of the engine, for the node it is converting and the direction being run. */
export interface RuleContext {
  /** Element `source` of the slice (with its `_` sibling) as target element `target`, datatypes and cardinality converted. */
  move(slice: Json, source: string, target: string): Json;
  /** One value of a datatype that has the same name in both releases (Reference, CodeableConcept, Coding). */
  datatype(value: unknown, type: string): Json;
  /**
   * One value of element `source` (a path in the source release, `Task.requester.agent`) as a value of element
   * `target` (`Task.requester`); undefined when the target release does not allow it there (a reference).
   */
  value(value: unknown, source: string, target: string): unknown;
  /** Cross-version extensions carrying the elements of `value`, a source-release backbone defined at `path`. */
  packElements(value: Json, path: string): Json[];
  /** Takes back the elements a `packElements` of the opposite direction put into `extensions`. */
  restoreElements(extensions: unknown, path: string): { elements: Json; others: Json[] };
}

/**
 * The same element under another name (and maybe another cardinality). A reference the target release does not
 * allow there (a STU3 context pointing at an EpisodeOfCare, say) is left out by the engine and so kept aside.
 */
export function rename(stu3: string, r4: string): Rule {
  return {
    stu3: [stu3],
    r4: [r4],
    toR4: (slice, context) => context.move(slice, stu3, r4),
    toStu3: (slice, context) => context.move(slice, r4, stu3),
  };
}

/** A code whose value set renamed some codes between the releases; the codes not listed are the same in both. */
export function recode(name: string, toR4: Record<string, string>, toStu3: Record<string, string>): Rule {
  const convert = (slice: Json, context: RuleContext, codes: Record<string, string>): Json => {
    const result = context.move(slice, name, name);
    if (typeof result[name] === 'string') result[name] = codes[result[name]] ?? result[name];
    return result;
  };
  return { stu3: [name], r4: [name], toR4: (slice, context) => convert(slice, context, toR4), toStu3: (slice, context) => convert(slice, context, toStu3) };
}

/** A STU3 string that R4 made a CodeableConcept: the string is the concept's text. */
export function textToConcept(name: string): Rule {
  const hidden = `_${name}`;
  return {
    stu3: [name],
    r4: [name],
    toR4(slice, context) {
      const concept = compact({ text: slice[name], _text: isObject(slice[hidden]) ? context.datatype(slice[hidden], 'Element') : undefined });
      return Object.keys(concept).length ? { [name]: concept } : {};
    },
    toStu3(slice, context) {
      const concept = isObject(slice[name]) ? context.datatype(slice[name], 'CodeableConcept') : {};
      return compact({ [name]: concept.text, [hidden]: concept._text });
    },
  };
}

export interface CodeSystemCodes {
  system: string;
  /** The R4 code system's display for each code, written on the R4 coding as R4 examples do. */
  displays: Record<string, string>;
  /** STU3 code → R4 code, where they differ. */
  toR4?: Record<string, string>;
  /** R4 code → STU3 code, where they differ. */
  toStu3?: Record<string, string>;
}

/**
 * Nictiz STU3 profiles carry a more specific (SNOMED) code for a FHIR status code in this extension on the code;
 * the zib2020 R4 profiles carry it as an extra coding of the CodeableConcept that replaced the code.
 */
export const CODE_SPECIFICATION = 'http://nictiz.nl/fhir/StructureDefinition/code-specification';

/** A STU3 `code` that became a CodeableConcept in R4 (Condition.clinicalStatus and the like). */
export function codeToConcept(name: string, codes: CodeSystemCodes): Rule {
  const hidden = `_${name}`;
  return {
    stu3: [name],
    r4: [name],
    toR4(slice, context) {
      const code = slice[name];
      const element = isObject(slice[hidden]) ? context.datatype(slice[hidden], 'Element') : {};
      const extensions = asList(element.extension) as Json[];
      const coding: Json[] = [];
      if (typeof code === 'string') {
        const r4Code = codes.toR4?.[code] ?? code;
        coding.push(compact({ system: codes.system, code: r4Code, display: codes.displays[r4Code] }));
      }
      for (const extension of extensions.filter((e) => e.url === CODE_SPECIFICATION)) {
        coding.push(...(asList((extension.valueCodeableConcept as Json | undefined)?.coding) as Json[]));
      }
      const others = extensions.filter((e) => e.url !== CODE_SPECIFICATION);
      const concept = compact({ id: element.id, extension: others.length ? others : undefined });
      if (coding.length) concept.coding = coding;
      return { [name]: concept };
    },
    toStu3(slice, context) {
      const concept = isObject(slice[name]) ? slice[name] : {};
      const codings = asList(concept.coding) as Json[];
      const main = codings.find((coding) => coding.system === codes.system);
      const specific = codings
        .filter((coding) => coding !== main)
        .map((coding) => ({ url: CODE_SPECIFICATION, valueCodeableConcept: { coding: [context.datatype(coding, 'Coding')] } }));
      const extensions = [...asList(concept.extension).map((e) => context.datatype(e, 'Extension')), ...specific];
      const result: Json = {};
      if (typeof main?.code === 'string') result[name] = codes.toStu3?.[main.code] ?? main.code;
      if (concept.id !== undefined || extensions.length) result[hidden] = compact({ id: concept.id, extension: extensions });
      return result;
    },
  };
}

/**
 * A STU3 backbone that R4 reduced to one of its children (Task.requester.agent → Task.requester): the other
 * children travel as cross-version extensions on the R4 element.
 */
export function flattenBackbone(path: string, kept: string): Rule {
  const name = path.slice(path.lastIndexOf('.') + 1);
  const keptPath = `${path}.${kept}`;
  return {
    stu3: [name],
    r4: [name],
    toR4(slice, context) {
      const flattened = asList(slice[name]).map((item) => {
        const { [kept]: value, ...others } = item as Json;
        const { id, extension, ...reference } = (context.value(value, keptPath, path) ?? {}) as Json;
        const extensions = [...asList(extension), ...context.packElements(others, path)];
        return compact({ id, extension: extensions.length ? extensions : undefined, ...reference });
      });
      return { [name]: Array.isArray(slice[name]) ? flattened : flattened[0] };
    },
    toStu3(slice, context) {
      const backbones = asList(slice[name]).map((item) => {
        const reference = item as Json;
        const { elements, others } = context.restoreElements(reference.extension, path);
        const value = compact({ ...reference, extension: others.length ? others : undefined });
        return compact({ [kept]: context.value(value, path, keptPath), ...elements });
      });
      return { [name]: Array.isArray(slice[name]) ? backbones : backbones[0] };
    },
  };
}
