/**
 * A keyed work queue like client-go's: a key waiting in the queue is never added twice, one key is
 * never processed by two workers at once (an add during processing runs it again afterwards), and a
 * failing key is retried with exponential backoff (1 s doubling to 60 s) until it succeeds.
 *
 * @module
 */
export interface WorkQueue {
  add(key: string): void;
  /** Stops taking work and waits for the key being processed. */
  close(): Promise<void>;
}

export interface WorkQueueOptions {
  process(key: string): Promise<void>;
  onError(key: string, err: unknown): void;
  /** Parallel workers (distinct keys). Default 2. */
  concurrency?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export function createWorkQueue(options: WorkQueueOptions): WorkQueue {
  const base = options.baseDelayMs ?? 1000;
  const max = options.maxDelayMs ?? 60_000;
  const concurrency = options.concurrency ?? 2;
  const queue: string[] = [];
  const queued = new Set<string>();
  const active = new Map<string, Promise<void>>();
  const dirty = new Set<string>();
  const failures = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  function add(key: string): void {
    if (closed) return;
    if (active.has(key)) {
      dirty.add(key);
      return;
    }
    if (queued.has(key)) return;
    queued.add(key);
    queue.push(key);
    pump();
  }

  function pump(): void {
    while (!closed && active.size < concurrency && queue.length > 0) {
      const key = queue.shift()!;
      queued.delete(key);
      const run = options
        .process(key)
        .then(
          () => {
            failures.delete(key);
          },
          (err: unknown) => {
            options.onError(key, err);
            const n = (failures.get(key) ?? 0) + 1;
            failures.set(key, n);
            const t = setTimeout(
              () => {
                timers.delete(t);
                add(key);
              },
              Math.min(max, base * 2 ** (n - 1)),
            );
            timers.add(t);
          },
        )
        .finally(() => {
          active.delete(key);
          if (dirty.delete(key)) add(key);
          pump();
        });
      active.set(key, run);
    }
  }

  return {
    add,
    async close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      await Promise.all(active.values());
    },
  };
}
