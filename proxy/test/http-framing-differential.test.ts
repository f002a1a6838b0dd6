/**
 * Request smuggling needs two HTTP parsers that split one byte stream into different requests: a
 * front proxy (an ingress, a load balancer) and the server behind it. Then one request can hide
 * another from the front, or glue part of another user's request to an attacker's. The proxy has its
 * own HTTP/1.1 parser (`src/http1/request-parser.ts`), so it is compared here with two parsers that
 * front services in practice — llhttp (`node:http`) and Go's `net/http` server (a fixture built
 * with Go) — on thousands of generated request streams full of the ambiguities smuggling is made of
 * (`helpers/framing-cases.ts`).
 *
 * The property: wherever the proxy and one of them both accept a request, they read the same
 * request — method, target, host, fields and body — and so the same next one. Refusing more is
 * allowed (a refused request gets an error and the connection closes, so nothing after it is read);
 * the proxy's parser refuses wherever the specification leaves room for two readings.
 *
 * The generator is seeded: FRAMING_SEED=<n> FRAMING_CASES=<n> node --test this file. Needs Go for the
 * net/http side (`.ci/run` builds it; elsewhere that side skips without Go).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertAgreement, assertCutInvariant, messageDifference, show } from './helpers/framing-agreement.ts';
import { draw, framingCase } from './helpers/framing-cases.ts';
import { GoHttpParser, NodeHttpParser, type Parsed, parseWithProxy } from './helpers/framing-parsers.ts';
import { goFixture } from './helpers/go-fixture.ts';
import { prng } from './helpers/prng.ts';

const SEED = Number(process.env.FRAMING_SEED ?? 20261124);
const CASES = Number(process.env.FRAMING_CASES ?? 3000);
const goBinary = goFixture('go-http-parser', 'TESSERA_GO_HTTP_PARSER');
const goSkip = goBinary === undefined ? 'Go is not installed (bash .ci/run builds the fixture)' : false;

/** Where two readings of the same stream part ways, or undefined when they agree on what both read. */
function divergence(ours: Parsed, theirs: Parsed): string | undefined {
  const both = Math.min(ours.requests.length, theirs.requests.length);
  for (let i = 0; i < both; i++) {
    const differs = messageDifference('request', i + 1, ours.requests[i]!, theirs.requests[i]!);
    if (differs) return differs;
  }
  return undefined;
}

/** Asserts that the proxy and a reference read the seeded streams alike (`assertAgreement`). */
function agreesWith(name: string, theirs: (raw: Buffer) => Promise<Parsed>): Promise<void> {
  const d = draw(prng(SEED));
  return assertAgreement({
    name,
    cases: CASES,
    next: () => framingCase(d),
    ours: (raw) => parseWithProxy(raw),
    theirs,
    divergence,
    count: (r) => r.requests.length,
  });
}

/**
 * Streams that parsers have been made to read differently, each of which the proxy refuses: two
 * framings at once, codings listed or spelled oddly, folded or padded names, bare LF and CR, odd
 * lengths and chunk sizes, and two or malformed hosts.
 */
const AMBIGUOUS: [string, string][] = [
  [
    'Content-Length and Transfer-Encoding',
    'Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  ],
  [
    'Transfer-Encoding and Content-Length',
    'Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n',
  ],
  ['a coding before chunked', 'Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n'],
  ['chunked twice', 'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['a coding after chunked', 'Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n'],
  ['a look-alike coding', 'Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n'],
  ['a space before the colon', 'Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n'],
  ['a folded length', 'Content-Length:\r\n 3\r\n\r\nabc'],
  ['a folded length after bare LF', 'Content-Length:\n 3\r\n\r\nabc'],
  ['two lengths', 'Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd'],
  ['a signed length', 'Content-Length: +3\r\n\r\nabc'],
  ['a length with NUL', 'Content-Length: 3\x00\r\n\r\nabc'],
  [
    'a chunk size that overflows 64 bits',
    'Transfer-Encoding: chunked\r\n\r\n100000000000000001\r\na\r\n0\r\n\r\n',
  ],
  ['a chunk line ended by LF', 'Transfer-Encoding: chunked\r\n\r\n1\na\r\n0\r\n\r\n'],
  ['chunk data not ended by CRLF', 'Transfer-Encoding: chunked\r\n\r\n1\r\naX0\r\n\r\n'],
  ['a last chunk ended by LF', 'Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\n\r\n'],
  ['a CR inside a value', 'X-A: a\rb\r\nContent-Length: 0\r\n\r\n'],
  ['two Host lines', 'Host: other\r\n\r\n'],
  ['a Host that is not a host', 'Host: other/x\r\n\r\n'],
];

describe('HTTP/1.1 framing: the proxy reads requests as llhttp and Go net/http do, or refuses them', () => {
  const node = new NodeHttpParser();
  let go: GoHttpParser | undefined;
  before(() => {
    if (goBinary) go = new GoHttpParser(goBinary);
  });
  after(() => go?.close());

  test(`fuzz (seed ${SEED}, ${CASES} streams): wherever the proxy and llhttp both accept, they read the same requests`, async () => {
    await agreesWith('llhttp', (raw) => node.parse(raw));
  });

  test(`fuzz (seed ${SEED}, ${CASES} streams): wherever the proxy and Go's net/http both accept, they read the same requests`, {
    skip: goSkip,
  }, async () => {
    await agreesWith("Go's net/http", (raw) => go!.parse(raw));
  });

  test(`fuzz (seed ${SEED}): the proxy reads a stream the same however it arrives in pieces`, () => {
    assertCutInvariant(draw(prng(SEED + 1)), CASES, framingCase, parseWithProxy);
  });

  for (const [what, fields] of AMBIGUOUS) {
    test(`the proxy refuses ${what}, and so reads nothing after it as a request`, () => {
      const raw = Buffer.from(
        `POST /mcp HTTP/1.1\r\nHost: h.example\r\n${fields}GET /next HTTP/1.1\r\nHost: h\r\n\r\n`,
        'latin1',
      );
      const ours = parseWithProxy(raw);
      assert.deepEqual(ours.requests, [], show(raw));
      assert.match(ours.error ?? '', /^(400|501)$/, show(raw));
    });
  }
});
