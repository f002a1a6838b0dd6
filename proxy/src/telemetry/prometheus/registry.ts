/**
 * A registry: the collectors one `/metrics` endpoint scrapes. Each proxy has its own, so that two
 * proxies in one process, or tests, never share counts.
 *
 * @module
 */
import { CONTENT_TYPE } from './exposition.ts';
import type { Collector } from './metric.ts';

export class MetricsRegistry {
  /** The `Content-Type` of what {@link MetricsRegistry.metrics} returns. */
  readonly contentType: string = CONTENT_TYPE;
  readonly #collectors: Collector[] = [];
  readonly #names = new Set<string>();

  /**
   * Adds a collector and returns it.
   *
   * @throws Error when a metric name it writes is already registered; nothing is added then.
   * @example
   * const hits = registry.register(new Counter({ name: 'x_hits_total', help: 'Hits.' }));
   */
  register<C extends Collector>(collector: C): C {
    for (const name of collector.names)
      if (this.#names.has(name)) throw new Error(`metric ${name} is already registered`);
    for (const name of collector.names) this.#names.add(name);
    this.#collectors.push(collector);
    return collector;
  }

  /** Every registered family, in registration order, in the text exposition format 0.0.4. */
  metrics(): string {
    let text = '';
    for (const collector of this.#collectors) text += collector.expose();
    return text;
  }
}
