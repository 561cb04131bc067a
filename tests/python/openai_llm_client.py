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


def wall_ms():
    return int(time.time() * 1000)


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
        elif scenario == "plain-responses":
            r = client.responses.create(model="scripted", input="hello")
            out = r.model_dump()
            out["output_text"] = r.output_text
        elif scenario == "plain-responses-stream":
            with client.responses.stream(model="scripted", input="hello") as s:
                kinds = [ev.type for ev in s]
                final = s.get_final_response()
            out = final.model_dump()
            out["output_text"] = final.output_text
            out["kinds"] = kinds
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
        elif scenario.startswith("stream-chat:"):
            # The tool loop streamed: every chunk as the SDK parsed it, with the wall
            # clock (ms) it arrived at.
            chunks = []
            out = {"chunks": chunks}
            try:
                for c in client.chat.completions.create(
                        model="scripted", messages=[{"role": "user", "content": scenario[12:]}],
                        tools=[MCP_TOOL], stream=True, stream_options={"include_usage": True}):
                    chunks.append({"at_ms": wall_ms(), "chunk": c.model_dump()})
            except openai.APIError as e:
                out["error"] = {"at_ms": wall_ms(), "message": e.message, "body": e.body}
            out["text"] = "".join(
                c["chunk"]["choices"][0]["delta"].get("content") or ""
                for c in chunks if c["chunk"]["choices"])
            out["ended_ms"] = wall_ms()
        elif scenario.split(":", 1)[0] in ("stream-responses", "abandon-responses", "own-responses"):
            # Every event with the SDK class it was parsed into and its arrival time;
            # `abandon-…` closes the stream once a tool call is in progress; `own-…`
            # offers a function tool of the client's own beside the gateway's.
            events = []
            out = {"events": events}
            text = scenario.split(":", 1)[1]
            tools = [MCP_TOOL]
            if scenario.startswith("own"):
                tools.append({"type": "function", "name": "mine",
                              "parameters": {"type": "object", "properties": {}}})
            stream = client.responses.create(model="scripted", input=text, tools=tools, stream=True)
            for ev in stream:
                events.append({"at_ms": wall_ms(), "cls": type(ev).__name__, "event": ev.model_dump()})
                if ev.type == "response.completed":
                    out["output_text"] = ev.response.output_text
                if scenario.startswith("abandon") and ev.type == "response.mcp_call.in_progress":
                    stream.close()
                    break
            out["ended_ms"] = wall_ms()
        elif scenario.startswith("helper-responses:"):
            # The SDK's own stream helper, which rebuilds the response from the events
            # and checks their identities and indexes.
            with client.responses.stream(model="scripted", input=scenario[17:], tools=[MCP_TOOL]) as s:
                kinds = [ev.type for ev in s]
                final = s.get_final_response()
            out = final.model_dump()
            out["output_text"] = final.output_text
            out["kinds"] = kinds
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
