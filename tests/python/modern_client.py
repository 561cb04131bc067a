# The official Python SDK (mcp==2.3.0) against meshgate: `Client(...)` in its default
# auto mode (server/discover probe first), in legacy mode (initialize), and, when a
# sampling tool is named, a call whose upstream asks the client to sample (MRTR for a
# 2026-07-28 client).
# Usage: python modern_client.py URL KEY TOOL [SAMPLING_TOOL]
import asyncio
import sys

import mcp_types as types
from mcp.client.client import Client
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

URL, KEY, TOOL = sys.argv[1], sys.argv[2], sys.argv[3]
SAMPLING_TOOL = sys.argv[4] if len(sys.argv) > 4 else None


def transport():
    http = create_mcp_http_client(headers={"x-litellm-api-key": f"Bearer {KEY}"})
    return streamable_http_client(URL, http_client=http)


def text_of(result):
    return " ".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def sample(context, params):
    asked = " ".join(getattr(m.content, "text", "") for m in params.messages)
    print("sampling asked:", asked)
    return types.CreateMessageResult(
        model="python-model",
        role="assistant",
        content=types.TextContent(type="text", text="sampled by python"),
    )


async def main():
    async with Client(transport()) as client:
        print("auto protocol", client.protocol_version)
        tools = await client.list_tools()
        print("auto tools", sorted(t.name for t in tools.tools))
        result = await client.call_tool(TOOL, {"text": "hello 2026"})
        print("auto call", text_of(result))
    async with Client(transport(), mode="legacy") as client:
        print("legacy protocol", client.protocol_version)
        result = await client.call_tool(TOOL, {"text": "hello legacy"})
        print("legacy call", text_of(result))
    if SAMPLING_TOOL:
        async with Client(transport(), sampling_callback=sample) as client:
            print("sampling protocol", client.protocol_version)
            result = await client.call_tool(SAMPLING_TOOL, {"prompt": "say hi", "maxTokens": 20})
            print("sampling call", text_of(result))


asyncio.run(main())
