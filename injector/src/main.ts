/**
 * `node injector/src/main.ts`: reads the environment, starts the webhook, stops on SIGTERM/SIGINT.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { readConfig } from './config.ts';
import { startInjector } from './injector.ts';

let config: ReturnType<typeof readConfig>;
try {
  config = readConfig(process.env, (path) => readFileSync(path, 'utf8'));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}
const kubeConfig = new KubeConfig();
kubeConfig.loadFromDefault();
const injector = await startInjector({ config, kubeConfig });
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    injector.close().then(() => process.exit(0));
  });
}
