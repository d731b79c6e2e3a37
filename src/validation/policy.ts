/**
 * Checks the HL7 validator makes optional, with the same defaults as its CLI. Each is a validator option
 * (`ValidatorOptions`), an `npm run validate` flag named like the HL7 CLI's, and what the agreement suite passes
 * for a case the HL7 validator ran with that option.
 */
export interface ContentPolicy {
  /** `-security-checks`: a string (not markdown, not narrative) with what looks like an HTML tag is an error; else a note. */
  securityChecks: boolean;
  /** `-html-in-markdown`: what markdown with an embedded HTML tag gets (the HL7 default: a warning). */
  htmlInMarkdown: 'ignore' | 'warning' | 'error';
  /** `-allow-example-urls`: whether uri/url/canonical values of the example domains are allowed (the HL7 default: yes). */
  exampleUrls: 'allow' | 'refuse';
  /** The HL7 validator's `validateContains`: contained resources validated (default) or ignored. */
  containedResources: 'validate' | 'ignore';
  /**
   * `-check-references` (the HL7 validator's `validateReference` policies that check existence): a relative
   * reference inside a Bundle or a Parameters resource that resolves to none of its resources is an error. A
   * standalone resource's references are not judged: this validator has no server to ask.
   */
  unresolvedReferences: 'allow' | 'refuse';
}

export const DEFAULT_POLICY: ContentPolicy = {
  securityChecks: false,
  htmlInMarkdown: 'warning',
  exampleUrls: 'allow',
  containedResources: 'validate',
  unresolvedReferences: 'allow',
};

/** A start tag or end tag: `<script>`, `</b>`, `<a href="x">`, `<br/>` (as the HL7 validator's security check looks for). */
const HTML_TAG = /<\/?[A-Za-z][\w-]*(?:\s+[^<>]*)?\/?>/;

export function looksLikeHtml(text: string): boolean {
  return text.includes('<') && HTML_TAG.test(text);
}

/**
 * Where markdown holds something that reads as embedded HTML (`<` then a letter, `/` or `!`), which a
 * presentation layer will (or should) escape; autolinks (`<https://…>`, `<name@host>`) are markdown, not HTML.
 */
export function embeddedHtmlAt(markdown: string): number {
  for (let at = markdown.indexOf('<'); at >= 0; at = markdown.indexOf('<', at + 1)) {
    if (!/^<[A-Za-z/!]/.test(markdown.slice(at, at + 2))) continue;
    if (/^<(?:[A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*|[^\s<>@]+@[^\s<>@]+)>/.test(markdown.slice(at))) continue;
    return at;
  }
  return -1;
}

/** The domains reserved for examples (RFC 2606) and those the HL7 specification's examples use. */
const EXAMPLE_HOST = /(^|\.)(example\.(org|com|net)|acme\.(com|org))$/i;

export function isExampleUrl(url: string): boolean {
  const host = /^[a-z][a-z0-9+.-]*:\/\/([^/?#:]+)/i.exec(url)?.[1];
  return host !== undefined && EXAMPLE_HOST.test(host);
}
