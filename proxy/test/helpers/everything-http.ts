/**
 * Starts `@modelcontextprotocol/server-everything` on a free port in one of its HTTP modes —
 * Streamable HTTP (`/mcp`) or the deprecated HTTP+SSE transport (`/sse`) — and waits until it
 * listens. The caller kills the child.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.ts';

/** Each mode's path, and what it prints on stderr once it listens. */
const modes = {
  streamableHttp: { path: '/mcp', ready: 'listening' },
  sse: { path: '/sse', ready: 'running on port' },
} as const;

export async function startEverythingHttp(
  mode: keyof typeof modes = 'streamableHttp',
): Promise<{ url: URL; child: ChildProcess }> {
  const port = await freePort();
  const entry = fileURLToPath(import.meta.resolve('@modelcontextprotocol/server-everything/dist/index.js'));
  const child = spawn(process.execPath, [entry, mode], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes(modes[mode].ready)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`server-everything exited ${code}: ${err}`)));
  });
  return { url: new URL(`http://127.0.0.1:${port}${modes[mode].path}`), child };
}
