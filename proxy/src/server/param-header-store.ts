/**
 * What the proxy knows of its upstream's `x-mcp-header` annotations: learned from the `tools/list`
 * answers it forwards, before policy filtering trims them per caller (the schemas are the server's, so
 * one store serves every principal). A first page (no `cursor`) replaces what was known; later pages add
 * to it, so the store holds the last list seen, at most `maxTools` annotated tools.
 *
 * A tool the store does not know is not checked by the proxy: its `Mcp-Param-*` headers go to the
 * upstream, which knows the schema and must validate them itself (§Server Validation). A stale entry
 * heals itself: the spec's client answer to a `HeaderMismatch` is to list the tools again, which the
 * proxy learns from.
 *
 * @module
 */
import type { Log } from '../telemetry/log.ts';
import type { JsonRpcMessage } from './jsonrpc.ts';
import { defaultParamHeaderLimits, listParamHeaders, type ParamHeaderLimits } from './param-headers.ts';
import type { ParamHeaderMap } from './request-metadata.ts';

export interface ParamHeaderStore {
  /** The annotations to check a `tools/call` against, or undefined when the tool's are not known. */
  forCall(message: JsonRpcMessage | undefined): ParamHeaderMap | undefined;
  /** What learns from the answer to this request; undefined unless it is a `tools/list` request. */
  learnerFor(message: JsonRpcMessage | undefined): ((response: Record<string, unknown>) => void) | undefined;
  /** Annotated tools known. */
  readonly size: number;
}

export interface ParamHeaderStoreOptions {
  limits?: ParamHeaderLimits;
  /** Receives a warning for every tool whose annotations are invalid. */
  log?: Log;
}

export function createParamHeaderStore(options: ParamHeaderStoreOptions = {}): ParamHeaderStore {
  const limits = options.limits ?? defaultParamHeaderLimits;
  const log: Log = options.log ?? (() => {});
  let tools = new Map<string, ParamHeaderMap>();

  function learn(response: Record<string, unknown>, firstPage: boolean): void {
    if ('error' in response) return;
    const page = listParamHeaders(response.result, limits);
    for (const { tool, reason } of page.ignored)
      log('warn', 'x-mcp-header annotations of a tool ignored; its calls are checked by the upstream only', {
        tool: tool.slice(0, 128),
        reason,
      });
    if (firstPage) {
      tools = page.tools;
      return;
    }
    for (const name of page.listed) tools.delete(name);
    for (const [name, headers] of page.tools) {
      if (tools.size >= limits.maxTools) break;
      tools.set(name, headers);
    }
  }

  return {
    forCall(message) {
      if (message?.kind !== 'request' || message.method !== 'tools/call') return undefined;
      const name = message.params?.name;
      return typeof name === 'string' ? tools.get(name) : undefined;
    },
    learnerFor(message) {
      if (message?.kind !== 'request' || message.method !== 'tools/list') return undefined;
      const firstPage = message.params?.cursor === undefined;
      return (response) => learn(response, firstPage);
    },
    get size() {
      return tools.size;
    },
  };
}
