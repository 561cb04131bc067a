# A meshgate client on the official Python SDK (pip install "mcp==2.3.0").
# Usage: python example_client.py [URL] [KEY]   (defaults: make run's URL, $MESHGATE_MASTER_KEY)
import asyncio
import os
import sys

from mcp import ClientSession
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

URL = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:10000/mcp"
KEY = sys.argv[2] if len(sys.argv) > 2 else os.environ["MESHGATE_MASTER_KEY"]


async def main():
    http = create_mcp_http_client(headers={"x-litellm-api-key": f"Bearer {KEY}"})
    async with http, streamable_http_client(URL, http_client=http) as streams:
        async with ClientSession(streams[0], streams[1]) as session:
            init = await session.initialize()
            print("protocol", init.protocol_version)
            tools = await session.list_tools()
            print("tools", sorted(t.name for t in tools.tools))
            result = await session.call_tool("web-add", {"a": 2, "b": 3})
            print("web-add", result.structured_content)


asyncio.run(main())
