import assert from 'node:assert/strict';
import { test } from 'node:test';
import { originAllowed } from './origin-check.ts';

const R = 'https://demo.mcp.test/mcp';
const cases: [string | undefined, readonly string[], boolean][] = [
  [undefined, [], true],
  ['https://demo.mcp.test', [], true],
  ['https://demo.mcp.test:443', [], true],
  ['http://demo.mcp.test', [], false],
  ['http://localhost:3000', [], true],
  ['http://127.0.0.1:8080', [], true],
  ['http://[::1]:8080', [], true],
  ['http://evil.example.com', [], false],
  ['http://localhost.evil.example.com', [], false],
  ['https://chat.example.com', ['https://chat.example.com'], true],
  ['https://chat.example.com:8443', ['https://chat.example.com'], false],
  ['null', [], false],
  ['not a url', [], false],
  ['file:///etc/passwd', [], false],
];
for (const [origin, allowed, expected] of cases) {
  test(`Origin ${origin ?? '(absent)'} with [${allowed.join(',')}] → ${expected}`, () =>
    assert.equal(originAllowed(origin, R, allowed), expected));
}
