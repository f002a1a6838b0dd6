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

const proxy = await createProxy(bootstrap);
await proxy.listen();

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    proxy.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
