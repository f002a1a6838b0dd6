import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cookiePolicy, readCookie } from './cookie-policy.ts';

test('over https cookies are __Host-, Secure, HttpOnly, SameSite=Lax, Path=/', () => {
  const p = cookiePolicy('https://tessera.example.com');
  assert.equal(p.secure, true);
  assert.equal(p.name('tessera_session'), '__Host-tessera_session');
  assert.equal(
    p.serialize('tessera_session', 'a b', 60),
    '__Host-tessera_session=a%20b; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure',
  );
});

test('a plain-http (local) public URL drops the prefix and Secure, and keeps HttpOnly and SameSite', () => {
  const p = cookiePolicy('http://127.0.0.1:8080');
  assert.equal(p.secure, false);
  assert.equal(p.name('tessera_session'), 'tessera_session');
  assert.equal(
    p.serialize('tessera_session', 'v', 0),
    'tessera_session=v; Path=/; Max-Age=0; HttpOnly; SameSite=Lax',
  );
});

test('readCookie finds one cookie exactly and survives junk', () => {
  assert.equal(readCookie('a=1; tessera_session=x%3Dy; b=2', 'tessera_session'), 'x=y');
  assert.equal(readCookie('xtessera_session=1', 'tessera_session'), undefined);
  assert.equal(readCookie(undefined, 'a'), undefined);
  assert.equal(readCookie('a=%E0%A4%A', 'a'), undefined);
});
