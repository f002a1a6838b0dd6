"""Drives an MCP server through the Tessera proxy with the Python MCP SDK client.

Usage: py_client.py <mcp url> <scenario> [argument]
  The bearer token is read from the TESSERA_TOKEN environment variable (never from argv, which
  other processes can read). Scenarios: everything, filesystem <dir>, memory.

Prints one JSON object on stdout with what the scenario observed; the node:test file asserts on it.
Protocol mode: MCP_MODE (default "auto": the SDK probes for the 2026-07-28 wire and falls back to
the initialize handshake).
"""

import asyncio
import json
import os
import sys

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def texts(result):
    return [c.text for c in result.content if getattr(c, "type", "") == "text"]


async def everything(client, _arg):
    tools = await client.list_tools()
    echo = await client.call_tool("echo", {"message": "from python"})
    return {"tools": sorted(t.name for t in tools.tools), "echo": texts(echo), "isError": bool(echo.is_error)}


async def filesystem(client, directory):
    tools = await client.list_tools()
    path = os.path.join(directory, "hello.txt")
    write = await client.call_tool("write_file", {"path": path, "content": "written by python"})
    read = await client.call_tool("read_text_file", {"path": path})
    listing = await client.call_tool("list_directory", {"path": directory})
    outside = await client.call_tool("read_text_file", {"path": "/etc/hostname"})
    return {
        "tools": sorted(t.name for t in tools.tools),
        "writeError": bool(write.is_error),
        "read": texts(read),
        "listing": texts(listing),
        "outsideError": bool(outside.is_error),
    }


async def memory(client, _arg):
    await client.call_tool(
        "create_entities",
        {"entities": [{"name": "python-client", "entityType": "sdk", "observations": ["speaks MCP"]}]},
    )
    graph = await client.call_tool("read_graph", {})
    found = await client.call_tool("search_nodes", {"query": "python"})
    return {"graph": texts(graph), "search": texts(found)}


async def main():
    url, scenario = sys.argv[1], sys.argv[2]
    arg = sys.argv[3] if len(sys.argv) > 3 else None
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {os.environ['TESSERA_TOKEN']}"})
    async with http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode=os.environ.get("MCP_MODE", "auto")) as client:
            result = await {"everything": everything, "filesystem": filesystem, "memory": memory}[scenario](client, arg)
            result["protocolVersion"] = client.session.protocol_version if hasattr(client, "session") else None
            print(json.dumps(result))


asyncio.run(main())
