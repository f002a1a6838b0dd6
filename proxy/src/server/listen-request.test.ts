import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TesseraError } from '../errors.ts';
import type { JsonRpcMessage } from './jsonrpc.ts';
import { checkResourceSubscriptions, droppedSentence, withoutDenied } from './listen-request.ts';

const listen = (notifications: unknown): JsonRpcMessage => ({
  kind: 'request',
  id: 1,
  method: 'subscriptions/listen',
  params: { _meta: { k: 'v' }, notifications },
});

test('checkResourceSubscriptions: only a listen request’s resourceSubscriptions are judged', () => {
  assert.doesNotThrow(() => checkResourceSubscriptions(undefined));
  assert.doesNotThrow(() => checkResourceSubscriptions(listen({ toolsListChanged: true })));
  assert.doesNotThrow(() => checkResourceSubscriptions(listen(undefined)), 'the pool answers that one');
  assert.doesNotThrow(() => checkResourceSubscriptions(listen({ resourceSubscriptions: [] })));
  const other: JsonRpcMessage = {
    kind: 'request',
    id: 1,
    method: 'resources/read',
    params: { notifications: { resourceSubscriptions: 'x' } },
  };
  assert.doesNotThrow(() => checkResourceSubscriptions(other));
  assert.throws(
    () => checkResourceSubscriptions(listen({ resourceSubscriptions: [null] })),
    (err: unknown) =>
      err instanceof TesseraError &&
      err.code === 'TESSERA_INVALID_PARAMS' &&
      err.httpStatus === 400 &&
      err.rpcCode === -32602 &&
      err.message === 'params.notifications.resourceSubscriptions[0] must be a non-empty string',
  );
});

test('withoutDenied takes out the denied URIs and keeps the rest of the request; undefined when none is', () => {
  const message = listen({ toolsListChanged: true, resourceSubscriptions: ['note://a', 'secret://b'] });
  const denied = (uri: string) => (uri.startsWith('secret:') ? 'denied by rule "s"' : undefined);
  assert.deepEqual(withoutDenied(message, denied), {
    message: {
      kind: 'request',
      id: 1,
      method: 'subscriptions/listen',
      params: {
        _meta: { k: 'v' },
        notifications: { toolsListChanged: true, resourceSubscriptions: ['note://a'] },
      },
    },
    dropped: [{ uri: 'secret://b', reason: 'denied by rule "s"' }],
  });
  assert.deepEqual(
    message,
    listen({ toolsListChanged: true, resourceSubscriptions: ['note://a', 'secret://b'] }),
    'the request itself is not changed',
  );
  assert.equal(withoutDenied(listen({ resourceSubscriptions: ['note://a'] }), denied), undefined);
  assert.equal(withoutDenied(listen({ toolsListChanged: true }), denied), undefined);
  // A rewrite that made the field something else leaves nothing to subscribe.
  const odd = withoutDenied(listen({ toolsListChanged: true, resourceSubscriptions: 'secret://b' }), denied);
  assert.deepEqual(odd?.message.params?.notifications, { toolsListChanged: true });
  assert.deepEqual(odd?.dropped, [
    { uri: '', reason: 'params.notifications.resourceSubscriptions is not an array' },
  ]);
});

test('droppedSentence names the first ten URIs, cut to 200 characters, with their reasons', () => {
  assert.equal(
    droppedSentence([{ uri: 'secret://b', reason: 'denied by rule "s"' }]),
    'resourceSubscriptions left out by policy: "secret://b" (denied by rule "s")',
  );
  const many = Array.from({ length: 12 }, (_, i) => ({ uri: `u${i}`, reason: 'r' }));
  assert.match(droppedSentence(many), /"u9" \(r\) and 2 more$/);
  const long = droppedSentence([{ uri: 'x'.repeat(300), reason: 'r' }]);
  assert.ok(long.includes(`"${'x'.repeat(200)}…"`));
  assert.ok(!long.includes('x'.repeat(201)));
});
