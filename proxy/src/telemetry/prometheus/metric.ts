/**
 * A metric family with fixed label names, and the lookup of its series by label values.
 *
 * Series live in nested Maps, one level per label name, keyed by the label's value: finding the
 * series of `('tools/call', 'ok')` is two `Map#get`s on strings, with no key to build or hash per
 * call. A series renders its label text once, when it is created.
 *
 * @module
 */
import { checkMetricName, familyHeader, LABEL_NAME, type MetricType, renderLabels } from './exposition.ts';

/** The values of label names `L`, in the same order: `[string, string]` for `['method', 'status']`. */
export type LabelValues<L extends readonly string[]> = { readonly [K in keyof L]: string };

/** What every metric is created with. */
export interface MetricOptions<L extends readonly string[]> {
  /** The metric name, `[a-zA-Z_:][a-zA-Z0-9_:]*`. */
  name: string;
  /** The `# HELP` text. */
  help: string;
  /** The label names, fixed for the metric's life; default none. */
  labelNames?: L;
}

/** Anything a registry can scrape. */
export interface Collector {
  /** The metric names it writes, so that a registry refuses two writers of one name. */
  readonly names: readonly string[];
  /** Its families in the text exposition format, each line ending in `\n`. */
  expose(): string;
}

/** What every series carries: its rendered label text, `a="1",b="2"` (empty without labels). */
export interface Series {
  readonly labelText: string;
}

/**
 * The shared part of counters, gauges and histograms: label checks, series lookup, removal and
 * the family header. Subclasses write their series' samples.
 */
export abstract class Metric<L extends readonly string[], S extends Series> implements Collector {
  readonly name: string;
  readonly help: string;
  readonly labelNames: L;
  readonly names: readonly string[];
  readonly #type: MetricType;
  readonly #create: (labelText: string) => S;
  /** The series itself when there are no labels, else the first level of Maps. */
  readonly #root: unknown;
  /** Every series, in creation order, for scraping. */
  readonly #all = new Set<S>();

  /** `reserved`: label names the metric type writes itself (`le` for histograms). */
  protected constructor(
    options: MetricOptions<L>,
    type: MetricType,
    create: (labelText: string) => S,
    reserved: readonly string[] = [],
  ) {
    checkMetricName(options.name);
    if (typeof options.help !== 'string')
      throw new TypeError(`metric ${options.name}: help must be a string`);
    const labelNames = options.labelNames ?? ([] as readonly string[] as L);
    const seen = new Set<string>();
    for (const label of labelNames) {
      if (typeof label !== 'string' || !LABEL_NAME.test(label) || label.startsWith('__'))
        throw new TypeError(`metric ${options.name}: invalid label name ${JSON.stringify(label)}`);
      if (reserved.includes(label))
        throw new TypeError(`metric ${options.name}: label name "${label}" is reserved for ${type}s`);
      if (seen.has(label)) throw new TypeError(`metric ${options.name}: label "${label}" given twice`);
      seen.add(label);
    }
    this.name = options.name;
    this.help = options.help;
    this.labelNames = Object.freeze([...labelNames]) as unknown as L;
    this.names = [options.name];
    this.#type = type;
    this.#create = create;
    if (labelNames.length === 0) {
      const only = create('');
      this.#all.add(only);
      this.#root = only;
    } else {
      this.#root = new Map<string, unknown>();
    }
  }

  /**
   * The series of these label values, created on first use.
   *
   * @throws TypeError when the number of values differs from the number of label names, or a new
   *   series would get a value that is not a string.
   * @example
   * requests.labels('tools/call', 'ok', '200').inc();
   */
  labels(...values: LabelValues<L>): S {
    if (values.length !== this.labelNames.length) throw this.#arityError(values.length);
    let node = this.#root;
    for (let i = 0; i < values.length; i++) {
      node = (node as Map<string, unknown>).get(values[i]!);
      if (node === undefined) return this.#add(values);
    }
    return node as S;
  }

  /**
   * Drops the series of these label values; true when there was one. A metric without labels has
   * its one series always.
   */
  remove(...values: LabelValues<L>): boolean {
    if (values.length !== this.labelNames.length) throw this.#arityError(values.length);
    if (values.length === 0) return false;
    const path: Array<Map<string, unknown>> = [];
    let node = this.#root;
    for (const value of values) {
      path.push(node as Map<string, unknown>);
      node = (node as Map<string, unknown>).get(value);
      if (node === undefined) return false;
    }
    this.#all.delete(node as S);
    // Delete the leaf, then every level the removal left empty, so that churn does not leak Maps.
    for (let i = path.length - 1; i >= 0; i--) {
      path[i]!.delete(values[i]!);
      if (path[i]!.size > 0) break;
    }
    return true;
  }

  /** The family in the text exposition format. */
  expose(): string {
    let text = familyHeader(this.name, this.help, this.#type);
    for (const series of this.#all) text += this.write(series);
    return text;
  }

  /** The sample lines of one series. */
  protected abstract write(series: S): string;

  #add(values: readonly string[]): S {
    for (let i = 0; i < values.length; i++) {
      if (typeof values[i] !== 'string')
        throw new TypeError(
          `metric ${this.name}: label "${this.labelNames[i]}" must be a string, got ${typeof values[i]}`,
        );
    }
    let level = this.#root as Map<string, unknown>;
    for (let i = 0; i < values.length - 1; i++) {
      let next = level.get(values[i]!) as Map<string, unknown> | undefined;
      if (next === undefined) {
        next = new Map<string, unknown>();
        level.set(values[i]!, next);
      }
      level = next;
    }
    const series = this.#create(renderLabels(this.labelNames, values));
    level.set(values.at(-1)!, series);
    this.#all.add(series);
    return series;
  }

  #arityError(got: number): TypeError {
    const names = this.labelNames.length === 0 ? 'none' : this.labelNames.join(', ');
    return new TypeError(
      `metric ${this.name}: ${got} label value(s) given, expected ${this.labelNames.length} (${names})`,
    );
  }
}
