import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createAsyncQueue } from './async-queue.ts';

async function drain<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of iterable) out.push(v);
  return out;
}

describe('createAsyncQueue', () => {
  test('values pushed before iteration starts come out in order', async () => {
    const q = createAsyncQueue<number>();
    q.push(1);
    q.push(2);
    q.push(3);
    q.end();
    assert.deepEqual(await drain(q), [1, 2, 3]);
  });

  test('values pushed after iteration starts wake the waiting reader', async () => {
    const q = createAsyncQueue<string>();
    const it = q[Symbol.asyncIterator]();
    // 1. The reader waits on an empty queue.
    const pending = it.next();
    // 2. A push resolves it directly.
    q.push('a');
    assert.deepEqual(await pending, { value: 'a', done: false });
    // 3. Later pushes are buffered until read.
    q.push('b');
    q.push('c');
    assert.deepEqual(await it.next(), { value: 'b', done: false });
    assert.deepEqual(await it.next(), { value: 'c', done: false });
  });

  test('a for-await loop sees values pushed while it runs', async () => {
    const q = createAsyncQueue<number>();
    const result = drain(q);
    q.push(1);
    await Promise.resolve();
    q.push(2);
    q.push(3);
    q.end();
    assert.deepEqual(await result, [1, 2, 3]);
  });

  test('end releases a waiting reader', async () => {
    const q = createAsyncQueue<number>();
    const it = q[Symbol.asyncIterator]();
    const pending = it.next();
    q.end();
    assert.deepEqual(await pending, { value: undefined, done: true });
    assert.deepEqual(await it.next(), { value: undefined, done: true });
  });

  test('end delivers the values already pushed first', async () => {
    const q = createAsyncQueue<number>();
    q.push(1);
    q.end();
    const it = q[Symbol.asyncIterator]();
    assert.deepEqual(await it.next(), { value: 1, done: false });
    assert.deepEqual(await it.next(), { value: undefined, done: true });
  });

  test('pushes after end are dropped', async () => {
    const q = createAsyncQueue<number>();
    q.push(1);
    q.end();
    q.push(2);
    assert.deepEqual(await drain(q), [1]);
  });

  test('end twice is harmless', async () => {
    const q = createAsyncQueue<number>();
    q.end();
    q.end();
    assert.deepEqual(await drain(q), []);
  });

  test('breaking out of the loop calls return, which ends the queue', async () => {
    const q = createAsyncQueue<number>();
    q.push(1);
    for await (const v of q) {
      assert.equal(v, 1);
      break;
    }
    q.push(2);
    assert.deepEqual(await q[Symbol.asyncIterator]().next(), { value: undefined, done: true });
  });

  test('return resolves done', async () => {
    const q = createAsyncQueue<number>();
    const it = q[Symbol.asyncIterator]();
    assert.deepEqual(await it.return?.(), { value: undefined, done: true });
    q.push(1);
    assert.deepEqual(await it.next(), { value: undefined, done: true });
  });

  test('throw ends the queue and rejects with the error', async () => {
    const q = createAsyncQueue<number>();
    const it = q[Symbol.asyncIterator]();
    const boom = new Error('boom');
    await assert.rejects(it.throw?.(boom) ?? Promise.resolve(), boom);
    q.push(1);
    assert.deepEqual(await it.next(), { value: undefined, done: true });
  });
});
