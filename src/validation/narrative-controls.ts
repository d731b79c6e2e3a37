import { XMLParser } from 'fast-xml-parser';
import type { NarrativeControls } from './definitions.js';

/**
 * A profile's controls on a narrative (HL7's `narrative-language-control` and `narrative-source-control`
 * extensions on a Narrative element or its div), as the extensions' definitions describe them:
 * - language sections are the `div` children of the narrative's div with an `xml:lang` (or `lang`) attribute;
 *   `_no` forbids them, `_yes` requires some, `_resource` requires one in the resource's language, and a language
 *   code requires one in that language;
 * - with a source control, every piece of text must sit in an element whose class says where it comes from
 *   (`boilerplate`, `generated`, `extension`, `additional`, or `original`), reported at the issue severity it
 *   names (`success`: not checked).
 */
export interface NarrativeProblem {
  severity: 'fatal' | 'error' | 'warning' | 'information';
  text: string;
}

type XmlItem = Record<string, unknown>;

const parser = new XMLParser({ preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '', trimValues: false, processEntities: true });
const SOURCE_CLASSES = new Set(['boilerplate', 'generated', 'extension', 'additional', 'original']);

export function narrativeControlProblems(controls: NarrativeControls, div: string, resourceLanguage: unknown, profile: string): NarrativeProblem[] {
  let root: XmlItem | undefined;
  try {
    root = (parser.parse(div) as XmlItem[]).find((item) => Array.isArray(item.div));
  } catch {
    return []; // a narrative that is not well-formed is reported by txt-1
  }
  if (!root) return [];
  const where = `in this context by the profile ${profile}`;
  const problems: NarrativeProblem[] = [];
  if (controls.languages) problems.push(...languageProblems(controls.languages, root, resourceLanguage, where));
  if (controls.source) {
    for (const text of unlabelledText(root, false)) {
      problems.push({
        severity: controls.source,
        text: `The xhtml node at '${text}' does not have a class attribute to indicate its source (boilerplate, generated, extension, additional or original), and this is required ${where}`,
      });
    }
  }
  return problems;
}

function languageProblems(wanted: string[], root: XmlItem, resourceLanguage: unknown, where: string): NarrativeProblem[] {
  const sections = languageSections(root);
  const listed = [...sections].sort().join(', ');
  const problems: NarrativeProblem[] = [];
  for (const control of wanted) {
    if (control === '_no' && sections.size > 0) {
      problems.push({ severity: 'error', text: `The xhtml has some language sections (${listed}), but language sections are prohibited ${where}` });
    } else if (control === '_yes' && sections.size === 0) {
      problems.push({ severity: 'error', text: `The xhtml has no language sections, but language sections are required ${where}` });
    } else if (!control.startsWith('_') || control === '_resource') {
      const language = control === '_resource' ? resourceLanguage : control;
      if (typeof language === 'string' && !sections.has(language)) {
        problems.push({ severity: 'error', text: `The xhtml has no language section for '${language}' (found: ${listed || 'none'}), but one is required ${where}` });
      }
    }
  }
  return problems;
}

function languageSections(root: XmlItem): Set<string> {
  const languages = new Set<string>();
  for (const child of children(root)) {
    if (!Array.isArray(child.div)) continue;
    const attributes = attributesOf(child);
    const language = attributes['xml:lang'] ?? attributes.lang;
    if (typeof language === 'string') languages.add(language);
  }
  return languages;
}

/** The text (trimmed) of every text node with no element around it, up to the root, that names its source. */
function unlabelledText(element: XmlItem, labelled: boolean): string[] {
  const inside = labelled || hasSourceClass(element);
  const found: string[] = [];
  for (const child of children(element)) {
    const text = child['#text'];
    if (text !== undefined) {
      const trimmed = String(text).trim();
      if (trimmed && !inside) found.push(trimmed);
    } else if (!child['#comment']) found.push(...unlabelledText(child, inside));
  }
  return found;
}

function hasSourceClass(element: XmlItem): boolean {
  const classes = attributesOf(element).class;
  return typeof classes === 'string' && classes.split(/\s+/).some((name) => SOURCE_CLASSES.has(name));
}

function children(element: XmlItem): XmlItem[] {
  for (const key in element) if (key !== ':@' && Array.isArray(element[key])) return element[key] as XmlItem[];
  return [];
}

function attributesOf(element: XmlItem): Record<string, unknown> {
  return (element[':@'] as Record<string, unknown> | undefined) ?? {};
}
