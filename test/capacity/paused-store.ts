import type { Store, UnitOfWork } from '../../src/store/repository.js';

/**
 * The store, except that the first resource read through it or through a transaction it opens (found or not) waits
 * until `release` before it answers: `reached` resolves when it does (PostgreSQL only, where another connection can
 * commit in the meantime). The second argument names another part's reader instead, e.g. `['capacityStates', 'find']`.
 */
export function pausedAfterFirstRead(store: Store, [part, method]: ['resources', 'read'] | ['capacityStates', 'find'] = ['resources', 'read']) {
  let release!: () => void;
  let reached!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const reachedRead = new Promise<void>((resolve) => (reached = resolve));
  let first = true;
  function pausing<S extends UnitOfWork>(unit: S): S {
    const reader = new Proxy<object>(unit[part], {
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
    const paused: S = new Proxy(unit, {
      get(target, property) {
        if (property === part) return reader;
        if (property === 'transaction') {
          return <T>(work: (tx: UnitOfWork) => Promise<T>) => target.transaction((tx) => work(tx === target ? paused : pausing(tx)));
        }
        const value = Reflect.get(target, property) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    return paused;
  }
  return { store: pausing(store), reached: reachedRead, release };
}
