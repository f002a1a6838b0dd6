/**
 * The filter dispatcher, made on the first filter call: undici (~12 MB of private memory) is loaded
 * only by proxies whose policy has filters.
 *
 * @module
 */
import type { Dispatcher } from 'undici';
import type { FilterDispatcherOptions } from './filter-dispatcher.ts';

export interface LazyDispatcher {
  get(): Promise<Dispatcher>;
  close(): Promise<void>;
}

/** The setting that lists the filter hosts allowed although private or plain http, named in every refusal. */
export const FILTER_ALLOW = 'TESSERA_PROXY_FILTER_ALLOW';

/** Either a dispatcher, or one that is made when first needed. */
export type FilterDispatcherRef = Dispatcher | LazyDispatcher;

export function lazyFilterDispatcher(options: FilterDispatcherOptions): LazyDispatcher {
  let made: Promise<Dispatcher> | undefined;
  return {
    get() {
      made ??= import('./filter-dispatcher.ts').then((m) => m.createFilterDispatcher(options));
      return made;
    },
    async close() {
      if (made) await (await made).close();
    },
  };
}

export function resolveDispatcher(ref: FilterDispatcherRef | undefined): Promise<Dispatcher | undefined> {
  if (ref === undefined || 'dispatch' in ref) return Promise.resolve(ref);
  return ref.get();
}
