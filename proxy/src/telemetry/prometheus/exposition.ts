/**
 * The Prometheus text exposition format, version 0.0.4: how names, help texts, label values and
 * sample values are written. Everything here is pure; the metrics call it when a series is created
 * or scraped, never per observation.
 *
 * @module
 */

/** The `Content-Type` of a scrape answer. */
export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** A metric name as Prometheus accepts it. */
export const METRIC_NAME: RegExp = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
/** A label name as Prometheus accepts it (names starting with `__` are reserved, checked apart). */
export const LABEL_NAME: RegExp = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The metric types this registry writes. */
export type MetricType = 'counter' | 'gauge' | 'histogram';

/**
 * A sample value: `+Inf`, `-Inf` and `NaN` spelled as Prometheus reads them, and integers in plain
 * digits even beyond 1e21, where `String(n)` would switch to an exponent.
 *
 * @example
 * formatValue(Infinity); // '+Inf'
 * formatValue(1e21); // '1000000000000000000000'
 * formatValue(0.00025); // '0.00025'
 */
export function formatValue(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  if (Number.isNaN(value)) return 'NaN';
  if (Number.isInteger(value) && Math.abs(value) >= 1e21) return BigInt(value).toString();
  return String(value);
}

/** A label value inside its double quotes: backslash, double quote and line feed escaped. */
export function escapeLabelValue(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`)) : value;
}

/** A `# HELP` text: backslash and line feed escaped (double quotes stay as they are). */
export function escapeHelp(help: string): string {
  return /[\\\n]/.test(help) ? help.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\')) : help;
}

/**
 * The inside of a series' braces, `a="1",b="2"`, for label names and values in the same order;
 * `''` when there are none.
 */
export function renderLabels(names: readonly string[], values: readonly string[]): string {
  let text = '';
  for (let i = 0; i < names.length; i++)
    text += `${i === 0 ? '' : ','}${names[i]}="${escapeLabelValue(values[i]!)}"`;
  return text;
}

/** One sample line: `name{labels} value`, without braces when there are no labels. */
export function sampleLine(name: string, labels: string, value: number): string {
  return `${name}${labels === '' ? '' : `{${labels}}`} ${formatValue(value)}\n`;
}

/** The `# HELP` and `# TYPE` lines that open a metric family. */
export function familyHeader(name: string, help: string, type: MetricType): string {
  return `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`;
}

/** Throws a TypeError unless `name` is a valid metric name. */
export function checkMetricName(name: string): void {
  if (typeof name !== 'string' || !METRIC_NAME.test(name))
    throw new TypeError(`invalid metric name ${JSON.stringify(name)}: must match ${METRIC_NAME.source}`);
}
