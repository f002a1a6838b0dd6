/**
 * A push-driven async iterable: the request side of a bidirectional stream is fed by events (ACKs,
 * NACKs) rather than produced by a loop.
 *
 * @module
 */
export interface AsyncQueue<T> extends AsyncIterable<T> {
  push(value: T): void;
  /** Ends the iteration after the values already pushed. */
  end(): void;
}

export function createAsyncQueue<T>(): AsyncQueue<T> {
  const values: T[] = [];
  let waiting: ((r: IteratorResult<T>) => void) | undefined;
  let ended = false;
  return {
    push(value) {
      if (ended) return;
      if (waiting) {
        const w = waiting;
        waiting = undefined;
        w({ value, done: false });
      } else values.push(value);
    },
    end() {
      ended = true;
      if (waiting) waiting({ value: undefined, done: true });
      waiting = undefined;
    },
    [Symbol.asyncIterator]() {
      return {
        next: () => {
          if (values.length > 0) return Promise.resolve({ value: values.shift() as T, done: false });
          if (ended) return Promise.resolve({ value: undefined, done: true });
          return new Promise<IteratorResult<T>>((resolve) => {
            waiting = resolve;
          });
        },
        return: () => {
          ended = true;
          return Promise.resolve({ value: undefined, done: true });
        },
        throw: (err?: unknown) => {
          ended = true;
          return Promise.reject(err);
        },
      };
    },
  };
}
