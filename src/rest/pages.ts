/**
 * Web pages a capability serves outside the FHIR API (the regional desk): HTML for people in a browser, with the
 * session cookies and forms of their own. Like route rows, they are data; `http/pages.ts` alone turns them into
 * express routes, so a capability never touches express.
 */
export interface PageRoute {
  method: 'GET' | 'POST';
  /** Absolute path, e.g. `/desk/board`; `:name` segments are parameters. */
  path: string;
  handler(request: PageRequest): Promise<PageResponse>;
}

export interface PageRequest {
  path: string;
  params: Record<string, string>;
  /** Query parameters; a repeated one keeps its first value. */
  query: Record<string, string>;
  /** The urlencoded form of a POST. */
  form: Record<string, string>;
  cookies: Record<string, string>;
  /** The languages the browser prefers (Accept-Language). */
  acceptLanguage?: string;
  /** Whether the browser reached the gateway over https (directly or through a trusted proxy). */
  secure: boolean;
  /** The full URL as the browser asked for it (for OpenID Connect callbacks). */
  url: string;
}

export interface Cookie {
  name: string;
  value: string;
  /** Seconds; 0 removes the cookie. Absent: a cookie for the browser session. */
  maxAge?: number;
  path?: string;
}

export type PageResponse = { cookies?: Cookie[] } & (
  | { status?: number; html: string }
  | { redirect: string }
  /** A file served as is (scripts and styles), cacheable. */
  | { file: string; contentType: string }
  /**
   * A Server-Sent Events stream: `open` gets a sender of unnamed (`event` absent) or named messages and returns what
   * to call when the browser goes away.
   */
  | { events: (send: (data: string, event?: string) => void) => Promise<() => void> }
);
