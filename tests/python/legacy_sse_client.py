# A 2024-11-05 (HTTP+SSE) client on the official Python SDK, for tests/features.rs.
# Usage: python legacy_sse_client.py SSE_URL KEY
import asyncio
import sys

from mcp import ClientSession
from mcp.client.sse import sse_client


async def main(url: str, key: str) -> None:
    async with sse_client(url, headers={"x-litellm-api-key": f"Bearer {key}"}) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            print("protocol", init.protocol_version)
            tools = await session.list_tools()
            print("tools", sorted(t.name for t in tools.tools))
            result = await session.call_tool("local-echo", {"text": "over legacy sse"})
            print("echo", result.content[0].text)


asyncio.run(main(sys.argv[1], sys.argv[2]))
