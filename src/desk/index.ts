import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import type { Auditor } from '../audit/auditor.js';
import { BOARD_CHANGED, type CoordinationPoint } from '../capacity/coordination/service.js';
import type { GatewayConfig } from '../config/config.js';
import type { Person, Principal } from '../fhir/principal.js';
import type { Resource } from '../fhir/version.js';
import type { Logger } from '../logging/logger.js';
import type { Capability } from '../rest/capability-contract.js';
import type { Cookie, PageRequest, PageResponse, PageRoute } from '../rest/pages.js';
import type { Store } from '../store/repository.js';
import { CARE_TYPES } from '../vocabulary/care-types.js';
import { boardFilterQuery, boardView, displayOf, readBoardFilter } from './board.js';
import { candidatesOf } from './candidates.js';
import { availabilityHistory } from './history.js';
import { carriesFormToken, DEFAULT_SESSION_MINUTES, DeskSessions, SESSION_COOKIE, type DeskSession } from './sessions.js';
import { OidcSignIn, SIGN_IN_COOKIE } from './sign-in.js';
import { LANGUAGE_COOKIE, LANGUAGES, languageOf, textsFor, type DeskTexts, type Language } from './texts.js';
import { outboundTransfers } from './transfers.js';

/**
 * The regional desk (docs/desk.md): the front door at `/`, sign-in (OpenID Connect, or the demo user in development
 * mode), and for a signed-in person the board of a coordination-point organisation (live over Server-Sent Events from
 * the board's change feed), the `$match-capacity` search, the availability chart and a hospital's own transfers.
 * Everything it shows of providers comes from the board, which holds only what the egress allowlist let through.
 */
export interface DeskOptions {
  config: GatewayConfig;
  store: Store;
  coordination: CoordinationPoint;
  auditor: Auditor;
  /** A hospital's search, asked of the region's coordination point (capacity/). */
  askCoordinationPoint?: (tenant: string, query: string, person?: Person) => Promise<Resource>;
  logger: Logger;
  clock?: () => number;
}

// Templates and assets stay in src/desk/ (the compiled dist/desk/ finds them there too: the Dockerfile copies them).
const here = fileURLToPath(new URL('../../src/desk/', import.meta.url));
const require = createRequire(import.meta.url);
const ASSETS: Record<string, { file: string; contentType: string }> = {
  'htmx.js': { file: require.resolve('htmx.org/dist/htmx.min.js'), contentType: 'text/javascript' },
  'hx-sse.js': { file: require.resolve('htmx.org/dist/ext/hx-sse.min.js'), contentType: 'text/javascript' },
  'chart.js': { file: path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js'), contentType: 'text/javascript' },
  'desk.js': { file: path.join(here, 'assets', 'desk.js'), contentType: 'text/javascript' },
  'desk.css': { file: path.join(here, 'assets', 'desk.css'), contentType: 'text/css' },
};
/** The documentation the front door links to: the README and docs/*.md of this gateway, as Markdown text. */
const DOCUMENTATION = '/docs/README.md';
const repository = fileURLToPath(new URL('../../', import.meta.url));
const documentFile = (name: string) =>
  name === 'README.md' ? path.join(repository, 'README.md') : /^[a-z0-9-]+\.md$/.test(name) ? path.join(repository, 'docs', name) : undefined;
const DEMO_USER = { subject: 'demo', name: 'Demo' };
/** The query parameter (and form field) that carries the page asked for before sign-in through it. */
const RETURN_TO = 'next';
const HERE = 'http://desk.invalid';

/**
 * The path and query of `candidate` if it is a page on this gateway, else undefined: never an absolute or a
 * protocol-relative URL (an open redirect). Parsed as a browser would (which ignores tabs and newlines and reads `\`
 * as `/`), so that what passes here cannot lead the browser elsewhere.
 */
function localPath(candidate: string | undefined): string | undefined {
  if (candidate === undefined || !candidate.startsWith('/')) return undefined;
  const url = URL.canParse(candidate, HERE) ? new URL(candidate, HERE) : undefined;
  return url?.origin === HERE ? `${url.pathname}${url.search}` : undefined;
}

type Page = (request: PageRequest, session: DeskSession) => Promise<PageResponse>;

export function createDesk(options: DeskOptions): Capability {
  const { config, store, coordination, logger } = options;
  const clock = options.clock ?? Date.now;
  const eta = new Eta({ views: path.join(here, 'templates'), cache: true });
  const sessions = new DeskSessions((config.desk?.sessionMinutes ?? DEFAULT_SESSION_MINUTES) * 60_000, clock);
  const oidcSettings = config.desk?.oidc;
  const signIn = oidcSettings && new OidcSignIn(oidcSettings, `${config.publicBaseUrl}/desk/callback`, clock);
  const demo = config.mode === 'development' && !signIn;
  const organisation = (id: string) => config.organizations.find((candidate) => candidate.id === id);
  const hasRole = (tenant: string, role: 'sender' | 'receiver' | 'coordination-point') => organisation(tenant)?.roles.includes(role) ?? false;
  const nameOf = (id: string) => organisation(id)?.name ?? config.trusted.find((candidate) => candidate.id === id)?.name ?? id;

  const language = (request: PageRequest): Language => languageOf(request.cookies[LANGUAGE_COOKIE]);
  const formatter = (lang: Language) => {
    const format = new Intl.DateTimeFormat(lang === 'en' ? 'en-GB' : 'nl-NL', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'Europe/Amsterdam' });
    return (instant: string | Date) => format.format(typeof instant === 'string' ? new Date(instant) : instant);
  };

  function render(template: string, request: PageRequest, session: DeskSession | undefined, data: Record<string, unknown>, status = 200): PageResponse {
    const lang = language(request);
    const t = textsFor(lang);
    const nav = session ? navigation(t, session.tenant, request.path) : [];
    const html = eta.render(template, {
      ...data,
      lang,
      t,
      path: request.path,
      session,
      nav,
      organisationName: session ? nameOf(session.tenant) : '',
      format: formatter(lang),
    });
    return { status, html };
  }

  function navigation(t: DeskTexts, tenant: string, current: string) {
    const items = [
      ...(hasRole(tenant, 'coordination-point') ? [{ href: '/desk', label: t.board }] : []),
      { href: '/desk/match', label: t.match },
      ...(hasRole(tenant, 'coordination-point') ? [{ href: '/desk/chart', label: t.chart }] : []),
      ...(hasRole(tenant, 'sender') ? [{ href: '/desk/transfers', label: t.transfers }] : []),
    ];
    return items.map((item) => ({ ...item, current: item.href === current }));
  }

  const signedIn = (request: PageRequest) => sessions.find(request.cookies[SESSION_COOKIE]);
  /** The page a request asked for, with its query (the Host header plays no part). */
  const asked = (request: PageRequest) => {
    const query = new URLSearchParams(request.query).toString();
    return query ? `${request.path}?${query}` : request.path;
  };
  const sessionCookie = (session: DeskSession): Cookie => ({ name: SESSION_COOKIE, value: session.id, maxAge: sessions.cookieSeconds });
  const cleared = (name: string): Cookie => ({ name, value: '', maxAge: 0 });

  /** A page behind sign-in: without a session the browser goes to the front door. */
  const behindSignIn =
    (page: Page) =>
    async (request: PageRequest): Promise<PageResponse> => {
      const session = signedIn(request);
      if (!session) return { redirect: `/?${new URLSearchParams({ [RETURN_TO]: asked(request) })}`, cookies: [cleared(SESSION_COOKIE)] };
      return page(request, session);
    };

  const message = (request: PageRequest, heading: string, text: string, status: number, cookies: Cookie[] = []): PageResponse => ({
    ...render('message', request, undefined, { heading, message: text, pageTitle: heading }, status),
    cookies,
  });

  /** Opens a session for a person the configuration maps to an organisation, and returns to the page they asked for. */
  function startSession(person: { subject: string; name: string }, request: PageRequest, returnTo = '/desk'): PageResponse {
    const organizations = demo
      ? config.organizations.map((organization) => organization.id)
      : (config.desk?.people ?? []).find((entry) => entry.subject === person.subject)?.organizations ?? [];
    const t = textsFor(language(request));
    if (organizations.length === 0) return message(request, t.signInFailed, t.notAllowed, 403, [cleared(SIGN_IN_COOKIE)]);
    const session = sessions.open({ ...person, organizations });
    logger.info({ subject: person.subject, organizations }, 'desk sign-in');
    return { redirect: returnTo, cookies: [sessionCookie(session), cleared(SIGN_IN_COOKIE)] };
  }

  const boardOf = (session: DeskSession, query: Record<string, string>) => {
    const filter = readBoardFilter(query);
    const now = new Date(clock());
    return { filter, now, view: boardView(coordination.board(session.tenant), filter, now), query: boardFilterQuery(filter) };
  };

  const asUser = (session: DeskSession): Principal => ({
    tenant: session.tenant,
    kind: 'ehr',
    requester: 'desk',
    resources: [],
    person: { identifier: session.subject, name: session.name },
  });

  async function match(session: DeskSession, form: Record<string, string>): Promise<Resource> {
    const parameters = Object.fromEntries(
      ['care-type', 'postcode', 'date', 'include-unknown'].flatMap((name) => (form[name] ? [[name, [form[name]]]] : [])),
    ) as Record<string, string[]>;
    if (hasRole(session.tenant, 'coordination-point')) {
      const [outcome, result] = await coordination.match(store, { tenant: session.tenant, version: 'r4' }, parameters, new Date(clock()));
      return result ?? outcome;
    }
    if (!options.askCoordinationPoint) throw new Error('No coordination point with a FHIR endpoint is configured');
    const query = new URLSearchParams(Object.entries(parameters).map(([name, values]): [string, string] => [name, values[0]])).toString();
    return options.askCoordinationPoint(session.tenant, query, asUser(session).person);
  }

  const canSearch = (tenant: string) => hasRole(tenant, 'coordination-point') || config.coordinationPoint !== undefined;

  const pages: PageRoute[] = [
    {
      method: 'GET',
      path: '/',
      handler: async (request) => {
        const returnTo = localPath(request.query[RETURN_TO]);
        return render('front', request, signedIn(request), {
          organisations: config.organizations.map(({ name, ura, roles }) => ({ name, ura, roles })),
          demo,
          documentation: DOCUMENTATION,
          returnTo,
          signInHref: returnTo === undefined ? '/desk/sign-in' : `/desk/sign-in?${new URLSearchParams({ [RETURN_TO]: returnTo })}`,
        });
      },
    },
    {
      method: 'GET',
      path: '/desk/assets/:file',
      handler: async (request) => {
        const asset = Object.hasOwn(ASSETS, request.params.file) ? ASSETS[request.params.file] : undefined;
        const t = textsFor(language(request));
        return asset ? { file: asset.file, contentType: asset.contentType } : message(request, '404', t.back, 404);
      },
    },
    {
      method: 'GET',
      path: '/docs/:file',
      handler: async (request) => {
        const file = documentFile(request.params.file);
        if (file && existsSync(file)) return { file, contentType: 'text/markdown; charset=utf-8' };
        const t = textsFor(language(request));
        return message(request, '404', t.back, 404);
      },
    },
    {
      method: 'GET',
      path: '/desk/language/:lang',
      handler: async (request) => {
        const lang = LANGUAGES.find((candidate) => candidate === request.params.lang) ?? 'nl';
        return { redirect: localPath(request.query.back) ?? '/', cookies: [{ name: LANGUAGE_COOKIE, value: lang, maxAge: 365 * 86_400 }] };
      },
    },
    {
      method: 'GET',
      path: '/desk/sign-in',
      handler: async (request) => {
        if (!signIn) return { redirect: '/' };
        try {
          const { url, key } = await signIn.start(localPath(request.query[RETURN_TO]));
          return { redirect: url, cookies: [{ name: SIGN_IN_COOKIE, value: key, maxAge: 600 }] };
        } catch (error) {
          logger.warn({ err: error }, 'desk sign-in: identity provider unavailable');
          const t = textsFor(language(request));
          return message(request, t.signInFailed, String((error as Error).message), 502);
        }
      },
    },
    {
      method: 'GET',
      path: '/desk/callback',
      handler: async (request) => {
        const t = textsFor(language(request));
        if (!signIn) return { redirect: '/' };
        try {
          const { person, returnTo } = await signIn.finish(request.url, request.cookies[SIGN_IN_COOKIE]);
          return startSession(person, request, returnTo);
        } catch (error) {
          logger.warn({ err: error }, 'desk sign-in refused');
          return message(request, t.signInFailed, (error as Error).message, 400, [cleared(SIGN_IN_COOKIE)]);
        }
      },
    },
    {
      method: 'POST',
      path: '/desk/sign-in/demo',
      handler: async (request) => (demo ? startSession(DEMO_USER, request, localPath(request.form[RETURN_TO])) : { redirect: '/' }),
    },
    {
      method: 'POST',
      path: '/desk/sign-out',
      handler: async (request) => {
        const session = signedIn(request);
        if (session && !carriesFormToken(session, request.form._csrf)) {
          const t = textsFor(language(request));
          return message(request, t.signInFailed, t.expired, 403);
        }
        if (session) sessions.close(session.id);
        return { redirect: '/', cookies: [cleared(SESSION_COOKIE)] };
      },
    },
    {
      method: 'GET',
      path: '/desk',
      handler: behindSignIn(async (request, session) => {
        if (!hasRole(session.tenant, 'coordination-point')) return { redirect: '/desk/match' };
        const t = textsFor(language(request));
        return render('board', request, session, { ...boardOf(session, request.query), pageTitle: t.board });
      }),
    },
    {
      method: 'GET',
      path: '/desk/events',
      handler: async (request) => {
        const session = signedIn(request);
        if (!session || !hasRole(session.tenant, 'coordination-point')) return { status: 401, html: '' };
        return {
          events: async (send) => {
            const tenant = session.tenant;
            // The board's change feed: the signal raised in the transaction that stored a provider's report (the
            // one its subscription events were raised in); the board is read once this instance has applied it.
            return store.changes.subscribe(BOARD_CHANGED, (signal) => {
              if (signal !== undefined && !signal.startsWith(`[${JSON.stringify(tenant)},`)) return;
              setImmediate(() => {
                if (!sessions.find(session.id)) return;
                const board = boardOf(session, request.query);
                send(eta.render('board-update', { ...board, t: textsFor(language(request)), format: formatter(language(request)) }));
              });
            });
          },
        };
      },
    },
    {
      method: 'GET',
      path: '/desk/match',
      handler: behindSignIn(async (request, session) => {
        const t = textsFor(language(request));
        const careTypes = [...CARE_TYPES.values()].map(({ code }) => ({ code, display: displayOf(code) }));
        const asked = request.query['care-type'] !== undefined;
        let result: Resource | undefined;
        let problem: string | undefined;
        if (asked && canSearch(session.tenant)) {
          result = await match(session, request.query).catch((error: unknown) => {
            logger.warn({ err: error }, 'desk match search failed');
            problem = t.searchFailed;
            return undefined;
          });
          if (result?.resourceType === 'OperationOutcome') problem = issuesOf(result);
        }
        return render('match', request, session, {
          pageTitle: t.match,
          careTypes,
          form: request.query,
          canSearch: canSearch(session.tenant),
          problem,
          candidates: result && !problem ? candidatesOf(result) : undefined,
        });
      }),
    },
    {
      method: 'GET',
      path: '/desk/chart',
      handler: behindSignIn(async (request, session) => {
        if (!hasRole(session.tenant, 'coordination-point')) return { redirect: '/desk/match' };
        const t = textsFor(language(request));
        const now = new Date(clock());
        const history = await availabilityHistory(store, { tenant: session.tenant, version: 'r4' }, (report) => coordination.shownReport(report, now), now);
        // Inside a JSON script block: `<` written as an escape so that no text can end the block.
        const chartJson = JSON.stringify(history).replace(/</g, '\\u003c');
        return render('chart', request, session, { pageTitle: t.chart, history, chartJson, chart: true });
      }),
    },
    {
      method: 'GET',
      path: '/desk/transfers',
      handler: behindSignIn(async (request, session) => {
        if (!hasRole(session.tenant, 'sender')) return { redirect: '/desk' };
        const t = textsFor(language(request));
        const transfers = await outboundTransfers(store, session.tenant, nameOf);
        await options.auditor.record({
          type: 'access',
          principal: asUser(session),
          request: { version: 'stu3', operation: 'search', path: '/Task', resourceType: 'Task' },
          outcome: 'success',
          resources: transfers.map((transfer) => `Task/${transfer.task}`),
          description: 'Regional desk: transfer overview',
        });
        return render('transfers', request, session, { pageTitle: t.transfers, transfers });
      }),
    },
  ];

  return { name: 'desk', pages };
}

function issuesOf(outcome: Resource): string {
  const issues = Array.isArray(outcome.issue) ? (outcome.issue as { diagnostics?: string }[]) : [];
  return issues.map((issue) => issue.diagnostics ?? '').join('; ');
}
