import assert from 'node:assert/strict';
import { test } from 'node:test';
import { unknownResultType } from './result-type.ts';

const answer = (result: unknown) => Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, result }));

test('known result types, and results without one, pass', () => {
  assert.equal(unknownResultType(answer({ resultType: 'complete', content: [] })), undefined);
  assert.equal(unknownResultType(answer({ resultType: 'input_required', inputRequests: {} })), undefined);
  assert.equal(unknownResultType(answer({ content: [] })), undefined);
  // The word inside content is not the result's own field.
  assert.equal(
    unknownResultType(answer({ content: [{ type: 'text', text: '"resultType": "x"' }] })),
    undefined,
  );
  assert.equal(unknownResultType(answer({ structuredContent: { resultType: 'bogus' } })), undefined);
  const error = Buffer.from('{"jsonrpc":"2.0","id":1,"error":{"code":-1,"message":"resultType"}}');
  assert.equal(unknownResultType(error), undefined);
});

test('an unknown or non-string result type is named', () => {
  assert.equal(unknownResultType(answer({ resultType: 'bogus' })), '"bogus"');
  assert.equal(unknownResultType(answer({ resultType: 'Complete' })), '"Complete"');
  assert.equal(unknownResultType(answer({ resultType: 7 })), '7');
  assert.equal(unknownResultType(answer({ resultType: null })), 'null');
});
