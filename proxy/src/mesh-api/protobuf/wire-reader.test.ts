/**
 * Malformed input, case by case: the decoders reject exactly what protobuf-es's fromBinary rejects,
 * with a ProtobufDecodeError that says what is wrong and where.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type DescMessage, fromBinary } from '@bufbuild/protobuf';
import { AuditSettingsSchema, ServerPolicySchema, TokenBucketSchema } from '@tessera/api/mesh/v1/config';
import { NodeSchema } from '@tessera/api/mesh/v1/discovery';
import * as spec from './mesh-specs.ts';
import { decodeMessage } from './message-codec.ts';
import type { MessageSpec } from './message-spec.ts';
import { ProtobufDecodeError } from './protobuf-decode-error.ts';

const cases: Array<[string, MessageSpec, DescMessage, number[], RegExp, number]> = [
  ['truncated varint', spec.AuditSettings, AuditSettingsSchema, [0x08, 0x80], /truncated varint/, 1],
  ['truncated tag', spec.AuditSettings, AuditSettingsSchema, [0x88], /truncated varint/, 0],
  [
    'varint longer than 10 bytes',
    spec.AuditSettings,
    AuditSettingsSchema,
    [0x08, ...Array(10).fill(0x80), 0x01],
    /AuditSettings.batchMaxEvents: varint longer than 10 bytes/,
    1,
  ],
  [
    'length past the end',
    spec.Node,
    NodeSchema,
    [0x0a, 0x05, 0x41],
    /Node.id: length 5 runs past the end/,
    2,
  ],
  [
    'message length past the end',
    spec.ServerPolicy,
    ServerPolicySchema,
    [0x22, 0x05, 0x08],
    /length 5 runs past/,
    1,
  ],
  ['wire type 6', spec.Node, NodeSchema, [0x0e], /invalid wire type 6/, 0],
  ['wire type 7', spec.Node, NodeSchema, [0x0f, 0x00], /invalid wire type 7/, 0],
  ['field number 0', spec.Node, NodeSchema, [0x00, 0x00], /field number 0/, 0],
  ['field number 0, length-delimited', spec.Node, NodeSchema, [0x02, 0x00], /field number 0/, 0],
  [
    'tag beyond 32 bits',
    spec.Node,
    NodeSchema,
    [0x88, 0x80, 0x80, 0x80, 0x10, 0x00],
    /tag varint overflows/,
    0,
  ],
  [
    'tag of 6 bytes',
    spec.Node,
    NodeSchema,
    [0x88, 0x80, 0x80, 0x80, 0x80, 0x00, 0x00],
    /tag varint overflows/,
    0,
  ],
  ['invalid UTF-8', spec.Node, NodeSchema, [0x0a, 0x02, 0x41, 0xff], /Node.id: invalid UTF-8/, 2],
  ['invalid UTF-8 in a map key', spec.Node, NodeSchema, [0x3a, 0x03, 0x0a, 0x01, 0xc3], /invalid UTF-8/, 4],
  ['end group without start', spec.Node, NodeSchema, [0x4c], /unexpected end group/, 1],
  [
    'group closed by another field',
    spec.Node,
    NodeSchema,
    [0x4b, 0x54],
    /end group 10 does not close group 9/,
    1,
  ],
  ['group never closed', spec.Node, NodeSchema, [0x4b, 0x08, 0x01], /truncated varint/, 3],
  ['double cut short', spec.TokenBucket, TokenBucketSchema, [0x11, 0, 0, 0], /length 8 runs past the end/, 1],
  ['fixed32 of an unknown field cut short', spec.Node, NodeSchema, [0x4d, 0, 0], /length 4 runs past/, 1],
];

for (const [name, messageSpec, desc, bytes, message, offset] of cases) {
  test(`rejects: ${name}`, () => {
    const input = Uint8Array.from(bytes);
    assert.throws(() => fromBinary(desc, input), `protobuf-es accepts ${name}: the case is wrong`);
    assert.throws(
      () => decodeMessage(messageSpec, input),
      (err) => {
        assert.ok(err instanceof ProtobufDecodeError, `not a ProtobufDecodeError: ${err}`);
        assert.match(err.message, message);
        assert.equal(err.offset, offset);
        assert.match(err.message, new RegExp(`at byte ${offset}\\)$`));
        return true;
      },
    );
  });
}

test('accepts what protobuf-es accepts although unusual: long skipped varints, groups, deep groups', () => {
  const accepted = [
    [0x48, ...Array(15).fill(0xff), 0x01], // unknown varint field 9 of 16 bytes
    [0x4b, 0x08, 0x01, 0x53, 0x54, 0x4c], // group 9 holding a varint and an empty group 10
    [...Array(50).fill(0x4b), ...Array(50).fill(0x4c)], // 50 nested groups
  ];
  for (const bytes of accepted) {
    const input = Uint8Array.from(bytes);
    fromBinary(NodeSchema, input);
    assert.equal(decodeMessage(spec.Node, input).id, '');
  }
});

test('groups nested deeper than the recursion limit are rejected, as protobuf-es does', () => {
  const input = Uint8Array.from([...Array(120).fill(0x4b), ...Array(120).fill(0x4c)]);
  assert.throws(() => fromBinary(NodeSchema, input));
  assert.throws(() => decodeMessage(spec.Node, input), ProtobufDecodeError);
});
