/**
 * The load generator's process (started with `fork`, so it has CPU of its own to account for): it
 * takes one run command at a time over IPC, reports the measured window's start and end as marks,
 * then the result. It exits when the driver goes away.
 *
 * @module
 */
import { runClosedLoop } from './closed-loop.ts';
import { runOpenLoop } from './open-loop.ts';
import type { LoadCommand, LoadMessage } from './protocol.ts';
import { createTargetClient } from './target-client.ts';

function post(message: LoadMessage): void {
  process.send?.(message);
}

async function run(command: LoadCommand): Promise<void> {
  const client = createTargetClient(command.target);
  const onMark = (mark: 'measure-start' | 'measure-end') => post({ type: 'mark', mark });
  try {
    const result =
      command.kind === 'open'
        ? await runOpenLoop({
            send: client.send,
            rate: command.rate,
            warmupS: command.warmupS,
            measureS: command.measureS,
            drainTimeoutS: 15,
            onMark,
          })
        : await runClosedLoop({
            send: client.send,
            concurrency: command.concurrency,
            warmupS: command.warmupS,
            measureS: command.measureS,
            onMark,
          });
    post({ type: 'result', result });
  } finally {
    await client.destroy();
  }
}

if (!process.send) {
  process.stderr.write('load-generator.ts runs as a child of the benchmark (fork), not on its own\n');
  process.exit(2);
}
process.on('message', (command: LoadCommand) => {
  run(command).catch((err: unknown) => post({ type: 'error', message: (err as Error).stack ?? String(err) }));
});
process.on('disconnect', () => process.exit(0));
post({ type: 'ready' });
