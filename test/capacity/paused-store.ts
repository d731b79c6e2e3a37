import type { Store } from '../../src/store/repository.js';

/**
 * The store, except that the first resource read through it (found or not) waits until `release` before it answers:
 * `reached` resolves when it does (PostgreSQL only, where another connection can commit in the meantime). The
 * second argument names another part's reader instead, e.g. `['capacityStates', 'find']`.
 */
export function pausedAfterFirstRead(store: Store, [part, method]: ['resources', 'read'] | ['capacityStates', 'find'] = ['resources', 'read']) {
  let release!: () => void;
  let reached!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const reachedRead = new Promise<void>((resolve) => (reached = resolve));
  let first = true;
  const reader = new Proxy<object>(store[part], {
    get(target, property, receiver) {
      if (property !== method) return Reflect.get(target, property, receiver) as unknown;
      return async (...args: unknown[]) => {
        try {
          return await (Reflect.get(target, method) as (...args: unknown[]) => Promise<unknown>).apply(target, args);
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
      if (property === part) return reader;
      if (property === 'transaction') return <T>(work: (tx: Store) => Promise<T>) => target.transaction(() => work(paused));
      const value = Reflect.get(target, property) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: paused, reached: reachedRead, release };
}
