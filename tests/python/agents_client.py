"""Drives the gateway's `/v1/responses` with the OpenAI Agents SDK (openai-agents on
PyPI) for tests/llm_approval.rs: an `Agent` whose only tool is a `HostedMCPTool` naming
the gateway (`server_url: litellm_proxy`), its model an `OpenAIResponsesModel` with a
client whose base_url is the gateway. Usage: agents_client.py BASE_URL KEY SCENARIO;
prints one JSON object: the final output and the run's items (type and raw item).

Scenarios:
- "never:<text>"    -> `require_approval: "never"`: the gateway runs the calls.
- "approval:<text>" -> approval asked for every call; `on_approval_request` approves
                       `demo-echo` and rejects anything else ("no sums").
"""

import asyncio
import json
import os
import sys

os.environ.setdefault("OPENAI_AGENTS_DISABLE_TRACING", "1")

from agents import (  # noqa: E402
    Agent,
    HostedMCPTool,
    OpenAIResponsesModel,
    Runner,
    set_tracing_disabled,
)
from openai import AsyncOpenAI  # noqa: E402


def decide(request):
    """The `on_approval_request` hook: the echo may run, nothing else."""
    asked.append({"id": request.data.id, "name": request.data.name,
                  "arguments": request.data.arguments,
                  "server_label": request.data.server_label})
    if request.data.name == "demo-echo":
        return {"approve": True}
    return {"approve": False, "reason": "no sums"}


asked = []


async def main():
    base, key, scenario = sys.argv[1], sys.argv[2], sys.argv[3]
    mode, text = scenario.split(":", 1)
    set_tracing_disabled(True)
    client = AsyncOpenAI(base_url=base, api_key=key, max_retries=0, timeout=60)
    config = {"type": "mcp", "server_label": "litellm", "server_url": "litellm_proxy",
              "require_approval": "never" if mode == "never" else "always"}
    tool = HostedMCPTool(tool_config=config,
                         on_approval_request=decide if mode == "approval" else None)
    agent = Agent(name="gateway-agent", instructions="Use the tools.",
                  model=OpenAIResponsesModel(model="scripted", openai_client=client),
                  tools=[tool])
    out = {}
    try:
        result = await Runner.run(agent, text, max_turns=6)
        out["final_output"] = result.final_output
        out["items"] = [{"type": item.type,
                         "raw": item.raw_item if isinstance(item.raw_item, dict)
                         else item.raw_item.model_dump()}
                        for item in result.new_items]
        out["responses"] = len(result.raw_responses)
    except Exception as e:  # the test prints what went wrong
        out["error"] = f"{type(e).__name__}: {e}"
    out["asked"] = asked
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    asyncio.run(main())
