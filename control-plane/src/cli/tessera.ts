#!/usr/bin/env -S node --max-semi-space-size=2
/**
 * The `tessera` command.
 *
 *   tessera start                               run the control plane (embedded defaults)
 *   tessera token --user <email> --server <name> [--group <g>]...
 *                                               print an access token for a user and a server
 *   tessera proxy-status                        the proxies connected to every replica
 *   tessera keys rotate                         re-wrap every stored secret's data key under a new key
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readSettings, type Settings } from '../config.ts';
import type { ProxyStatus } from '../mesh/config-hub.ts';
import { runControlPlane } from '../run.ts';
import { formatProxyStatus } from './proxy-status.ts';

const usage = `usage:
  tessera start
  tessera token --user <email> --server <name> [--group <group>]...
  tessera proxy-status [--url <control plane URL>]
  tessera keys rotate [--url <control plane URL>]

Settings come from environment variables; see the README.`;

function fail(message: string, code = 2): never {
  process.stderr.write(`tessera: ${message}\n`);
  process.exit(code);
}

async function start(settings: Settings): Promise<void> {
  const running = await runControlPlane(settings, (m) => process.stderr.write(`${m}\n`));
  const out = [
    '',
    `Tessera is running.`,
    `  Admin API:      ${running.publicUrl}/api/v1/servers   (Authorization: Bearer <${join(settings.dataDir, 'admin-token')}>)`,
    `  Mesh endpoint:  ${running.meshUrl}`,
    `  Sign-in:        ${running.publicUrl}/.well-known/oauth-authorization-server   (MCP clients need only the MCP URL)`,
  ];
  // The bootstrap admin token is shown once, at the start that created it; later starts name the file.
  if (running.adminTokenNew)
    out.push(`  Bootstrap admin token (shown at first start only): ${running.adminToken}`);
  if (running.demoMcpUrl) {
    out.push(
      `MCP URL: ${running.demoMcpUrl}`,
      `  Get a token:    npx tessera token --user ${settings.adminEmail} --server everything`,
      `  Try it:         npx @modelcontextprotocol/inspector   (Streamable HTTP, the URL above, header Authorization: Bearer <token>)`,
    );
  }
  process.stdout.write(`${out.join('\n')}\n\n`);
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      running.close().then(
        () => process.exit(0),
        (err: Error) => fail(`shutdown failed: ${err.message}`, 1),
      );
    });
  }
}

/** Calls the admin API with the admin token (from the environment or the data directory). */
async function adminApi(
  settings: Settings,
  url: string | undefined,
  path: string,
  body?: unknown,
): Promise<unknown> {
  let adminToken = settings.adminToken;
  if (!adminToken) {
    try {
      adminToken = (await readFile(join(settings.dataDir, 'admin-token'), 'utf8')).trim();
    } catch {
      fail(
        `no admin token: set TESSERA_ADMIN_TOKEN or run "tessera start" first (it writes ${join(settings.dataDir, 'admin-token')})`,
      );
    }
  }
  const base =
    url ?? `http://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${settings.port}`;
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    fail(`cannot reach the control plane at ${base}: ${(err as Error).message}`, 1);
  }
  const json = (await res.json().catch(() => ({}))) as { message?: string };
  if (!res.ok) fail(json.message ?? `the control plane answered ${res.status}`, 1);
  return json;
}

async function token(settings: Settings, argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      user: { type: 'string' },
      server: { type: 'string' },
      group: { type: 'string', multiple: true },
      url: { type: 'string' },
    },
    strict: true,
  });
  if (!values.user) fail('--user <email> is required');
  if (!values.server) fail('--server <name> is required');
  const body = (await adminApi(settings, values.url, '/api/v1/tokens', {
    user: values.user,
    server: values.server,
    groups: values.group ?? [],
  })) as { access_token?: string };
  if (!body.access_token) fail('the control plane returned no token', 1);
  process.stdout.write(`${body.access_token}\n`);
}

async function proxyStatus(settings: Settings, argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { url: { type: 'string' } }, strict: true });
  const body = (await adminApi(settings, values.url, '/api/v1/mesh/proxies')) as {
    proxies: ProxyStatus[];
    partial?: boolean;
  };
  process.stdout.write(formatProxyStatus(body.proxies, body.partial === true));
}

async function keys(settings: Settings, argv: string[]): Promise<void> {
  const [sub, ...more] = argv;
  if (sub !== 'rotate') fail(`unknown keys command "${sub ?? ''}"\n${usage}`);
  const { values } = parseArgs({ args: more, options: { url: { type: 'string' } }, strict: true });
  const body = (await adminApi(settings, values.url, '/api/v1/keys/rotate', {})) as {
    rewrapped: number;
    current: number;
  };
  process.stdout.write(
    `re-wrapped ${body.rewrapped} secrets; ${body.current} already used the current key\n`,
  );
}

const [command, ...rest] = process.argv.slice(2);
let settings: Settings;
try {
  settings = readSettings(process.env);
} catch (err) {
  fail((err as Error).message);
}
try {
  switch (command) {
    case 'start':
      await start(settings);
      break;
    case 'token':
      await token(settings, rest);
      break;
    case 'proxy-status':
      await proxyStatus(settings, rest);
      break;
    case 'keys':
      await keys(settings, rest);
      break;
    default:
      fail(command ? `unknown command "${command}"\n${usage}` : usage);
  }
} catch (err) {
  fail((err as Error).message, 1);
}
