/**
 * Differential tests of the hand-written mesh codecs against protobuf-es: random messages, non-canonical
 * encodings and damaged bytes. Seeded; a failure reproduces with
 * MESH_CODEC_SEED=<n> node --test proxy/src/mesh-api/protobuf/mesh-messages.test.ts
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create, type DescMessage, fromBinary, toBinary } from '@bufbuild/protobuf';
import { timestampMs as esTimestampMs, TimestampSchema } from '@bufbuild/protobuf/wkt';
import { IngestRequestSchema, IngestResponseSchema } from '@tessera/api/mesh/v1/audit';
import {
  AuditSettingsSchema,
  ServerPolicySchema,
  TrustBundleSchema,
  UpstreamSchema,
} from '@tessera/api/mesh/v1/config';
import { CredentialRequestSchema, CredentialResponseSchema } from '@tessera/api/mesh/v1/credentials';
import { DiscoveryRequestSchema, DiscoveryResponseSchema, NodeSchema } from '@tessera/api/mesh/v1/discovery';
import { schemaPairs } from '../../../test/helpers/mesh-schema-pairs.ts';
import { prng } from '../../../test/helpers/prng.ts';
import { randomInit } from '../../../test/helpers/random-message.ts';
import * as api from './mesh-messages.ts';
import * as spec from './mesh-specs.ts';
import { decodeMessage, encodeMessage } from './message-codec.ts';
import type { MessageSpec } from './message-spec.ts';

const SEED = Number(process.env.MESH_CODEC_SEED ?? Math.floor(Math.random() * 2 ** 32));
console.log(`MESH_CODEC_SEED=${SEED}`);
const next = prng(SEED);
const int = (n: number) => Math.floor(next() * n);

/** protobuf-es's result without `$unknown`, which the hand-written decoders never produce. */
function known(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(known);
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (key === '$unknown') continue;
    const v = known((value as Record<string, unknown>)[key]);
    if (key === '__proto__')
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
    else out[key] = v;
  }
  return out;
}

/** Both decoders on the same bytes: both reject, or both give the same message. */
function agree(messageSpec: MessageSpec, desc: DescMessage, bytes: Uint8Array): 'accepted' | 'rejected' {
  let expected: unknown;
  let theirs: unknown;
  try {
    expected = known(fromBinary(desc, bytes));
  } catch (err) {
    theirs = err;
  }
  let actual: unknown;
  let ours: unknown;
  try {
    actual = decodeMessage(messageSpec, bytes);
  } catch (err) {
    ours = err;
  }
  const hex = Buffer.from(bytes).toString('hex');
  if (ours !== undefined)
    assert.ok(ours instanceof api.ProtobufDecodeError, `${desc.typeName} ${hex}: threw ${ours}`);
  assert.equal(
    ours === undefined,
    theirs === undefined,
    `${desc.typeName} ${hex}: ours ${ours}, protobuf-es ${theirs}`,
  );
  if (ours === undefined) assert.deepStrictEqual(actual, expected, `${desc.typeName} ${hex}`);
  return ours === undefined ? 'accepted' : 'rejected';
}

test('random messages: decoding and encoding agree with protobuf-es', () => {
  let count = 0;
  for (const [messageSpec, desc] of schemaPairs) {
    for (let i = 0; i < 120; i++) {
      const init = randomInit(desc, next, { loneSurrogates: i % 4 === 0 });
      const message = create(desc, init);
      const bytes = toBinary(desc, message);
      assert.equal(agree(messageSpec, desc, bytes), 'accepted');
      assert.deepStrictEqual(encodeMessage(messageSpec, message), Buffer.from(bytes), desc.typeName);
      assert.deepStrictEqual(
        encodeMessage(messageSpec, init),
        Buffer.from(bytes),
        `${desc.typeName} from a plain init`,
      );
      count++;
    }
  }
  assert.ok(count > 3000);
});

test('the exported decoders and encoders, on random messages', () => {
  const decoders: Array<[(b: Uint8Array) => unknown, DescMessage]> = [
    [api.decodeDiscoveryResponse, DiscoveryResponseSchema],
    [api.decodeTrustBundle, TrustBundleSchema],
    [api.decodeUpstream, UpstreamSchema],
    [api.decodeServerPolicy, ServerPolicySchema],
    [api.decodeAuditSettings, AuditSettingsSchema],
    [api.decodeIngestResponse, IngestResponseSchema],
    [api.decodeCredentialResponse, CredentialResponseSchema],
  ];
  for (const [decode, desc] of decoders) {
    for (let i = 0; i < 50; i++) {
      const bytes = toBinary(desc, create(desc, randomInit(desc, next)));
      assert.deepStrictEqual(decode(bytes), known(fromBinary(desc, bytes)), desc.typeName);
    }
  }
  for (let i = 0; i < 200; i++) {
    const init = randomInit(DiscoveryRequestSchema, next) as api.DiscoveryRequestInit;
    const bytes = api.encodeDiscoveryRequest(init);
    const expected = create(DiscoveryRequestSchema, init);
    assert.deepStrictEqual(Buffer.from(bytes), Buffer.from(toBinary(DiscoveryRequestSchema, expected)));
    assert.deepStrictEqual(fromBinary(DiscoveryRequestSchema, bytes), expected);

    const credential = { server: `s${int(3) === 0 ? '' : 'é'.repeat(int(5))}`, user: int(2) ? '' : 'ü😀' };
    const cbytes = api.encodeCredentialRequest(credential);
    assert.deepStrictEqual(
      fromBinary(CredentialRequestSchema, cbytes),
      create(CredentialRequestSchema, credential),
    );
  }
});

test('IngestRequestEncoded is read by the control plane as an IngestRequest of the same events', () => {
  for (let i = 0; i < 100; i++) {
    const request = create(IngestRequestSchema, randomInit(IngestRequestSchema, next));
    const events = request.events.map((e) => toBinary(IngestRequestSchema.field.events!.message!, e));
    const bytes = api.encodeIngestRequestEncoded({ batchId: request.batchId, events });
    assert.deepStrictEqual(Buffer.from(bytes), Buffer.from(toBinary(IngestRequestSchema, request)));
  }
});

test('damaged encodings: accepted and rejected exactly as protobuf-es does', () => {
  const tally = { accepted: 0, rejected: 0 };
  for (let i = 0; i < 6000; i++) {
    const [messageSpec, desc] = schemaPairs[int(schemaPairs.length)]!;
    const valid = toBinary(desc, create(desc, randomInit(desc, next)));
    const bytes = [...valid];
    for (let m = 1 + int(3); m > 0; m--) {
      const at = int(bytes.length + 1);
      const r = next();
      if (r < 0.25) bytes.length = at;
      else if (r < 0.5 && at < bytes.length) bytes[at] = int(256);
      else if (r < 0.65 && at < bytes.length) bytes[at]! ^= 1 << int(8);
      else if (r < 0.85) bytes.splice(at, 0, ...Array.from({ length: 1 + int(3) }, () => int(256)));
      else bytes.splice(at, 1 + int(4));
    }
    tally[agree(messageSpec, desc, Uint8Array.from(bytes))]++;
  }
  // Both outcomes must be exercised for the agreement to mean anything.
  assert.ok(tally.accepted > 500 && tally.rejected > 500, JSON.stringify(tally));
});

/** Hand-made encodings: a tag, then the payload. */
const tag = (no: number, wireType: number) => [(no << 3) | wireType];
const len = (no: number, payload: number[]) => [...tag(no, 2), payload.length, ...payload];
const text = (no: number, s: string) => len(no, [...Buffer.from(s)]);
const u8 = (...parts: number[][]) => Uint8Array.from(parts.flat());

test('non-canonical encodings decode as protobuf-es decodes them', () => {
  const cases: Array<[MessageSpec, DescMessage, Uint8Array]> = [
    [spec.Node, NodeSchema, u8()], // empty input: every default
    [spec.Node, NodeSchema, u8(text(6, 'v1'), text(2, 'ns'), text(1, 'id'))], // out of order
    [spec.Node, NodeSchema, u8(text(1, 'first'), text(1, 'last'))], // last value wins
    [spec.AuditSettings, AuditSettingsSchema, u8(tag(1, 0), [5], tag(1, 0), [0])], // last wins, even a default
    // A singular message seen twice is merged; a repeated one appends.
    [
      spec.ServerPolicy,
      ServerPolicySchema,
      u8(
        len(4, len(1, [...tag(1, 0), 7])),
        len(2, text(1, 'alice')),
        len(4, [...len(2, [...tag(1, 0), 9]), ...len(1, [...tag(2, 1), 0, 0, 0, 0, 0, 0, 0xf8, 0x3f])]),
        len(2, text(2, 'ops')),
      ),
    ],
    // Unknown fields of every wire type, at top level and inside a sub-message, are skipped.
    [
      spec.CredentialResponse,
      CredentialResponseSchema,
      u8(
        tag(9, 0),
        [0x96, 0x01],
        tag(10, 1),
        [1, 2, 3, 4, 5, 6, 7, 8],
        len(11, [1, 2, 3]),
        tag(12, 3),
        tag(1, 0),
        [1],
        tag(12, 4),
        tag(13, 5),
        [1, 2, 3, 4],
        len(1, [...text(1, 'a'), ...tag(9, 5), 0, 0, 0, 0, ...text(2, 'b')]),
      ),
    ],
    // Map entries: missing value, missing key, both missing, an unknown field inside, "__proto__".
    [
      spec.Node,
      NodeSchema,
      u8(
        len(7, text(1, 'k')),
        len(7, text(2, 'v')),
        len(7, []),
        len(7, [...tag(3, 0), 1, ...text(1, 'x')]),
        len(7, [...text(1, '__proto__'), ...text(2, 'p')]),
      ),
    ],
    // A known field under another wire type is read as its own type, as protobuf-es does (no check).
    [spec.Node, NodeSchema, u8(tag(1, 0), [1, 0x41])],
    // A sub-message may read past its declared length: protobuf-es accepts it.
    [
      spec.DiscoveryRequest,
      DiscoveryRequestSchema,
      u8(tag(6, 2), [1], tag(2, 2), [2], [0x41, 0x42], text(3, 'v')),
    ],
    // A leading U+FEFF is text, not a byte-order mark.
    [spec.Node, NodeSchema, u8(text(1, '\ufeffid'))],
    // 64-bit values: a negative seconds (10 bytes) and the largest uint64 nanos would not fit.
    [
      spec.Timestamp,
      TimestampSchema,
      u8(
        tag(1, 0),
        [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        tag(2, 0),
        [0xff, 0xff, 0xff, 0xff, 0x0f],
      ),
    ],
  ];
  for (const [messageSpec, desc, bytes] of cases) {
    assert.equal(agree(messageSpec, desc, bytes), 'accepted', Buffer.from(bytes).toString('hex'));
  }
  assert.equal(
    (decodeMessage(spec.DiscoveryRequest, cases[8]![2]).errorDetail as { message: string }).message,
    'AB',
  );
  const merged = api.decodeServerPolicy(cases[4]![2]);
  assert.equal(merged.rateLimits?.perUser?.capacity, 7);
  assert.equal(merged.rateLimits?.perTool?.capacity, 9);
  assert.equal(merged.rateLimits?.perUser?.refillPerSecond, 1.5);
  assert.equal(merged.grants.length, 2);
  const node = decodeMessage(spec.Node, cases[6]![2]).metadata as Record<string, string>;
  assert.deepEqual(Object.keys(node), ['k', '', 'x', '__proto__']);
  assert.equal(Object.getPrototypeOf(node), Object.prototype);
});

test('timestampMs computes what protobuf-es computes', () => {
  for (let i = 0; i < 500; i++) {
    const ts = create(TimestampSchema, {
      seconds: BigInt(int(2 ** 40)) - 2n ** 39n,
      nanos: int(3) === 0 ? int(1000) * 1_000_000 : int(1_000_000_000),
    });
    assert.equal(api.timestampMs(ts), esTimestampMs(ts));
  }
});

test('encoders refuse values that do not fit their fields', () => {
  assert.throws(
    () => api.encodeDiscoveryRequest({ errorDetail: { code: 2 ** 31, message: '' } }),
    /Status.code: expected an int32/,
  );
  assert.throws(() => api.encodeDiscoveryRequest({ errorDetail: { code: 1.5, message: '' } }), TypeError);
  assert.throws(
    () => api.encodeDiscoveryRequest({ typeUrl: 7 as unknown as string }),
    /DiscoveryRequest.typeUrl: expected a string/,
  );
  assert.throws(
    () => api.encodeDiscoveryRequest({ resourceNames: 'a' as unknown as string[] }),
    /expected an array/,
  );
  assert.throws(
    () => api.encodeIngestRequestEncoded({ batchId: 'b', events: ['x' as unknown as Uint8Array] }),
    /expected a Uint8Array/,
  );
  assert.throws(() => encodeMessage(spec.Timestamp, { seconds: 2n ** 63n }), /expected an int64/);
  assert.throws(() => encodeMessage(spec.AuditSettings, { batchMaxEvents: -1 }), /expected a uint32/);
});
