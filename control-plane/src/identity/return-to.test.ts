import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sameOriginReturn } from './return-to.ts';

const PUBLIC = 'https://tessera.example.com';

test('a path on the control plane is accepted, with its query', () => {
  assert.equal(
    sameOriginReturn('/api/v1/connect/github?t=a.b.c', PUBLIC),
    'https://tessera.example.com/api/v1/connect/github?t=a.b.c',
  );
  assert.equal(sameOriginReturn('/', PUBLIC), 'https://tessera.example.com/');
});

test('anything that could leave the origin is refused', () => {
  for (const bad of [
    'https://evil.example/x',
    '//evil.example/x',
    '/\\evil.example/x',
    '\\\\evil.example',
    'javascript:alert(1)',
    'api/v1/connect',
    '/a\nb',
    '/a\u0000',
    '',
    `/${'a'.repeat(9000)}`,
    undefined,
    42,
    ['/x'],
  ])
    assert.equal(sameOriginReturn(bad, PUBLIC), undefined, JSON.stringify(bad));
});
