import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TesseraError } from '../errors.ts';
import {
  answeredErrorCode,
  DEFAULT_MAX_DEPTH,
  errorBody,
  jsonText,
  parseJsonRpc,
  targetOf,
} from './jsonrpc.ts';

/** Asserts that `text` is rejected with `code` and a message matching `message`. */
function rejects(text: string, code: string, message: RegExp, maxDepth?: number): void {
  assert.throws(
    () => parseJsonRpc(text, maxDepth),
    (err: unknown) => {
      assert.ok(err instanceof TesseraError, `expected a TesseraError, got ${String(err)}`);
      assert.equal(err.code, code);
      assert.match(err.message, message);
      return true;
    },
  );
}

function nested(depth: number): string {
  return `{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
}

describe('parseJsonRpc classification', () => {
  test('a message with id and method is a request', () => {
    const { message, value } = parseJsonRpc(
      '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo"}}',
    );
    assert.deepEqual(message, { kind: 'request', id: 7, method: 'tools/call', params: { name: 'echo' } });
    assert.deepEqual(value, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'echo' } });
  });

  test('string ids, including the empty string and zero, are ids', () => {
    assert.deepEqual(parseJsonRpc('{"jsonrpc":"2.0","id":"abc","method":"ping"}').message, {
      kind: 'request',
      id: 'abc',
      method: 'ping',
      params: undefined,
    });
    assert.equal(
      (parseJsonRpc('{"jsonrpc":"2.0","id":"","method":"ping"}').message as { id: unknown }).id,
      '',
    );
    assert.equal((parseJsonRpc('{"jsonrpc":"2.0","id":0,"method":"ping"}').message as { id: unknown }).id, 0);
  });

  test('a message with method and no id is a notification', () => {
    const { message } = parseJsonRpc('{"jsonrpc":"2.0","method":"notifications/initialized"}');
    assert.deepEqual(message, {
      kind: 'notification',
      method: 'notifications/initialized',
      params: undefined,
    });
  });

  test('a notification keeps its params', () => {
    const { message } = parseJsonRpc(
      '{"jsonrpc":"2.0","method":"notifications/progress","params":{"progress":1}}',
    );
    assert.deepEqual(message, {
      kind: 'notification',
      method: 'notifications/progress',
      params: { progress: 1 },
    });
  });

  test('a message with id and result is a successful response', () => {
    const { message } = parseJsonRpc('{"jsonrpc":"2.0","id":3,"result":{}}');
    assert.deepEqual(message, { kind: 'response', id: 3, error: undefined });
  });

  test('a result of null still makes a response', () => {
    const { message } = parseJsonRpc('{"jsonrpc":"2.0","id":3,"result":null}');
    assert.deepEqual(message, { kind: 'response', id: 3, error: undefined });
  });

  test('a message with id and error is an error response', () => {
    const { message } = parseJsonRpc(
      '{"jsonrpc":"2.0","id":"x","error":{"code":-32601,"message":"no such method"}}',
    );
    assert.deepEqual(message, {
      kind: 'response',
      id: 'x',
      error: { code: -32601, message: 'no such method' },
    });
  });

  test('an error without a numeric code or message is normalised', () => {
    const { message } = parseJsonRpc('{"jsonrpc":"2.0","id":1,"error":{"code":"bad"}}');
    assert.deepEqual(message, { kind: 'response', id: 1, error: { code: 0, message: '' } });
  });

  test('surrounding whitespace is accepted', () => {
    const { message } = parseJsonRpc(' \n {"jsonrpc":"2.0","id":1,"method":"ping"} \n');
    assert.equal(message.kind, 'request');
  });
});

describe('parseJsonRpc rejections', () => {
  test('malformed JSON is a parse error (-32700, HTTP 400)', () => {
    assert.throws(
      () => parseJsonRpc('{"jsonrpc":"2.0",'),
      (err: unknown) => {
        assert.ok(err instanceof TesseraError);
        assert.equal(err.code, 'TESSERA_PARSE_ERROR');
        assert.equal(err.rpcCode, -32700);
        assert.equal(err.httpStatus, 400);
        assert.match(err.message, /malformed JSON/);
        return true;
      },
    );
  });

  test('an empty body is a parse error', () => {
    rejects('', 'TESSERA_PARSE_ERROR', /malformed JSON/);
  });

  test('a batch array is refused as a bad request', () => {
    rejects('[{"jsonrpc":"2.0","id":1,"method":"ping"}]', 'TESSERA_BAD_REQUEST', /batches are not supported/);
    rejects('[]', 'TESSERA_BAD_REQUEST', /batches are not supported/);
  });

  test('a bad request maps to -32600 and HTTP 400', () => {
    try {
      parseJsonRpc('[]');
      assert.fail('expected a throw');
    } catch (err) {
      assert.ok(err instanceof TesseraError);
      assert.equal(err.rpcCode, -32600);
      assert.equal(err.httpStatus, 400);
    }
  });

  for (const text of ['null', '42', '"a string"', 'true']) {
    test(`a non-object (${text}) is refused`, () => {
      rejects(text, 'TESSERA_BAD_REQUEST', /must be a JSON object/);
    });
  }

  for (const [label, text] of [
    ['missing', '{"id":1,"method":"ping"}'],
    ['1.0', '{"jsonrpc":"1.0","id":1,"method":"ping"}'],
    ['a number', '{"jsonrpc":2.0,"id":1,"method":"ping"}'],
  ] as const) {
    test(`a jsonrpc member that is ${label} is refused`, () => {
      rejects(text, 'TESSERA_BAD_REQUEST', /"jsonrpc" must be the string "2.0"/);
    });
  }

  for (const [label, id] of [
    ['null', 'null'],
    ['an object', '{}'],
    ['an array', '[1]'],
    ['a boolean', 'true'],
  ] as const) {
    test(`an id that is ${label} is refused`, () => {
      rejects(
        `{"jsonrpc":"2.0","id":${id},"method":"ping"}`,
        'TESSERA_BAD_REQUEST',
        /"id" must be a string or a number/,
      );
    });
  }

  test('a null id is refused on a response too', () => {
    rejects(
      '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}',
      'TESSERA_BAD_REQUEST',
      /"id"/,
    );
  });

  test('a method that is not a non-empty string is refused', () => {
    rejects(
      '{"jsonrpc":"2.0","id":1,"method":5}',
      'TESSERA_BAD_REQUEST',
      /"method" must be a non-empty string/,
    );
    rejects(
      '{"jsonrpc":"2.0","id":1,"method":""}',
      'TESSERA_BAD_REQUEST',
      /"method" must be a non-empty string/,
    );
    rejects('{"jsonrpc":"2.0","method":null}', 'TESSERA_BAD_REQUEST', /"method"/);
  });

  for (const [label, params] of [
    ['an array', '["a"]'],
    ['null', 'null'],
    ['a string', '"x"'],
    ['a number', '1'],
  ] as const) {
    test(`params that are ${label} are refused`, () => {
      rejects(
        `{"jsonrpc":"2.0","id":1,"method":"m","params":${params}}`,
        'TESSERA_BAD_REQUEST',
        /"params" must be an object/,
      );
    });
  }

  test('an object with neither method nor result/error is refused', () => {
    rejects(
      '{"jsonrpc":"2.0","id":1}',
      'TESSERA_BAD_REQUEST',
      /needs "method", or "id" with "result" or "error"/,
    );
    rejects('{"jsonrpc":"2.0"}', 'TESSERA_BAD_REQUEST', /needs "method"/);
  });

  test('a result without an id is refused', () => {
    rejects('{"jsonrpc":"2.0","result":{}}', 'TESSERA_BAD_REQUEST', /needs "method"/);
  });
});

describe('nesting depth', () => {
  test('the default limit is 64', () => {
    assert.equal(DEFAULT_MAX_DEPTH, 64);
  });

  test('nesting at the limit is accepted', () => {
    // The envelope and params objects are two levels; the arrays make up the rest.
    const { message } = parseJsonRpc(nested(DEFAULT_MAX_DEPTH - 2));
    assert.equal(message.kind, 'request');
  });

  test('nesting one past the limit is refused before parsing', () => {
    rejects(nested(DEFAULT_MAX_DEPTH - 1), 'TESSERA_BAD_REQUEST', /nesting exceeds the limit of 64 levels/);
  });

  test('a custom limit is honoured', () => {
    rejects(nested(2), 'TESSERA_BAD_REQUEST', /limit of 3 levels/, 3);
    assert.equal(parseJsonRpc(nested(1), 3).message.kind, 'request');
  });

  test('a very deep body is refused even when it is not valid JSON', () => {
    rejects('['.repeat(100_000), 'TESSERA_BAD_REQUEST', /nesting exceeds/);
  });

  test('braces and brackets inside strings do not count', () => {
    const deepString = '{'.repeat(500) + '['.repeat(500);
    const { message } = parseJsonRpc(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'x', arguments: { s: deepString } },
      }),
    );
    assert.equal(message.kind, 'request');
  });

  test('escaped quotes inside strings do not end the string', () => {
    const tricky = `\\"${'{'.repeat(100)}`;
    const text = `{"jsonrpc":"2.0","id":1,"method":"m","params":{"s":"${tricky}"}}`;
    assert.equal(parseJsonRpc(text, 3).message.kind, 'request');
  });

  test('an escaped backslash before a closing quote ends the string', () => {
    // "a\\" is a complete string; the brackets after it are structure and count.
    const text = `{"jsonrpc":"2.0","id":1,"method":"m","params":{"a":"a\\\\","b":[[1]]}}`;
    assert.deepEqual(JSON.parse(text).params, { a: 'a\\', b: [[1]] });
    rejects(text, 'TESSERA_BAD_REQUEST', /limit of 3 levels/, 3);
    assert.equal(parseJsonRpc(text, 4).message.kind, 'request');
  });
});

describe('ambiguous member names', () => {
  test('a repeated member is refused after the JSON is known to be valid', () => {
    rejects(
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"lookup","name":"wipe"}}',
      'TESSERA_BAD_REQUEST',
      /^params has the member "name" twice/,
    );
    // Malformed JSON is a parse error first, whatever else is wrong with it.
    rejects('{"a":1,"a":2', 'TESSERA_PARSE_ERROR', /malformed JSON/);
  });

  test('members that differ only in case are refused, naming both', () => {
    rejects(
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"lookup","NAME":"wipe"}}',
      'TESSERA_BAD_REQUEST',
      /^params has the members "name" and "NAME", which differ only in case/,
    );
  });
});

describe('jsonText', () => {
  test('decodes a UTF-8 body', () => {
    assert.equal(jsonText(Buffer.from('{"a":"é€😀"}')), '{"a":"é€😀"}');
  });

  test('refuses a body that is not UTF-8, as a parse error', () => {
    for (const bytes of [
      [0x7b, 0xff, 0x7d],
      [0x22, 0xc3, 0x22],
      [0xed, 0xa0, 0x80],
    ]) {
      assert.throws(
        () => jsonText(Buffer.from(bytes)),
        (err: unknown) =>
          err instanceof TesseraError &&
          err.code === 'TESSERA_PARSE_ERROR' &&
          /not valid UTF-8/.test(err.message),
      );
    }
  });
});

describe('targetOf', () => {
  test('is the tool or prompt name', () => {
    assert.equal(
      targetOf(
        parseJsonRpc('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}').message,
      ),
      'echo',
    );
  });

  test('is the resource URI', () => {
    const { message } = parseJsonRpc(
      '{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///a"}}',
    );
    assert.equal(targetOf(message), 'file:///a');
  });

  test('prefers name over uri', () => {
    const { message } = parseJsonRpc('{"jsonrpc":"2.0","id":1,"method":"x","params":{"uri":"u","name":"n"}}');
    assert.equal(targetOf(message), 'n');
  });

  test('is empty without params, with non-string names, for notifications without target, and for responses', () => {
    assert.equal(targetOf(parseJsonRpc('{"jsonrpc":"2.0","id":1,"method":"ping"}').message), '');
    assert.equal(
      targetOf(parseJsonRpc('{"jsonrpc":"2.0","id":1,"method":"x","params":{"name":5}}').message),
      '',
    );
    assert.equal(
      targetOf(parseJsonRpc('{"jsonrpc":"2.0","method":"notifications/initialized","params":{}}').message),
      '',
    );
    assert.equal(targetOf(parseJsonRpc('{"jsonrpc":"2.0","id":1,"result":{"name":"n"}}').message), '');
  });

  test('works on notifications that name something', () => {
    const { message } = parseJsonRpc(
      '{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"r"}}',
    );
    assert.equal(targetOf(message), 'r');
  });
});

describe('errorBody', () => {
  test('includes the id when known', () => {
    assert.deepEqual(JSON.parse(errorBody(5, -32600, 'bad')), {
      jsonrpc: '2.0',
      id: 5,
      error: { code: -32600, message: 'bad' },
    });
    assert.deepEqual(JSON.parse(errorBody('s', -31003, 'denied')), {
      jsonrpc: '2.0',
      id: 's',
      error: { code: -31003, message: 'denied' },
    });
  });

  test('omits the id when unknown', () => {
    const body = JSON.parse(errorBody(undefined, -32700, 'malformed')) as Record<string, unknown>;
    assert.deepEqual(body, { jsonrpc: '2.0', error: { code: -32700, message: 'malformed' } });
    assert.equal('id' in body, false);
  });

  test('carries data only when given', () => {
    assert.deepEqual(JSON.parse(errorBody(1, -32603, 'x', { why: 'because' })).error, {
      code: -32603,
      message: 'x',
      data: { why: 'because' },
    });
    assert.equal('data' in JSON.parse(errorBody(1, -32603, 'x')).error, false);
  });

  test('escapes the message safely', () => {
    const body = errorBody(1, -32600, 'a "quoted"\nline');
    assert.equal(JSON.parse(body).error.message, 'a "quoted"\nline');
  });

  test('an id of 0 is kept', () => {
    assert.equal(JSON.parse(errorBody(0, -32600, 'x')).id, 0);
  });
});

describe('answeredErrorCode', () => {
  test('an integer that fits 32 bits is kept', () => {
    for (const code of [-32602, -32000, 0, 1, -(2 ** 31), 2 ** 31 - 1])
      assert.equal(answeredErrorCode(code), code);
  });

  test('anything the audit event cannot store counts as Internal error', () => {
    for (const code of [
      1.5,
      2 ** 31,
      -(2 ** 31) - 1,
      1e300,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      '-32602',
      null,
    ]) {
      assert.equal(answeredErrorCode(code), -32603, String(code));
    }
  });
});
