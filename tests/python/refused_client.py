# The official Python SDK (mcp==2.3.0) in its default auto mode (2026-07-28) calls a
# tool the filter refuses from the Mcp-Name header; prints what the SDK reports, so the
# test can check it is the filter's message and not a generic error.
# Usage: python refused_client.py URL KEY TOOL
import asyncio
import sys

from mcp.client.client import Client
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

URL, KEY, TOOL = sys.argv[1], sys.argv[2], sys.argv[3]


async def main():
    http = create_mcp_http_client(headers={"x-litellm-api-key": f"Bearer {KEY}"})
    async with Client(streamable_http_client(URL, http_client=http)) as client:
        print("protocol", client.protocol_version)
        try:
            result = await client.call_tool(TOOL, {"text": "must not arrive"})
            print("unexpected result", result)
        except Exception as e:  # the SDK's error type for a JSON-RPC error
            code = getattr(getattr(e, "error", None), "code", None)
            print("refused", type(e).__name__, code, str(e))


asyncio.run(main())
