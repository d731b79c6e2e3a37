import { isObject } from '../vocabulary/json.js';
import type { ConformanceProblem } from './conformance.js';

type Json = Record<string, unknown>;

interface Located {
  item: Json;
  at: string;
}

/**
 * The HL7 validator's rules on `Questionnaire.item.enableWhen.question` (R4 and STU3): it names the linkId of an
 * item in the same Questionnaire, not the item itself, and not an item inside it (an item cannot be enabled by an
 * answer it contains).
 */
export function enableWhenProblems(questionnaire: Json): ConformanceProblem[] {
  const items = itemsOf(questionnaire);
  const byLinkId = new Map<string, Located>();
  for (const located of items) if (typeof located.item.linkId === 'string') byLinkId.set(located.item.linkId, located);
  const problems: ConformanceProblem[] = [];
  for (const { item, at } of items) {
    if (!Array.isArray(item.enableWhen)) continue;
    for (const condition of item.enableWhen) {
      const question = isObject(condition) ? condition.question : undefined;
      if (typeof question !== 'string') continue;
      const target = byLinkId.get(question);
      if (target?.item === item) {
        problems.push({ at, text: 'Questions with an enableWhen cannot refer to themselves for their enableWhen condition' });
      } else if (target?.at.startsWith(`${at}.`)) {
        problems.push({ at, text: 'Questions with an enableWhen cannot refer to an inner question for its enableWhen condition' });
      } else if (!target) {
        problems.push({ at, text: `No item with linkId '${question}' found, which the enableWhen of item '${String(item.linkId)}' refers to` });
      }
    }
  }
  return problems;
}

/** Every item, depth first, with where it is (`item[0].item[1]`). */
function itemsOf(parent: Json, at?: string): Located[] {
  if (!Array.isArray(parent.item)) return [];
  return parent.item.flatMap((item: unknown, index: number) => {
    if (!isObject(item)) return [];
    const here = at === undefined ? `item[${index}]` : `${at}.item[${index}]`;
    return [{ item, at: here }, ...itemsOf(item, here)];
  });
}
