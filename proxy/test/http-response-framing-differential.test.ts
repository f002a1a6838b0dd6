/**
 * The sidecar reads its upstream's answers with its own HTTP/1.1 client (`src/upstream/
 * http1-response-parser.ts`). Where it ends a response at other bytes than a client talking to the
 * same server directly would, it relays a different body, or takes part of one answer for the next;
 * where it keeps a connection open that a client would close, the server's next bytes answer the
 * wrong request. So it is compared here with the clients in front of most servers — llhttp (as
 * `node:http` runs it) and Go's `net/http` — on thousands of generated answer streams full of the
 * same ambiguities as the request side (`helpers/framing-cases.ts`).
 *
 * The property: wherever the proxy and one of them both read a response, they read the same status,
 * fields and body, and the proxy goes on to read another on the connection only where the reference
 * does. Refusing more, or closing more, is allowed: a refused answer fails its exchange with 502 and
 * closes the connection.
 *
 * Seeded: FRAMING_SEED=<n> FRAMING_CASES=<n> node --test this file. Needs Go for the net/http side
 * (`.ci/run` builds it; elsewhere that side skips without Go).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MAX_INTERIM_RESPONSES } from '../src/upstream/http1-response-parser.ts';
import { assertAgreement, assertCutInvariant, messageDifference, show } from './helpers/framing-agreement.ts';
import { draw, responseFramingCase } from './helpers/framing-cases.ts';
import { goFixture } from './helpers/go-fixture.ts';
import { prng } from './helpers/prng.ts';
import {
  GoResponseParser,
  type ParsedResponses,
  parseResponsesWithLlhttp,
  parseResponsesWithProxy,
} from './helpers/response-framing-parsers.ts';

const SEED = Number(process.env.FRAMING_SEED ?? 20261125);
const CASES = Number(process.env.FRAMING_CASES ?? 3000);
const goBinary = goFixture('go-http-parser', 'TESSERA_GO_HTTP_PARSER');
const goSkip = goBinary === undefined ? 'Go is not installed (bash .ci/run builds the fixture)' : false;

/** Where two readings of the same answers part ways, or undefined when they agree on what both read. */
function divergence(ours: ParsedResponses, theirs: ParsedResponses): string | undefined {
  const both = Math.min(ours.responses.length, theirs.responses.length);
  for (let i = 0; i < both; i++) {
    const { keepAlive: a, ...x } = ours.responses[i]!;
    const { keepAlive: b, ...y } = theirs.responses[i]!;
    const differs = messageDifference('response', i + 1, x, y);
    if (differs) return differs;
    if (a && !b) return `response ${i + 1}: the proxy would reuse a connection the reference closes`;
  }
  return undefined;
}

/** Asserts that the proxy and a reference read the seeded streams alike (`assertAgreement`). */
function agreesWith(name: string, theirs: (raw: Buffer) => ParsedResponses | Promise<ParsedResponses>) {
  const d = draw(prng(SEED));
  return assertAgreement({
    name,
    cases: CASES,
    next: () => responseFramingCase(d),
    ours: (raw) => parseResponsesWithProxy(raw),
    theirs,
    divergence,
    count: (r) => r.responses.length,
  });
}

/**
 * Answers that clients have been made to read differently, each of which the proxy refuses (and so
 * relays nothing of, and closes the connection).
 */
const AMBIGUOUS: [string, string][] = [
  [
    'Content-Length and Transfer-Encoding',
    'Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  ],
  ['a coding before chunked', 'Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n'],
  ['chunked twice', 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['a coding after chunked', 'Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n'],
  ['a tab after chunked (llhttp reads to the close)', 'Transfer-Encoding: chunked\t\r\n\r\n0\r\n\r\n'],
  ['a space before the colon', 'Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n'],
  ['a folded length', 'Content-Length:\r\n 3\r\n\r\nabc'],
  ['two lengths', 'Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd'],
  ['two equal lengths (Go merges, llhttp refuses)', 'Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc'],
  ['a length list', 'Content-Length: 3, 3\r\n\r\nabc'],
  ['a signed length', 'Content-Length: +3\r\n\r\nabc'],
  [
    'a chunk size that overflows 64 bits',
    'Transfer-Encoding: chunked\r\n\r\n100000000000000001\r\na\r\n0\r\n\r\n',
  ],
  ['a chunk line ended by LF', 'Transfer-Encoding: chunked\r\n\r\n1\na\r\n0\r\n\r\n'],
  ['whitespace before a chunk extension', 'Transfer-Encoding: chunked\r\n\r\n1 ;a\r\na\r\n0\r\n\r\n'],
  ['a header line ended by LF', 'X-A: 1\nContent-Length: 3\r\n\r\nabc'],
  ['a CR inside a value', 'X-A: a\rb\r\nContent-Length: 0\r\n\r\n'],
];

describe('HTTP/1.1 response framing: the proxy reads answers as llhttp and Go net/http do, or refuses them', () => {
  let go: GoResponseParser | undefined;
  before(() => {
    if (goBinary) go = new GoResponseParser(goBinary);
  });
  after(() => go?.close());

  test(`fuzz (seed ${SEED}, ${CASES} streams): wherever the proxy and llhttp both read a response, they read the same`, async () => {
    await agreesWith('llhttp', parseResponsesWithLlhttp);
  });

  test(`fuzz (seed ${SEED}, ${CASES} streams): wherever the proxy and Go's net/http both read a response, they read the same`, {
    skip: goSkip,
  }, async () => {
    await agreesWith("Go's net/http", (raw) => go!.parse(raw));
  });

  test(`fuzz (seed ${SEED}, ${CASES} streams): the proxy reads no response that llhttp and Go's net/http both refuse`, {
    skip: goSkip,
  }, async () => {
    const d = draw(prng(SEED));
    const looser: string[] = [];
    for (let i = 0; i < CASES; i++) {
      const raw = responseFramingCase(d);
      const ours = parseResponsesWithProxy(raw).responses.length;
      const node = parseResponsesWithLlhttp(raw).responses.length;
      const golang = (await go!.parse(raw)).responses.length;
      if (ours > Math.max(node, golang) && looser.length < 5)
        looser.push(`${show(raw)}: the proxy read ${ours}, llhttp ${node}, Go ${golang}`);
    }
    assert.deepEqual(looser, []);
  });

  test(`fuzz (seed ${SEED}): the proxy reads answers the same however they arrive in pieces`, () => {
    assertCutInvariant(draw(prng(SEED + 1)), CASES, responseFramingCase, parseResponsesWithProxy);
  });

  for (const [what, fields] of AMBIGUOUS) {
    test(`the proxy refuses ${what}, and so reads nothing after it as a response`, () => {
      const raw = Buffer.from(
        `HTTP/1.1 200 OK\r\n${fields}HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled`,
        'latin1',
      );
      const ours = parseResponsesWithProxy(raw);
      assert.deepEqual(ours.responses, [], show(raw));
      assert.ok(ours.error, show(raw));
    });
  }

  test('the proxy refuses Transfer-Encoding in an HTTP/1.0 response (Go reads the body to the close, llhttp reads chunks)', () => {
    const raw = Buffer.from(
      'HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n',
      'latin1',
    );
    assert.equal(parseResponsesWithProxy(raw).error, 'Transfer-Encoding in an HTTP/1.0 response');
  });

  test("the proxy skips as many interim answers as Go's client, and refuses one more", {
    skip: goSkip,
  }, async () => {
    for (const count of [MAX_INTERIM_RESPONSES, MAX_INTERIM_RESPONSES + 1]) {
      const raw = Buffer.from(
        `${'HTTP/1.1 100 Continue\r\n\r\n'.repeat(count)}HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok`,
        'latin1',
      );
      const ours = parseResponsesWithProxy(raw);
      const golang = await go!.parse(raw);
      assert.equal(ours.responses.length, golang.responses.length, `${count} interim answers`);
      assert.equal(ours.error !== undefined, golang.error !== undefined, `${count} interim answers`);
    }
  });

  test('an HTTP/1.0 answer that lists both keep-alive and close closes its connection', () => {
    const raw = Buffer.from(
      'HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled',
      'latin1',
    );
    const ours = parseResponsesWithProxy(raw);
    assert.equal(ours.responses.length, 1);
    assert.equal(ours.responses[0]!.keepAlive, false);
  });
});
