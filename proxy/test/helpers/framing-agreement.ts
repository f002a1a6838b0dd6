/**
 * The two checks both framing differential tests (requests and responses) make of the proxy's parser:
 * that it agrees with a reference parser wherever both read a message, on seeded generated streams,
 * and that it reads a stream the same however the stream is cut into pieces.
 *
 * @module
 */
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import type { Draw } from './framing-cases.ts';

/** What a parser made of a stream: the messages it read, and what ended the stream early. */
export interface Reading {
  error?: string;
}

export interface Agreement<R extends Reading> {
  /** The reference's name, for messages. */
  name: string;
  cases: number;
  /** The next generated stream. */
  next: () => Buffer;
  ours: (raw: Buffer) => R;
  theirs: (raw: Buffer) => R | Promise<R>;
  /** Where two readings part ways, or undefined when they agree on what both read. */
  divergence: (ours: R, theirs: R) => string | undefined;
  /** How many messages a reading holds. */
  count: (reading: R) => number;
}

export const show = (raw: Buffer) => JSON.stringify(raw.toString('latin1'));

/**
 * How the `n`th message (`what`, counted from 1) read by the proxy and by a reference differs, naming
 * the fields; undefined when they are the same.
 */
export function messageDifference<M extends object>(what: string, n: number, ours: M, theirs: M) {
  if (isDeepStrictEqual(ours, theirs)) return undefined;
  const fields = (Object.keys(ours) as (keyof M)[]).filter((k) => !isDeepStrictEqual(ours[k], theirs[k]));
  return `${what} ${n} differs in ${fields.join(', ')}: proxy ${JSON.stringify(ours)}, reference ${JSON.stringify(theirs)}`;
}

/**
 * Runs the streams through both parsers and asserts that they never read a message both accept
 * differently, and that the streams exercised both sides: many read alike, with a second message
 * among them, and many refused by each parser, so that the check cannot pass by reading nothing.
 */
export async function assertAgreement<R extends Reading>(a: Agreement<R>): Promise<void> {
  const failures: string[] = [];
  const tally = { agreedOne: 0, agreedTwo: 0, proxyRefused: 0, referenceRefused: 0 };
  for (let i = 0; i < a.cases; i++) {
    const raw = a.next();
    const ours = a.ours(raw);
    const theirs = await a.theirs(raw);
    const why = a.divergence(ours, theirs);
    if (why && failures.length < 5) failures.push(`${show(raw)}\n  ${why}`);
    const agreed = Math.min(a.count(ours), a.count(theirs));
    if (agreed >= 1) tally.agreedOne++;
    if (agreed >= 2) tally.agreedTwo++;
    if (ours.error) tally.proxyRefused++;
    if (theirs.error) tally.referenceRefused++;
  }
  assert.deepEqual(
    failures,
    [],
    `the proxy and ${a.name} read these streams differently:\n${failures.join('\n')}`,
  );
  const counts = JSON.stringify(tally);
  assert.ok(tally.agreedOne > a.cases / 4, `too few streams both read: ${counts}`);
  assert.ok(tally.agreedTwo > a.cases / 20, `too few second messages both read: ${counts}`);
  assert.ok(
    tally.proxyRefused > a.cases / 10 && tally.referenceRefused > a.cases / 10,
    `too few refused: ${counts}`,
  );
}

/**
 * Asserts that `parse` reads each of `cases` generated streams the same whole as cut at a few random
 * offsets, and one of them the same when every byte arrives alone.
 */
export function assertCutInvariant<R>(
  d: Draw,
  cases: number,
  next: (d: Draw) => Buffer,
  parse: (raw: Buffer, cuts?: number[]) => R,
): void {
  for (let i = 0; i < cases; i++) {
    const raw = next(d);
    const cuts = Array.from({ length: 1 + d.int(4) }, () => d.int(raw.length));
    assert.deepEqual(parse(raw, cuts), parse(raw), `${show(raw)} cut at ${cuts}`);
  }
  const raw = next(d);
  const everyByte = Array.from({ length: raw.length }, (_, i) => i);
  assert.deepEqual(parse(raw, everyByte), parse(raw), show(raw));
}
