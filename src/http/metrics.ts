import type { NextFunction, Request, Response } from 'express';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Store } from '../store/repository.js';

/**
 * Prometheus metrics of one app (its own registry, so several gateways can live in one process): request counts and
 * durations by method, route pattern and status, plus the process defaults.
 */
export interface HttpMetrics {
  registry: Registry;
  middleware(req: Request, res: Response, next: NextFunction): void;
}

export function createHttpMetrics(): HttpMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({ name: 'http_requests_total', help: 'HTTP requests answered', labelNames, registers: [registry] });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from request to response',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  return {
    registry,
    middleware(req, res, next) {
      const started = performance.now();
      res.once('finish', () => {
        const labels = { method: req.method, route: routeLabel(req, res), status: String(res.statusCode) };
        requests.inc(labels);
        duration.observe(labels, (performance.now() - started) / 1000);
      });
      next();
    },
  };
}

/**
 * The gateway's queues as gauges, read from the store when scraped (all instances on one database see the same):
 * outbox messages not yet delivered by kind and status (dead letters among them), the deferred index's backlog, the
 * resources it set aside, and Subscriptions by status.
 */
export function storeMetrics(registry: Registry, store: Pick<Store, 'gauges'>): () => Promise<void> {
  const outbox = new Gauge({ name: 'gateway_outbox_messages', help: 'Outbox messages not yet delivered (dead: dead letters)', labelNames: ['kind', 'status'] as const, registers: [registry] });
  const pendingIndex = new Gauge({ name: 'gateway_index_backlog_resources', help: 'Resources waiting for their search index entries', registers: [registry] });
  const unindexable = new Gauge({ name: 'gateway_index_set_aside_resources', help: 'Resources set aside: readable by id, found by no search', registers: [registry] });
  const subscriptions = new Gauge({ name: 'gateway_subscriptions', help: 'R4 Subscriptions by status', labelNames: ['status'] as const, registers: [registry] });
  return async () => {
    const gauges = await store.gauges();
    outbox.reset();
    for (const { kind, status, count } of gauges.outbox) outbox.set({ kind, status }, count);
    pendingIndex.set(gauges.pendingIndex);
    unindexable.set(gauges.unindexable);
    subscriptions.reset();
    for (const { status, count } of gauges.subscriptions) subscriptions.set({ status }, count);
  };
}

/** A pattern, never the raw path (ids would make the label set grow without bound). */
export function routeLabel(req: Request, res: Response): string {
  if (typeof res.locals.route === 'string') return res.locals.route;
  const route = req.route as { path?: unknown } | undefined;
  return typeof route?.path === 'string' ? req.baseUrl + route.path : 'unmatched';
}
