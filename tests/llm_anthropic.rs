//! Anthropic's Messages API as a provider of the OpenAI-compatible routes (issue 15)
//! end to end: real Envoy with the built filter, the sidecar, the demo MCP server, and
//! the official OpenAI Python SDK as the client; the model is the only scripted part
//! (tests/python/scripted_anthropic.py, which records the requests and headers it got).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_e2e::llm::{error_of, llm_gateway, recorded, scripted_model, sdk};
use meshgate_e2e::*;
use serde_json::{json, Value};

/// The Anthropic key the sidecar sends (from its environment, `os.environ/`).
const PROVIDER_KEY: &str = "sk-ant-provider-secret-0077";

async fn scripted_anthropic() -> (Proc, String) {
    scripted_model("scripted_anthropic.py").await
}

/// The requests since `from` whose first user text is `first`.
fn since(all: &[Value], from: usize, first: &str) -> Vec<Value> {
    all[from..]
        .iter()
        .filter(|r| {
            let c = &r["body"]["messages"][0]["content"];
            c.as_str() == Some(first) || c[0]["text"].as_str() == Some(first)
        })
        .cloned()
        .collect()
}

async fn start() -> (Proc, String, Proc, Gateway, String) {
    let (llm_proc, llm) = scripted_anthropic().await;
    let models = format!(
        "  - model_name: scripted\n    litellm_params:\n      model: anthropic/claude-scripted-1\n      api_base: http://{llm}\n      api_key: os.environ/ANTHROPIC_API_KEY\n      timeout: 30\n"
    );
    let (demo_proc, gw, key) = llm_gateway(&models, ("ANTHROPIC_API_KEY", PROVIDER_KEY)).await;
    (llm_proc, llm, demo_proc, gw, key)
}

#[tokio::test]
async fn anthropic_models_answer_the_openai_sdk_plain_streamed_and_in_the_tool_loop() {
    let (_llm, llm, _demo, gw, key) = start().await;
    let v1 = format!("{}/v1", gw.base());

    // A plain chat completion: translated to /v1/messages and back.
    let plain = sdk(&v1, &key, "plain").await;
    let choice = &plain["choices"][0];
    assert_eq!(
        choice["message"]["content"], "Hello from scripted Claude.",
        "{plain}"
    );
    assert_eq!(choice["finish_reason"], "stop", "{plain}");
    assert_eq!(plain["usage"]["prompt_tokens"], 12, "{plain}");
    assert_eq!(plain["usage"]["completion_tokens"], 7, "{plain}");
    assert_eq!(plain["usage"]["total_tokens"], 19, "{plain}");
    let got = recorded(&llm).await;
    let first = got.last().unwrap();
    assert_eq!(first["path"], "/v1/messages");
    assert_eq!(first["headers"]["x-api-key"], PROVIDER_KEY);
    assert_eq!(first["headers"]["anthropic-version"], "2023-06-01");
    assert!(
        first["headers"].get("authorization").is_none(),
        "no bearer token to Anthropic: {first}"
    );
    let seen = first["headers"].to_string();
    assert!(!seen.contains(&key), "the gateway key stays home: {seen}");
    let body = &first["body"];
    assert_eq!(body["model"], "claude-scripted-1", "{body}");
    assert_eq!(body["max_tokens"], 4096, "the documented default: {body}");
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "hello"}]}]),
        "{body}"
    );

    // Streaming: Anthropic's events become chat chunks as they arrive.
    let streamed = sdk(&v1, &key, "stream").await;
    let chunks: Vec<&Value> = streamed["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["text"].as_str().is_some_and(|t| !t.is_empty()))
        .collect();
    let text: String = chunks.iter().map(|c| c["text"].as_str().unwrap()).collect();
    assert_eq!(text, "Hello from scripted Claude.", "{streamed}");
    assert_eq!(chunks.len(), 4, "one chunk per text_delta: {streamed}");
    let (first_at, last_at) = (
        chunks[0]["at_ms"].as_u64().unwrap(),
        chunks[3]["at_ms"].as_u64().unwrap(),
    );
    assert!(
        last_at >= first_at + 900,
        "chunks relayed as they came: {streamed}"
    );
    assert_eq!(recorded(&llm).await.last().unwrap()["body"]["stream"], true);

    // Plain Responses requests, answered and streamed (the SDK's stream helper rebuilds
    // the response from the translated events).
    let r = sdk(&v1, &key, "plain-responses").await;
    assert_eq!(r["output_text"], "Hello from scripted Claude.", "{r}");
    assert_eq!(r["usage"]["total_tokens"], 19, "{r}");
    let r = sdk(&v1, &key, "plain-responses-stream").await;
    assert_eq!(r["output_text"], "Hello from scripted Claude.", "{r}");
    assert_eq!(r["kinds"][0], "response.created", "{r}");
    assert_eq!(r["usage"]["output_tokens"], 7, "{r}");

    // The MCP tool loop: the model's tool_use runs through the gateway's MCP path, the
    // second request carries the tool_result block.
    let from = recorded(&llm).await.len();
    let chat = sdk(&v1, &key, "chat:add").await;
    let message = &chat["choices"][0]["message"];
    assert_eq!(message["content"], "sum: 5", "{chat}");
    let fields = &message["provider_specific_fields"];
    assert_eq!(fields["mcp_tool_calls"][0]["id"], "toolu_1", "{chat}");
    assert_eq!(fields["mcp_call_results"][0]["result"], "5", "{chat}");
    assert_eq!(chat["usage"]["total_tokens"], 38, "both rounds: {chat}");
    let rounds = since(&recorded(&llm).await, from, "add");
    assert_eq!(rounds.len(), 2, "{rounds:?}");
    let tools = rounds[0]["body"]["tools"].as_array().unwrap();
    let add = tools.iter().find(|t| t["name"] == "demo-add").unwrap();
    assert_eq!(add["input_schema"]["required"], json!(["a", "b"]), "{add}");
    let turns = rounds[1]["body"]["messages"].as_array().unwrap();
    assert_eq!(turns.len(), 3, "{turns:?}");
    assert_eq!(turns[1]["role"], "assistant");
    assert_eq!(
        turns[1]["content"][1],
        json!({"type": "tool_use", "id": "toolu_1", "name": "demo-add", "input": {"a": 2, "b": 3}})
    );
    assert_eq!(
        turns[2],
        json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "5"}]})
    );

    // The loop streamed: text chunks, the round's MCP fields, the answer, usage.
    let s = sdk(&v1, &key, "stream-chat:add").await;
    assert!(s.get("error").is_none(), "{s}");
    assert_eq!(s["text"], "Adding.sum: 5", "{s}");
    let chunks = s["chunks"].as_array().unwrap();
    let results = chunks
        .iter()
        .find_map(|c| {
            c["chunk"]["choices"][0]["delta"]["provider_specific_fields"]
                .get("mcp_call_results")
                .cloned()
        })
        .unwrap_or_else(|| panic!("{s}"));
    assert_eq!(results[0]["result"], "5", "{s}");
    let last = chunks.last().unwrap();
    assert_eq!(last["chunk"]["usage"]["total_tokens"], 38, "{s}");

    // The Responses API (non-stream): mcp_list_tools, the mcp_call, the answer.
    let resp = sdk(&v1, &key, "responses:add").await;
    assert_eq!(resp["output_text"], "Adding.sum: 5", "{resp}");
    let output = resp["output"].as_array().unwrap();
    assert_eq!(output[0]["type"], "mcp_list_tools", "{resp}");
    let call = output.iter().find(|i| i["type"] == "mcp_call").unwrap();
    assert_eq!(call["name"], "demo-add");
    assert_eq!(call["output"], "5");
    assert_eq!(resp["usage"]["input_tokens"], 24, "{resp}");
    let last = recorded(&llm).await.last().cloned().unwrap();
    assert_eq!(
        last["body"]["messages"][2]["content"][0]["type"], "tool_result",
        "{last}"
    );

    // The Responses API streamed: Anthropic's events read as Responses events, the SDK's
    // stream helper rebuilds the same answer (it checks ids and indexes).
    let s = sdk(&v1, &key, "helper-responses:add").await;
    assert_eq!(s["output_text"], "Adding.sum: 5", "{s}");
    let kinds: Vec<&str> = s["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    let at = |k: &str| {
        kinds
            .iter()
            .position(|x| *x == k)
            .unwrap_or_else(|| panic!("{k}: {kinds:?}"))
    };
    assert!(at("response.mcp_call_arguments.delta") < at("response.mcp_call.completed"));
    assert_eq!(*kinds.last().unwrap(), "response.completed", "{kinds:?}");
    let deltas = kinds
        .iter()
        .filter(|k| **k == "response.output_text.delta")
        .count();
    assert_eq!(
        deltas, 4,
        "one per text_delta (the script sends each short text as 2): {kinds:?}"
    );
    let call = s["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "mcp_call")
        .cloned()
        .unwrap();
    assert_eq!(call["arguments"], "{\"a\": 2, \"b\": 3}", "{s}");
    assert_eq!(call["output"], "5", "{s}");
    assert_eq!(s["usage"]["total_tokens"], 38, "{s}");

    // Anthropic's errors: OpenAI-shaped with the right status; the key never shown.
    let over = sdk(&v1, &key, "chat:overloaded").await;
    assert_eq!(over["status"], 503, "{over}");
    let err = error_of(&over);
    assert_eq!(err["type"], "overloaded_error", "{over}");
    assert_eq!(err["message"], "AnthropicException - Overloaded", "{over}");
    let limited = sdk(&v1, &key, "chat:ratelimit").await;
    assert_eq!(limited["status"], 429, "{limited}");
    assert_eq!(error_of(&limited)["type"], "rate_limit_error", "{limited}");
    let odd = sdk(&v1, &key, "chat:malformed").await;
    assert_eq!(odd["status"], 502, "{odd}");
    assert!(
        error_of(&odd)["message"]
            .as_str()
            .unwrap()
            .contains("not a JSON object"),
        "{odd}"
    );
    // An `error` event mid-stream ends the stream with an error the SDK raises, after
    // the text that came before it.
    let s = sdk(&v1, &key, "stream-chat:midoverload").await;
    assert_eq!(s["text"], "Partial ", "{s}");
    assert!(
        s["error"]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("{s}"))
            .contains("Overloaded"),
        "{s}"
    );
    let bad = sdk(&v1, &key, "chat:badkey").await;
    assert_eq!(bad["status"], 401, "{bad}");
    assert!(
        !bad.to_string().contains(PROVIDER_KEY),
        "the provider key is never shown: {bad}"
    );
    assert!(
        error_of(&bad)["message"]
            .as_str()
            .unwrap()
            .contains("invalid x-api-key <redacted>"),
        "{bad}"
    );
}
