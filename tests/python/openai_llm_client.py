"""Drives the gateway's OpenAI-compatible routes with the official OpenAI Python SDK
(tests/llm.rs). Usage: openai_llm_client.py BASE_URL KEY SCENARIO; prints one JSON
object with what the SDK returned (or the error it raised).
"""

import json
import sys
import time

import openai

MCP_TOOL = {"type": "mcp", "server_label": "litellm", "server_url": "litellm_proxy",
            "require_approval": "never"}


def main():
    base, key, scenario = sys.argv[1], sys.argv[2], sys.argv[3]
    client = openai.OpenAI(base_url=base, api_key=key, max_retries=0, timeout=60)
    out = {}
    try:
        if scenario == "plain":
            r = client.chat.completions.create(
                model="scripted", messages=[{"role": "user", "content": "hello"}])
            out = r.model_dump()
        elif scenario == "stream":
            started = time.monotonic()
            chunks = []
            for c in client.chat.completions.create(
                    model="scripted", messages=[{"role": "user", "content": "hello"}], stream=True):
                text = c.choices[0].delta.content if c.choices else None
                chunks.append({"text": text, "at_ms": int((time.monotonic() - started) * 1000)})
            out = {"chunks": chunks}
        elif scenario == "models":
            out = {"ids": [m.id for m in client.models.list()]}
        elif scenario == "forbidden":
            client.chat.completions.create(
                model="other", messages=[{"role": "user", "content": "hello"}])
        elif scenario == "unknown":
            client.chat.completions.create(
                model="nosuch", messages=[{"role": "user", "content": "hello"}])
        elif scenario.startswith("chat:"):
            r = client.chat.completions.create(
                model="scripted", messages=[{"role": "user", "content": scenario[5:]}],
                tools=[MCP_TOOL])
            out = r.model_dump()
        elif scenario.startswith("responses:"):
            r = client.responses.create(model="scripted", input=scenario[10:], tools=[MCP_TOOL])
            out = r.model_dump()
            out["output_text"] = r.output_text
        else:
            out = {"scenario_unknown": scenario}
    except openai.APIStatusError as e:
        out = {"status": e.status_code, "body": e.body}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
