import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createWorkQueue } from './work-queue.ts';

test('a key added while queued runs once; added while processing runs again after', async () => {
  const runs: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let done!: () => void;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const q = createWorkQueue({
    concurrency: 1,
    async process(key) {
      runs.push(key);
      if (runs.length === 1) await gate;
      if (runs.length === 3) done();
    },
    onError: () => assert.fail('no errors expected'),
  });
  q.add('a'); // 1. starts processing "a" and waits on the gate
  q.add('b');
  q.add('b'); // 2. "b" is queued once
  q.add('a'); // 3. "a" is marked dirty: it runs again after the current run
  release();
  await finished;
  await q.close();
  assert.deepEqual(runs, ['a', 'b', 'a']);
});

test('a failing key is retried until it succeeds, and each failure is reported', async () => {
  let attempts = 0;
  const errors: string[] = [];
  let done!: () => void;
  const succeeded = new Promise<void>((r) => {
    done = r;
  });
  const q = createWorkQueue({
    baseDelayMs: 1,
    async process() {
      attempts++;
      if (attempts < 3) throw new Error(`boom ${attempts}`);
      done();
    },
    onError: (_key, err) => errors.push((err as Error).message),
  });
  q.add('k');
  await succeeded;
  await q.close();
  assert.deepEqual(errors, ['boom 1', 'boom 2']);
});
