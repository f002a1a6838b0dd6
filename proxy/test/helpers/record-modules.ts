/**
 * Preloaded with `--import` into a process under test: records the URL of every module the process
 * resolves and, when it exits, writes them one per line to the file named by
 * `TESSERA_RECORD_MODULES_FILE`.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const out = process.env.TESSERA_RECORD_MODULES_FILE;
if (!out) throw new Error('record-modules: TESSERA_RECORD_MODULES_FILE is not set');
const seen = new Set<string>();
registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    seen.add(resolved.url);
    return resolved;
  },
});
process.on('exit', () => writeFileSync(out, [...seen].join('\n')));
