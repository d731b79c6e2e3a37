import express, { type NextFunction, type Request, type Response } from 'express';
import type { Cookie, PageRequest, PageResponse, PageRoute } from '../rest/pages.js';
import type { Logger } from '../logging/logger.js';

/** A form on a page is a few fields; anything larger is refused (413) before it is read. */
const FORM_BYTES = 16 * 1024;

/**
 * Serves capabilities' web pages (`rest/pages.ts`): HTML, redirects, static files and Server-Sent Events streams.
 * Cookies are always HttpOnly and SameSite=Lax, and Secure when the browser came over https.
 */
export function pagesRouter(pages: PageRoute[], logger: Logger): express.Router {
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: FORM_BYTES, parameterLimit: 50 });
  for (const page of pages) {
    const serve = async (req: Request, res: Response, next: NextFunction) => {
      try {
        answer(res, await page.handler(pageRequest(req)), req.secure, logger);
      } catch (error) {
        next(error);
      }
    };
    if (page.method === 'GET') router.get(page.path, serve);
    else router.post(page.path, form, serve);
  }
  router.use(refusedForm);
  return router;
}

/** A form the parser refused (too large, too many fields, a charset it cannot read) is the browser's error, not ours. */
function refusedForm(error: unknown, _req: Request, res: Response, next: NextFunction): void {
  const status = (error as { status?: unknown; type?: unknown }).status;
  if (typeof status !== 'number' || status < 400 || status >= 500 || typeof (error as { type?: unknown }).type !== 'string') {
    next(error);
    return;
  }
  res.status(status).type('text/plain').send(status === 413 ? `A form may hold at most ${FORM_BYTES} bytes` : 'The form could not be read');
}

function pageRequest(req: Request): PageRequest {
  return {
    path: req.path,
    params: Object.fromEntries(Object.entries(req.params).map(([key, value]) => [key, String(value)])),
    query: firstValues(req.query),
    form: firstValues(req.body),
    cookies: parseCookies(req.headers.cookie),
    ...(req.headers['accept-language'] ? { acceptLanguage: req.headers['accept-language'] } : {}),
    secure: req.secure,
    url: `${req.protocol}://${req.get('host')}${req.originalUrl}`,
  };
}

function firstValues(values: unknown): Record<string, string> {
  if (!values || typeof values !== 'object') return {};
  const first = (value: unknown) => (Array.isArray(value) ? value[0] : value);
  return Object.fromEntries(
    Object.entries(values as Record<string, unknown>).flatMap(([key, value]) => (typeof first(value) === 'string' ? [[key, first(value) as string]] : [])),
  );
}

function parseCookies(header: string | undefined): Record<string, string> {
  const cookies: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    const name = part.slice(0, at).trim();
    try {
      cookies[name] ??= decodeURIComponent(part.slice(at + 1).trim());
    } catch {
      // a cookie that is not ours (or mangled) is ignored
    }
  }
  return cookies;
}

function answer(res: Response, page: PageResponse, secure: boolean, logger: Logger): void {
  for (const cookie of page.cookies ?? []) setCookie(res, cookie, secure);
  if ('redirect' in page) {
    res.set('Cache-Control', 'no-store').redirect(303, page.redirect);
  } else if ('file' in page) {
    res.type(page.contentType).set('Cache-Control', 'public, max-age=3600').sendFile(page.file);
  } else if ('events' in page) {
    streamEvents(res, page.events, logger);
  } else {
    res.status(page.status ?? 200).set('Cache-Control', 'no-store').type('html').send(page.html);
  }
}

function setCookie(res: Response, cookie: Cookie, secure: boolean): void {
  res.cookie(cookie.name, cookie.value, {
    httpOnly: true,
    sameSite: 'lax',
    secure,
    path: cookie.path ?? '/',
    ...(cookie.maxAge === undefined ? {} : { maxAge: cookie.maxAge * 1000 }),
  });
}

/** Keeps proxies from closing a quiet stream. */
const KEEP_ALIVE_MS = 25_000;

function streamEvents(res: Response, open: Extract<PageResponse, { events: unknown }>['events'], logger: Logger): void {
  res.status(200).set({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
  res.flushHeaders();
  const send = (data: string, event?: string) => {
    const lines = data.split(/\r\n|\r|\n/).map((line) => `data: ${line}`);
    res.write(`${event ? `event: ${event}\n` : ''}${lines.join('\n')}\n\n`);
  };
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
  let close: (() => void) | undefined;
  let gone = false;
  res.on('close', () => {
    gone = true;
    clearInterval(keepAlive);
    close?.();
  });
  open(send).then(
    (stop) => (gone ? stop() : (close = stop)),
    (error: unknown) => {
      logger.warn({ err: error }, 'event stream could not open');
      res.end();
    },
  );
}
