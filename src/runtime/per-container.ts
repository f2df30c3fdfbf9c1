/** A value built once per container, by {@link perContainer}. */
export interface PerContainer<Args extends unknown[], T> {
  (...args: Args): T;
  /** The value if it was built, without building it. */
  built(): T | undefined;
  /** Forgets the value (after closing it, in a process that outlives a container); the next call builds again. */
  forget(): void;
}

/**
 * The one way this code builds something once per container: the pool, the SDK clients, the
 * payment gateway (its circuit breaker must see every call of the container), a route. Nothing is
 * built at import, so importing a handler module (in a test, or in any other host) needs no
 * configuration. The first call builds from its arguments (a container has one configuration, so
 * later arguments are not looked at); every later call gets the same value. A build that throws
 * is not kept: the next call tries again.
 */
export function perContainer<Args extends unknown[], T>(build: (...args: Args) => T): PerContainer<Args, T> {
  let value: { current: T } | undefined;
  const get = (...args: Args): T => {
    value ??= { current: build(...args) };
    return value.current;
  };
  return Object.assign(get, {
    built: () => value?.current,
    forget: () => {
      value = undefined;
    },
  });
}

/** A dependency given as a value, or as a function that builds it on first use. */
export type Provider<T> = T | (() => T);

/** {@link perContainer} over a {@link Provider}: a value is handed back as is. */
export function perContainerProvider<T extends object>(provider: Provider<T>): () => T {
  return typeof provider === 'function' ? perContainer(provider as () => T) : () => provider;
}
