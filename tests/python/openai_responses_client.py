"""Drives the gateway's `/v1/responses` with the official OpenAI Python SDK
(tests/llm_responses.rs). Usage: openai_responses_client.py BASE_URL KEY SPEC, SPEC a
JSON object: {"call": "create" | "stream", "model", "input", "previous_response_id"?,
"mcp"?: true (the gateway's tools), "store"?: false}. Prints one JSON object: the
response as the SDK parsed it (`output_text` added; for "stream" the event types in
`kinds`, from the SDK's `client.responses.stream` helper, which rebuilds the response
from the events and checks their ids and indexes), or the error it raised.
"""

import json
import sys

import openai

MCP_TOOL = {"type": "mcp", "server_label": "litellm", "server_url": "litellm_proxy",
            "require_approval": "never"}


def main():
    base, key, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    client = openai.OpenAI(base_url=base, api_key=key, max_retries=0, timeout=60)
    args = {"model": spec["model"], "input": spec["input"]}
    if spec.get("previous_response_id"):
        args["previous_response_id"] = spec["previous_response_id"]
    if spec.get("mcp"):
        args["tools"] = [MCP_TOOL]
    if "store" in spec:
        args["store"] = spec["store"]
    try:
        if spec["call"] == "stream":
            with client.responses.stream(**args) as s:
                kinds = [ev.type for ev in s]
                final = s.get_final_response()
            out = final.model_dump()
            out["output_text"] = final.output_text
            out["kinds"] = kinds
        else:
            r = client.responses.create(**args)
            out = r.model_dump()
            out["output_text"] = r.output_text
    except openai.APIStatusError as e:
        out = {"status": e.status_code, "body": e.body}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
