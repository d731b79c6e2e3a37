import type { Store } from '../../src/store/repository.js';

/**
 * The store, except that the first resource read through it (found or not) waits until `release` before it answers:
 * `reached` resolves when it does (PostgreSQL only, where another connection can commit in the meantime).
 */
export function pausedAfterFirstRead(store: Store) {
  let release!: () => void;
  let reached!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const reachedRead = new Promise<void>((resolve) => (reached = resolve));
  let first = true;
  const resources = new Proxy(store.resources, {
    get(target, property, receiver) {
      if (property !== 'read') return Reflect.get(target, property, receiver) as unknown;
      return async (...args: Parameters<Store['resources']['read']>) => {
        try {
          return await target.read(...args);
        } finally {
          if (first) {
            first = false;
            reached();
            await released;
          }
        }
      };
    },
  });
  const paused: Store = new Proxy(store, {
    get(target, property) {
      if (property === 'resources') return resources;
      if (property === 'transaction') return <T>(work: (tx: Store) => Promise<T>) => target.transaction(() => work(paused));
      const value = Reflect.get(target, property) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: paused, reached: reachedRead, release };
}
