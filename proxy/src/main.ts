#!/usr/bin/env node
/**
 * The proxy process: reads its bootstrap, wires the parts together, listens, and shuts down cleanly
 * on SIGTERM/SIGINT. No logic lives here.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { readBootstrap } from './config/bootstrap.ts';
import { createProxy } from './proxy.ts';

let bootstrap: ReturnType<typeof readBootstrap>;
try {
  bootstrap = readBootstrap(process.env, (p) => readFileSync(p, 'utf8'));
} catch (err) {
  process.stderr.write(`tessera-proxy: ${(err as Error).message}\n`);
  process.exit(2);
}

let stopping = false;
/** Drains and exits; a proxy that failed exits with 1 either way, so that it is restarted. */
function stop(failed: boolean): void {
  if (stopping) return;
  stopping = true;
  proxy.close().then(
    () => process.exit(failed ? 1 : 0),
    () => process.exit(1),
  );
}

const proxy = await createProxy(bootstrap, { onFatal: () => stop(true) });
await proxy.listen();

for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stop(false));
