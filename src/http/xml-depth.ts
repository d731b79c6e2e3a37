/**
 * How deep the elements of an XML text nest, stopping as soon as it passes `limit`. A linear scan that runs before
 * the XML parsers: they recurse per level, so a few megabytes of nested elements would otherwise hold the event
 * loop for seconds before failing. Comments, CDATA, processing instructions and quoted attribute values are
 * skipped; anything malformed is left to the parsers to report.
 */
export function xmlNestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let at = text.indexOf('<');
  while (at !== -1) {
    const next = text[at + 1];
    let end: number;
    if (next === '/') {
      depth -= 1;
      end = text.indexOf('>', at);
    } else if (text.startsWith('<!--', at)) {
      end = endOf(text, '-->', at);
    } else if (text.startsWith('<![CDATA[', at)) {
      end = endOf(text, ']]>', at);
    } else if (next === '?' || next === '!') {
      end = text.indexOf('>', at);
    } else {
      end = startTagEnd(text, at);
      if (end !== -1 && text[end - 1] !== '/') {
        depth += 1;
        if (depth > limit) return true;
      }
    }
    if (end === -1) return false;
    at = text.indexOf('<', end + 1);
  }
  return false;
}

function endOf(text: string, terminator: string, from: number): number {
  const found = text.indexOf(terminator, from);
  return found === -1 ? -1 : found + terminator.length - 1;
}

/** The `>` that closes a start tag, past any `>` inside quoted attribute values. */
function startTagEnd(text: string, from: number): number {
  let quote: string | undefined;
  for (let i = from + 1; i < text.length; i++) {
    const char = text[i];
    if (quote) {
      if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'") {
      quote = char;
    } else if (char === '>') {
      return i;
    }
  }
  return -1;
}
