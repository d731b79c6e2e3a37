/**
 * @peculiar/x509 registers its services with tsyringe, which refuses to load without the `Reflect` metadata API of
 * a decorator polyfill (reflect-metadata or @abraham/reflection, neither installed). It only ever stores and reads
 * metadata by key and target; this is that much, and nothing is installed when a real polyfill is already there.
 * Import this module before @peculiar/x509.
 */
type Target = object;
const store = new WeakMap<Target, Map<string, Map<unknown, unknown>>>();

function table(target: Target, property: string | symbol | undefined, create: boolean): Map<unknown, unknown> | undefined {
  let byProperty = store.get(target);
  if (!byProperty && create) store.set(target, (byProperty = new Map()));
  const key = String(property ?? '');
  let entries = byProperty?.get(key);
  if (!entries && create && byProperty) byProperty.set(key, (entries = new Map()));
  return entries;
}

const reflect = Reflect as unknown as Record<string, unknown>;
if (typeof reflect.getMetadata !== 'function') {
  const getOwnMetadata = (key: unknown, target: Target, property?: string | symbol) => table(target, property, false)?.get(key);
  Object.assign(reflect, {
    defineMetadata: (key: unknown, value: unknown, target: Target, property?: string | symbol) => table(target, property, true)!.set(key, value),
    getOwnMetadata,
    getMetadata(key: unknown, target: Target, property?: string | symbol): unknown {
      for (let current: Target | null = target; current; current = Object.getPrototypeOf(current) as Target | null) {
        const value = getOwnMetadata(key, current, property);
        if (value !== undefined) return value;
      }
      return undefined;
    },
  });
}
