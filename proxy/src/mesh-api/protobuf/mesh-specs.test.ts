/**
 * The schema guard: every hand-written field table must say what protobuf-es's descriptors, generated
 * from api/proto, say about the same message. A field added to a .proto (and regenerated) fails here
 * until the codec handles it.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { DescField, DescMessage } from '@bufbuild/protobuf';
import { file_tessera_mesh_v1_audit } from '@tessera/api/mesh/v1/audit';
import { file_tessera_mesh_v1_config } from '@tessera/api/mesh/v1/config';
import { file_tessera_mesh_v1_credentials } from '@tessera/api/mesh/v1/credentials';
import { file_tessera_mesh_v1_discovery } from '@tessera/api/mesh/v1/discovery';
import { schemaPairs } from '../../../test/helpers/mesh-schema-pairs.ts';
import { typeUrls } from './mesh-messages.ts';
import { type FieldSpec, type MessageSpec, messageSpec, Scalar } from './message-spec.ts';

/** What the codec needs to know of a field, from a descriptor, in the table's terms. */
function describe(field: DescField): Record<string, unknown> {
  const base = { no: field.number, name: field.localName, kind: field.fieldKind };
  switch (field.fieldKind) {
    case 'scalar':
      return { ...base, scalar: field.scalar, oneof: field.oneof?.name, presence: field.presence };
    case 'message':
      return {
        ...base,
        message: field.message.typeName,
        oneof: field.oneof?.name,
        delimited: field.delimitedEncoding,
      };
    case 'list':
      return field.listKind === 'message'
        ? { ...base, message: field.message.typeName, delimited: field.delimitedEncoding }
        : { ...base, scalar: field.listKind === 'scalar' ? field.scalar : `enum ${field.enum.typeName}` };
    case 'map':
      return field.mapKind === 'scalar'
        ? { ...base, key: field.mapKey, scalar: field.scalar }
        : { ...base, key: field.mapKey, value: `${field.mapKind}` };
    default:
      return { ...base, unsupported: field.fieldKind };
  }
}

/** The same for a table entry; oneofs, presence and delimited encoding are what proto3 gives without options. */
function describeSpec(f: FieldSpec): Record<string, unknown> {
  const base = { no: f.no, name: f.name, kind: f.kind };
  const IMPLICIT = 2;
  if (f.kind === 'scalar') return { ...base, scalar: f.scalar, oneof: undefined, presence: IMPLICIT };
  if (f.kind === 'message')
    return { ...base, message: f.message.typeName, oneof: undefined, delimited: false };
  if (f.kind === 'map') return { ...base, key: Scalar.STRING, scalar: f.scalar };
  return 'message' in f
    ? { ...base, message: f.message.typeName, delimited: false }
    : { ...base, scalar: f.scalar };
}

test('every field table matches the generated descriptor of its message', () => {
  for (const [spec, desc] of schemaPairs) {
    assert.equal(spec.typeName, desc.typeName);
    assert.deepEqual(
      spec.fields.map(describeSpec),
      [...desc.fields].sort((a, b) => a.number - b.number).map(describe),
      `${desc.typeName}: the table in mesh-specs.ts differs from api/proto`,
    );
  }
});

test('every message a table refers to is itself compared with its descriptor', () => {
  const compared = new Map(schemaPairs.map(([spec, desc]) => [spec, desc]));
  const walk = (spec: MessageSpec, desc: DescMessage) => {
    assert.equal(compared.get(spec), desc, `${spec.typeName} is used but not in schemaPairs`);
    for (const f of spec.fields) {
      if ('message' in f) {
        const field = desc.fields.find((d) => d.number === f.no);
        assert.ok(field && (field.fieldKind === 'message' || field.fieldKind === 'list') && field.message);
        walk(f.message, field.message);
      }
    }
  };
  for (const [spec, desc] of schemaPairs) walk(spec, desc);
});

test('every mesh message is handled, or listed here as one the proxy does not exchange', () => {
  const notNeeded = new Set([
    // The proxy encodes AuditEvent itself (audit/audit-event-encoder.ts) and ships IngestRequestEncoded.
    'tessera.mesh.v1.AuditEvent',
    'tessera.mesh.v1.FilterDecision',
    'tessera.mesh.v1.IngestRequest',
  ]);
  const handled = new Set(schemaPairs.map(([spec]) => spec.typeName));
  const files = [
    file_tessera_mesh_v1_audit,
    file_tessera_mesh_v1_config,
    file_tessera_mesh_v1_credentials,
    file_tessera_mesh_v1_discovery,
  ];
  for (const file of files) {
    for (const message of file.messages) {
      assert.ok(
        handled.has(message.typeName) || notNeeded.has(message.typeName),
        `${message.typeName} (${file.proto.name}) is neither handled by mesh-specs.ts nor listed as not needed`,
      );
      assert.equal(message.nestedMessages.length, 0, `${message.typeName}: nested messages are not expected`);
    }
  }
});

test('type URLs name the generated messages', () => {
  const byName = new Map(schemaPairs.map(([, desc]) => [desc.typeName, desc]));
  for (const [name, url] of Object.entries(typeUrls)) {
    assert.ok(byName.has(`tessera.mesh.v1.${name}`), name);
    assert.equal(url, `type.googleapis.com/tessera.mesh.v1.${name}`);
  }
});

test('messageSpec refuses what the codec does not implement', () => {
  assert.throws(
    () => messageSpec('t.M', [{ no: 1, name: 'ids', kind: 'list', scalar: Scalar.UINT32 }]),
    /t\.M\.ids: repeated numeric fields \(packed\) are not supported/,
  );
  assert.throws(
    () =>
      messageSpec('t.M', [
        { no: 1, name: 'a', kind: 'scalar', scalar: Scalar.STRING },
        { no: 1, name: 'b', kind: 'scalar', scalar: Scalar.STRING },
      ]),
    /duplicate field number 1/,
  );
  assert.throws(
    () => messageSpec('t.M', [{ no: 0, name: 'a', kind: 'scalar', scalar: Scalar.STRING }]),
    /field number 0/,
  );
});

test('the codec loads no protobuf-es, Connect or generated code at run time (type-only imports)', () => {
  const dir = new URL('.', import.meta.url);
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
    const source = readFileSync(new URL(file, dir), 'utf8');
    assert.doesNotMatch(source, /^import\s+'(?!\.\/)/m, `${file}: a side-effect import of a package`);
    for (const [statement] of source.matchAll(/^(import|export)\b[^;]*?from\s+'([^']+)'/gms)) {
      const from = /from\s+'([^']+)'/.exec(statement)![1]!;
      if (from.startsWith('./')) continue;
      assert.match(statement, /^import type /, `${file}: "${statement}" loads ${from} at run time`);
    }
  }
});
