import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Stand-in mCSD administration directories for tests and benches: one HTTP server holding several directories
 * (`/<name>`), each a newest-first history per resource type, answering `GET /<name>/<Type>/_history` with
 * `_since`, `_count` and `next` links, and anything written into them by hand (entries without `request`, odd
 * addresses). It counts the entries it served, so a test can see what a second sync fetched.
 */
export interface HistoryVersion {
  resourceType: string;
  id: string;
  method: 'POST' | 'PUT' | 'DELETE';
  resource?: Record<string, unknown>;
  lastUpdated: number;
  /** Served without `request` (a malformed entry). */
  withoutRequest?: boolean;
  /** Served in the history of this type instead of its own (a directory that mixes types up). */
  inHistoryOf?: string;
}

export class McsdDirectories {
  private readonly directories = new Map<string, HistoryVersion[]>();
  private clock = Date.now();
  /** Entries served since the last `resetCounts`, by directory name. */
  served = new Map<string, number>();
  requests = 0;
  url = '';
  private server?: http.Server;

  base(name: string): string {
    return `${this.url}/${name}`;
  }

  /** A write (create or update) as the directory's history records it; versions count up per resource. */
  put(name: string, resource: Record<string, unknown>, options: { withoutRequest?: boolean; inHistoryOf?: string } = {}): void {
    const history = this.history(name);
    const previous = history.filter((version) => version.resourceType === resource.resourceType && version.id === resource.id);
    const versionId = String(previous.length + 1);
    const lastUpdated = this.tick();
    const stored = { ...resource, meta: { versionId, lastUpdated: new Date(lastUpdated).toISOString() } };
    history.unshift({
      resourceType: resource.resourceType as string,
      id: resource.id as string,
      method: previous.length === 0 ? 'POST' : 'PUT',
      resource: stored,
      lastUpdated,
      ...options,
    });
  }

  delete(name: string, resourceType: string, id: string): void {
    this.history(name).unshift({ resourceType, id, method: 'DELETE', lastUpdated: this.tick() });
  }

  resetCounts(): void {
    this.served = new Map();
    this.requests = 0;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => this.answer(req, res));
    this.server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private history(name: string): HistoryVersion[] {
    let history = this.directories.get(name);
    if (!history) this.directories.set(name, (history = []));
    return history;
  }

  /** Distinct times, so `_since` cuts where a test expects. */
  private tick(): number {
    this.clock = Math.max(this.clock + 1, Date.now());
    return this.clock;
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.requests += 1;
    const url = new URL(req.url ?? '/', this.url);
    const [name, resourceType, operation] = url.pathname.split('/').filter(Boolean);
    if (!name || !this.directories.has(name) || operation !== '_history' || !resourceType) {
      res.writeHead(404, { 'content-type': 'application/fhir+json' }).end(JSON.stringify({ resourceType: 'OperationOutcome', issue: [] }));
      return;
    }
    const since = url.searchParams.has('_since') ? Date.parse(url.searchParams.get('_since')!) : -Infinity;
    const count = Number(url.searchParams.get('_count') ?? 100);
    const offset = Number(url.searchParams.get('_offset') ?? 0);
    const matching = this.history(name).filter((version) => (version.inHistoryOf ?? version.resourceType) === resourceType && version.lastUpdated >= since);
    const page = matching.slice(offset, offset + count);
    this.served.set(name, (this.served.get(name) ?? 0) + page.length);
    const link = [{ relation: 'self', url: url.toString() }];
    if (offset + count < matching.length) {
      const next = new URL(url);
      next.searchParams.set('_offset', String(offset + count));
      link.push({ relation: 'next', url: next.toString() });
    }
    const bundle = {
      resourceType: 'Bundle',
      type: 'history',
      meta: { lastUpdated: new Date(this.tick()).toISOString() },
      link,
      entry: page.map((version) => ({
        fullUrl: `${this.base(name)}/${version.resourceType}/${version.id}`,
        ...(version.resource ? { resource: version.resource } : {}),
        ...(version.withoutRequest ? {} : { request: { method: version.method, url: version.method === 'POST' ? version.resourceType : `${version.resourceType}/${version.id}` } }),
      })),
    };
    res.writeHead(200, { 'content-type': 'application/fhir+json' }).end(JSON.stringify(bundle));
  }
}
