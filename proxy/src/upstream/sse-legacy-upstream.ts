/**
 * The HTTP+SSE upstream: fronts an MCP server that only speaks the deprecated HTTP+SSE transport
 * (protocol revision 2024-11-05), offering it to clients over Streamable HTTP in both eras. Each legacy
 * client session gets its own SSE connection (the server keeps one client's state per connection), and
 * stateless requests use warm connections the proxy initializes itself, per principal, with ids
 * rewritten (see `channel-upstream.ts` and `stateless-pool.ts`).
 *
 * @module
 */
import { type ChannelLimits, createChannelUpstream } from './channel-upstream.ts';
import { type SseLegacyChannelOptions, sseLegacyChannels } from './sse-legacy-channel.ts';
import type { Upstream } from './upstream.ts';

export interface SseLegacyUpstreamOptions extends ChannelLimits, SseLegacyChannelOptions {
  /** What the proxy calls itself to the server on warm stateless connections. */
  clientInfo?: { name: string; version: string };
}

/**
 * Creates the upstream. No connection opens until a client needs one.
 *
 * @throws TypeError when the URL is not http(s) or a limit is not positive.
 * @example
 * const upstream = createSseLegacyUpstream({ url: new URL('http://127.0.0.1:3001/sse'), log });
 */
export function createSseLegacyUpstream(options: SseLegacyUpstreamOptions): Upstream {
  if (options.url.protocol !== 'http:' && options.url.protocol !== 'https:')
    throw new TypeError(`Invalid "url" option: expected http or https, got ${options.url.protocol}`);
  const open = sseLegacyChannels(options);
  const upstream = createChannelUpstream({
    ...options,
    kind: 'sse',
    open,
    clientInfo: options.clientInfo ?? { name: 'tessera-proxy', version: '0' },
  });
  return {
    forward: upstream.forward,
    async close() {
      await upstream.close();
      await open.close();
    },
  };
}
