//! The OpenAI-compatible routes and the LLM tool loop (issue 15) end to end: real
//! Envoy with the built filter, the sidecar, the demo MCP server, and the official
//! OpenAI Python SDK as the client; the model is the only scripted part
//! (tests/python/scripted_llm.py, which records what it got and when).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_e2e::llm::{error_of, llm_gateway, recorded, scripted_model, sdk};
use meshgate_e2e::*;
use serde_json::{json, Value};
use sha2::Digest;

/// The provider key the sidecar sends (from its environment, `os.environ/`).
const PROVIDER_KEY: &str = "sk-provider-secret-0042";

async fn scripted_llm() -> (Proc, String) {
    scripted_model("scripted_llm.py").await
}

fn since<'a>(all: &'a [Value], from: usize, first_user: &str) -> Vec<&'a Value> {
    all[from..]
        .iter()
        .filter(|r| {
            let b = &r["body"];
            let first = b["messages"][0]["content"]
                .as_str()
                .or_else(|| b["input"].as_str())
                .or_else(|| b["input"][0]["content"].as_str());
            first == Some(first_user)
        })
        .collect()
}

/// The gateway with the demo MCP server and the scripted model (`scripted`, and
/// `other` which keys may be denied), plus a key limited to `scripted` and `demo`.
async fn start() -> (Proc, String, Proc, Gateway, String) {
    let (llm_proc, llm) = scripted_llm().await;
    let models = format!(
        "  - model_name: scripted\n    litellm_params:\n      model: openai/scripted-1\n      api_base: http://{llm}/v1\n      api_key: os.environ/SCRIPTED_LLM_KEY\n      timeout: 30\n  - model_name: other\n    litellm_params: {{model: hosted_vllm/other-1, api_base: 'http://{llm}/v1'}}\n"
    );
    let (demo_proc, gw, key) = llm_gateway(&models, ("SCRIPTED_LLM_KEY", PROVIDER_KEY)).await;
    (llm_proc, llm, demo_proc, gw, key)
}

#[tokio::test]
async fn openai_sdk_through_the_gateway_plain_and_with_the_mcp_tool_loop() {
    let (_llm, llm, _demo, gw, key) = start().await;
    let v1 = format!("{}/v1", gw.base());

    // /v1/models: what each key may call.
    let listed = sdk(&v1, &key, "models").await;
    assert_eq!(listed["ids"], json!(["scripted"]), "{listed}");
    let listed = sdk(&v1, MASTER_KEY, "models").await;
    assert_eq!(listed["ids"], json!(["scripted", "other"]), "{listed}");

    // A plain chat completion, proxied; the SDK pointed at the bare base URL (the
    // seeds' form): `/chat/completions` without `/v1`.
    let plain = sdk(&gw.base(), &key, "plain").await;
    assert_eq!(
        plain["choices"][0]["message"]["content"], "Hello from the scripted model.",
        "{plain}"
    );
    let got = recorded(&llm).await;
    let first = got.last().unwrap();
    assert_eq!(first["path"], "/v1/chat/completions");
    assert_eq!(
        first["body"]["model"], "scripted-1",
        "the provider's model id"
    );
    assert_eq!(
        first["authorization"],
        format!("Bearer {PROVIDER_KEY}"),
        "the provider key from the sidecar's environment"
    );
    let seen = first["headers"].to_string();
    assert!(
        !seen.contains(&key) && !seen.contains(MASTER_KEY),
        "the gateway key never reaches the provider: {seen}"
    );

    // Streaming passes chunk by chunk: the first text arrives long before the last
    // (the scripted model sends them 0.4 s apart).
    let streamed = sdk(&v1, &key, "stream").await;
    let chunks: Vec<&Value> = streamed["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["text"].as_str().is_some_and(|t| !t.is_empty()))
        .collect();
    let text: String = chunks.iter().map(|c| c["text"].as_str().unwrap()).collect();
    assert_eq!(text, "Hello from the scripted model.", "{streamed}");
    let (first_at, last_at) = (
        chunks[0]["at_ms"].as_u64().unwrap(),
        chunks[chunks.len() - 1]["at_ms"].as_u64().unwrap(),
    );
    assert!(
        last_at >= first_at + 900,
        "chunks were relayed as they came, not buffered: {streamed}"
    );

    // A model outside the key's `models`: LiteLLM's 401 key_model_access_denied, and
    // the provider never asked.
    let before = recorded(&llm).await.len();
    let refused = sdk(&v1, &key, "forbidden").await;
    assert_eq!(refused["status"], 401, "{refused}");
    let err = error_of(&refused);
    assert_eq!(err["type"], "key_model_access_denied", "{refused}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("This key can only access models=['scripted']. Tried to access other"),
        "{refused}"
    );
    // An unknown model: LiteLLM's 400.
    let unknown = sdk(&v1, &key, "unknown").await;
    assert_eq!(unknown["status"], 400, "{unknown}");
    assert!(
        error_of(&unknown)["message"]
            .as_str()
            .unwrap()
            .contains("Invalid model name passed in model=nosuch"),
        "{unknown}"
    );
    assert_eq!(
        recorded(&llm).await.len(),
        before,
        "refused before the provider"
    );

    // The MCP tool loop on Chat Completions: the model calls two tools in one round,
    // the gateway runs them at once (each sleeps 1.5 s upstream), feeds the results
    // back and returns the final answer with LiteLLM's provider_specific_fields.
    let from = recorded(&llm).await.len();
    let chat = sdk(&v1, &key, "chat:parallel").await;
    let message = &chat["choices"][0]["message"];
    assert_eq!(
        message["content"], "done: slept 1500 ms|slept 1500 ms",
        "{chat}"
    );
    let fields = &message["provider_specific_fields"];
    let offered: Vec<&str> = fields["mcp_list_tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert!(
        offered.contains(&"demo-sleep") && offered.contains(&"demo-add"),
        "{chat}"
    );
    assert_eq!(
        fields["mcp_tool_calls"].as_array().unwrap().len(),
        2,
        "{chat}"
    );
    let results = fields["mcp_call_results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{chat}");
    assert!(results.iter().all(|r| r["is_error"] == false), "{chat}");
    assert_eq!(
        chat["usage"]["total_tokens"], 30,
        "both rounds' usage: {chat}"
    );
    let rounds = since(&recorded(&llm).await, from, "parallel")
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(rounds.len(), 2, "{rounds:?}");
    let tools_sent = rounds[0]["body"]["tools"].to_string();
    assert!(
        tools_sent.contains("\"name\":\"demo-sleep\"") && !tools_sent.contains("litellm_proxy"),
        "the MCP entry became function tools: {tools_sent}"
    );
    let fed_back: Vec<&Value> = rounds[1]["body"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .collect();
    assert_eq!(fed_back.len(), 2, "{:?}", rounds[1]);
    assert_eq!(fed_back[0]["tool_call_id"], "call_a0");
    let gap =
        rounds[1]["received_ms"].as_u64().unwrap() - rounds[0]["answered_ms"].as_u64().unwrap();
    assert!(
        (1400..2800).contains(&gap),
        "two 1.5 s calls took {gap} ms between the rounds: they ran in parallel"
    );

    // A tool error and a tool the key does not have: both fed back to the model as
    // LiteLLM's texts, the loop goes on.
    let failed = sdk(&v1, &key, "chat:fail").await;
    let content = failed["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_else(|| panic!("{failed}"));
    assert!(
        content.starts_with(
            "saw: Tool call failed: kaput|Tool call failed: Error: Tool 'demo-nosuch' not found"
        ),
        "{failed}"
    );
    let results = failed["choices"][0]["message"]["provider_specific_fields"]["mcp_call_results"]
        .as_array()
        .unwrap()
        .clone();
    assert!(results.iter().all(|r| r["is_error"] == true), "{failed}");

    // The round limit (meshgate.max_tool_rounds: 3): the model keeps calling, the
    // gateway stops after three rounds and says so.
    let from = recorded(&llm).await.len();
    let looped = sdk(&v1, &key, "chat:loop").await;
    assert_eq!(
        looped["choices"][0]["message"]["provider_specific_fields"]["mcp_tool_rounds_exhausted"],
        true,
        "{looped}"
    );
    assert_eq!(since(&recorded(&llm).await, from, "loop").len(), 4);

    // The Responses API: mcp_list_tools and mcp_call output items, then the answer.
    let from = recorded(&llm).await.len();
    let resp = sdk(&v1, &key, "responses:parallel").await;
    assert_eq!(
        resp["output_text"], "done: slept 1500 ms|slept 1500 ms",
        "{resp}"
    );
    let output = resp["output"].as_array().unwrap();
    assert_eq!(output[0]["type"], "mcp_list_tools", "{resp}");
    assert_eq!(output[0]["server_label"], "litellm", "{resp}");
    let calls: Vec<&Value> = output.iter().filter(|i| i["type"] == "mcp_call").collect();
    assert_eq!(calls.len(), 2, "{resp}");
    for c in &calls {
        assert_eq!(c["name"], "demo-sleep");
        assert_eq!(c["arguments"], "{\"ms\": 1500}");
        assert_eq!(c["output"], "slept 1500 ms");
    }
    assert_eq!(resp["usage"]["total_tokens"], 30, "{resp}");
    let rounds = since(&recorded(&llm).await, from, "parallel")
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(rounds.len(), 2);
    assert_eq!(rounds[0]["path"], "/v1/responses");
    let outputs = rounds[1]["body"]["input"].to_string();
    assert!(outputs.contains("function_call_output"), "{outputs}");
    let gap =
        rounds[1]["received_ms"].as_u64().unwrap() - rounds[0]["answered_ms"].as_u64().unwrap();
    assert!(
        (1400..2800).contains(&gap),
        "parallel on Responses too: {gap} ms"
    );

    // The tool calls went through the MCP path: a spend row for each, on this key.
    let hash: String = sha2::Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let rows = meshgate_e2e::admin::spend_logs(&gw, &format!("api_key={hash}")).await;
        let sleeps = rows.to_string().matches("\"MCP: demo-sleep\"").count();
        if sleeps == 4 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expected 4 spend rows for demo-sleep: {rows}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Position of the first event of `kind` (for `item_id` when given) in a Responses
/// event list.
fn pos(events: &[Value], kind: &str, item: Option<&str>) -> usize {
    events
        .iter()
        .position(|e| {
            e["event"]["type"] == kind
                && item
                    .is_none_or(|id| e["event"]["item_id"] == id || e["event"]["item"]["id"] == id)
        })
        .unwrap_or_else(|| panic!("no {kind} for {item:?}: {events:#?}"))
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["event"]["type"].as_str().unwrap())
        .collect()
}

/// The chunks' `provider_specific_fields` carrying `field`.
fn chunk_with<'a>(chunks: &'a [Value], field: &str) -> (usize, &'a Value) {
    chunks
        .iter()
        .enumerate()
        .find_map(|(i, c)| {
            let f = &c["chunk"]["choices"][0]["delta"]["provider_specific_fields"];
            f.get(field).is_some().then_some((i, f))
        })
        .unwrap_or_else(|| panic!("no chunk with {field}: {chunks:#?}"))
}

#[tokio::test]
async fn the_tool_loop_streams_on_both_apis_through_the_openai_sdk() {
    let (_llm, llm, _demo, gw, key) = start().await;
    let v1 = format!("{}/v1", gw.base());

    // Responses: OpenAI's event stream, every event parsed by the SDK into its own
    // class, in order: the tool list, each call (added, in progress, arguments,
    // completed, done), then the model's text as it comes, then response.completed
    // with the same output as the non-stream answer.
    let from = recorded(&llm).await.len();
    let r = sdk(&v1, &key, "stream-responses:parallel").await;
    let events = r["events"].as_array().unwrap();
    let k = kinds(events);
    assert_eq!(k[0], "response.created", "{k:?}");
    assert_eq!(*k.last().unwrap(), "response.completed", "{k:?}");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["event"]["sequence_number"], i, "numbered in order: {k:?}");
        let cls = e["cls"].as_str().unwrap();
        assert!(
            cls.starts_with("Response") && cls.ends_with("Event"),
            "the SDK parsed {} as {cls}",
            e["event"]["type"]
        );
    }
    let cls_of = |kind: &str| events[pos(events, kind, None)]["cls"].clone();
    assert_eq!(
        cls_of("response.mcp_call.in_progress"),
        "ResponseMcpCallInProgressEvent"
    );
    assert_eq!(
        cls_of("response.mcp_call_arguments.delta"),
        "ResponseMcpCallArgumentsDeltaEvent"
    );
    assert_eq!(
        cls_of("response.mcp_list_tools.completed"),
        "ResponseMcpListToolsCompletedEvent"
    );
    let listed = pos(events, "response.mcp_list_tools.completed", None);
    assert!(pos(events, "response.mcp_list_tools.in_progress", None) < listed);
    let first_text = pos(events, "response.output_text.delta", None);
    let calls: Vec<String> = events
        .iter()
        .filter(|e| {
            e["event"]["type"] == "response.output_item.added"
                && e["event"]["item"]["type"] == "mcp_call"
        })
        .map(|e| e["event"]["item"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(calls.len(), 2, "{k:?}");
    for id in &calls {
        let order = [
            "response.output_item.added",
            "response.mcp_call.in_progress",
            "response.mcp_call_arguments.delta",
            "response.mcp_call_arguments.done",
            "response.mcp_call.completed",
        ]
        .map(|kind| pos(events, kind, Some(id)));
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}: {k:?}");
        assert!(listed < order[0] && order[4] < first_text, "{k:?}");
        let done = events
            .iter()
            .rposition(|e| {
                e["event"]["type"] == "response.output_item.done"
                    && e["event"]["item"]["id"] == id.as_str()
            })
            .unwrap();
        let item = &events[done]["event"]["item"];
        assert_eq!(item["status"], "completed", "{item}");
        assert_eq!(item["output"], "slept 1500 ms", "{item}");
        assert_eq!(item["arguments"], "{\"ms\": 1500}", "{item}");
        let streamed: Vec<&str> = events
            .iter()
            .filter(|e| {
                e["event"]["type"] == "response.mcp_call_arguments.delta"
                    && e["event"]["item_id"] == id.as_str()
            })
            .map(|e| e["event"]["delta"].as_str().unwrap())
            .collect();
        assert_eq!(
            streamed,
            ["{\"ms\":", " 1500}"],
            "the provider's argument deltas relayed as they came"
        );
    }
    let deltas: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"]["type"] == "response.output_text.delta")
        .collect();
    let text: String = deltas
        .iter()
        .map(|e| e["event"]["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, "done: slept 1500 ms|slept 1500 ms", "{k:?}");
    assert_eq!(r["output_text"], text, "response.completed has the answer");
    assert!(
        deltas.len() == 4 && deltas[3]["at_ms"].as_u64() > deltas[0]["at_ms"].as_u64(),
        "the text is relayed as it comes: {deltas:?}"
    );
    let whole = &events.last().unwrap()["event"]["response"];
    let types: Vec<&str> = whole["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["mcp_list_tools", "mcp_call", "mcp_call", "message"],
        "{whole}"
    );
    assert_eq!(whole["usage"]["total_tokens"], 30, "{whole}");
    let rounds = since(&recorded(&llm).await, from, "parallel")
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(rounds.len(), 2, "{rounds:?}");
    assert!(
        rounds.iter().all(|r| r["body"]["stream"] == true),
        "each round streamed from the provider"
    );
    let gap =
        rounds[1]["received_ms"].as_u64().unwrap() - rounds[0]["answered_ms"].as_u64().unwrap();
    assert!(
        (1400..2800).contains(&gap),
        "the round's two 1.5 s calls ran in parallel: {gap} ms"
    );

    assert_eq!(
        events[0]["event"]["response"]["id"], whole["id"],
        "one response id from response.created to response.completed"
    );

    // The SDK's own stream helper (`client.responses.stream`) accepts the events and
    // rebuilds the same response.
    let helped = sdk(&v1, &key, "helper-responses:parallel").await;
    assert_eq!(
        helped["output_text"], "done: slept 1500 ms|slept 1500 ms",
        "{helped}"
    );
    let types: Vec<&str> = helped["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["mcp_list_tools", "mcp_call", "mcp_call", "message"],
        "{helped}"
    );

    // With a function tool of the client's own the round's calls could go back to the
    // client, so they are announced once the round is complete (arguments whole), then
    // run as before.
    let r = sdk(&v1, &key, "own-responses:parallel").await;
    let events = r["events"].as_array().unwrap();
    let deltas: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"]["type"] == "response.mcp_call_arguments.delta")
        .collect();
    assert_eq!(deltas.len(), 2, "{:?}", kinds(events));
    assert!(
        deltas
            .iter()
            .all(|d| d["event"]["delta"] == "{\"ms\": 1500}"),
        "{deltas:?}"
    );
    assert_eq!(r["output_text"], "done: slept 1500 ms|slept 1500 ms", "{r}");

    // A tool error round: mcp_call.failed, the error in the item, fed to the model.
    let r = sdk(&v1, &key, "stream-responses:fail").await;
    let events = r["events"].as_array().unwrap();
    let failed: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"]["type"] == "response.mcp_call.failed")
        .collect();
    assert_eq!(failed.len(), 2, "{:?}", kinds(events));
    assert_eq!(failed[0]["cls"], "ResponseMcpCallFailedEvent");
    let items: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["event"]["type"] == "response.output_item.done"
                && e["event"]["item"]["type"] == "mcp_call"
        })
        .map(|e| &e["event"]["item"])
        .collect();
    assert!(items.iter().all(|i| i["status"] == "failed"), "{items:?}");
    assert!(
        r["output_text"].as_str().unwrap().starts_with(
            "saw: Tool call failed: kaput|Tool call failed: Error: Tool 'demo-nosuch' not found"
        ),
        "{r}"
    );

    // The first byte before the slow tool ends: response.created and the call's
    // in_progress reach the client before the model is asked again (which needs the
    // tool's result), and before the call's completed event.
    let from = recorded(&llm).await.len();
    let r = sdk(&v1, &key, "stream-responses:slow").await;
    let events = r["events"].as_array().unwrap();
    let rounds = since(&recorded(&llm).await, from, "slow")
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(rounds.len(), 2, "{rounds:?}");
    let asked_again = rounds[1]["received_ms"].as_u64().unwrap();
    let at = |i: usize| events[i]["at_ms"].as_u64().unwrap();
    let in_progress = pos(events, "response.mcp_call.in_progress", None);
    let completed = pos(events, "response.mcp_call.completed", None);
    assert!(
        at(0) < asked_again && at(in_progress) < asked_again,
        "first event at {}, call in progress at {}, the tool's result reached the model at {asked_again}",
        at(0),
        at(in_progress)
    );
    assert!(
        at(0) <= at(in_progress) && at(in_progress) < at(completed),
        "{events:?}"
    );
    assert_eq!(r["output_text"], "slow done: slept 2000 ms", "{r}");

    // The provider fails mid-stream: the stream ends with `error` and
    // `response.failed`, nothing hangs.
    let r = sdk(&v1, &key, "stream-responses:midfail").await;
    let events = r["events"].as_array().unwrap();
    let k = kinds(events);
    assert_eq!(k[k.len() - 2..], ["error", "response.failed"], "{k:?}");
    assert_eq!(events[k.len() - 2]["cls"], "ResponseErrorEvent");
    assert!(
        events[k.len() - 2]["event"]["message"]
            .as_str()
            .unwrap()
            .contains("broke off"),
        "{:?}",
        events[k.len() - 2]
    );
    assert_eq!(events[k.len() - 1]["event"]["response"]["status"], "failed");
    assert!(k.contains(&"response.mcp_call.completed"), "{k:?}");

    // The rounds run out (max_tool_rounds: 3): the model's last calls come back as
    // function_call items and the stream ends with response.incomplete.
    let r = sdk(&v1, &key, "stream-responses:loop").await;
    let events = r["events"].as_array().unwrap();
    let k = kinds(events);
    assert_eq!(*k.last().unwrap(), "response.incomplete", "{k:?}");
    assert_eq!(events.last().unwrap()["cls"], "ResponseIncompleteEvent");
    let whole = &events.last().unwrap()["event"]["response"];
    assert_eq!(
        whole["incomplete_details"]["reason"], "max_tool_rounds",
        "{whole}"
    );
    assert_eq!(
        k.iter()
            .filter(|t| **t == "response.mcp_call.completed")
            .count(),
        3,
        "{k:?}"
    );
    let handed = pos(events, "response.function_call_arguments.done", None);
    assert_eq!(
        events[handed]["event"]["arguments"],
        "{\"text\": \"turn 3\"}"
    );
    assert_eq!(
        whole["output"].as_array().unwrap().last().unwrap()["type"],
        "function_call",
        "{whole}"
    );

    // The client goes away while a tool runs: the loop stops (the model is not asked
    // again).
    let from = recorded(&llm).await.len();
    let r = sdk(&v1, &key, "abandon-responses:slowbye").await;
    assert_eq!(
        r["events"].as_array().unwrap().last().unwrap()["event"]["type"],
        "response.mcp_call.in_progress"
    );
    tokio::time::sleep(std::time::Duration::from_millis(3000)).await;
    assert_eq!(
        since(&recorded(&llm).await, from, "slowbye").len(),
        1,
        "no second round for a client that left"
    );

    // Chat Completions: LiteLLM's chunks — mcp_list_tools early, the round's calls and
    // results in one chunk, then the final text as it comes, the usage of both rounds,
    // [DONE] (the SDK's iteration ends).
    let r = sdk(&v1, &key, "stream-chat:parallel").await;
    let chunks = r["chunks"].as_array().unwrap();
    assert!(r.get("error").is_none(), "{r}");
    assert_eq!(
        chunks[0]["chunk"]["choices"][0]["delta"]["role"],
        "assistant"
    );
    let (listed_at, fields) = chunk_with(chunks, "mcp_list_tools");
    let offered = fields["mcp_list_tools"].to_string();
    assert!(offered.contains("\"demo-sleep\""), "{offered}");
    let (calls_at, fields) = chunk_with(chunks, "mcp_call_results");
    assert_eq!(fields["mcp_tool_calls"].as_array().unwrap().len(), 2);
    let results = fields["mcp_call_results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{fields}");
    assert!(
        results
            .iter()
            .all(|r| r["is_error"] == false && r["result"] == "slept 1500 ms"),
        "{fields}"
    );
    let first_text = chunks
        .iter()
        .position(|c| {
            c["chunk"]["choices"][0]["delta"]["content"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        })
        .unwrap();
    assert!(listed_at < calls_at && calls_at < first_text, "{chunks:#?}");
    assert_eq!(r["text"], "done: slept 1500 ms|slept 1500 ms", "{r}");
    let last = &chunks[chunks.len() - 1]["chunk"];
    assert_eq!(last["usage"]["total_tokens"], 30, "{last}");
    assert_eq!(
        chunks[chunks.len() - 2]["chunk"]["choices"][0]["finish_reason"],
        "stop"
    );
    assert!(
        chunks
            .iter()
            .all(|c| c["chunk"]["choices"][0]["delta"]["tool_calls"].is_null()),
        "executed calls are not handed to the client as tool_calls"
    );

    // A tool error round on Chat.
    let r = sdk(&v1, &key, "stream-chat:fail").await;
    let chunks = r["chunks"].as_array().unwrap();
    let (_, fields) = chunk_with(chunks, "mcp_call_results");
    assert!(
        fields["mcp_call_results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["is_error"] == true),
        "{fields}"
    );
    assert!(
        r["text"]
            .as_str()
            .unwrap()
            .starts_with("saw: Tool call failed: kaput"),
        "{r}"
    );

    // The first chunk before the slow tool ends.
    let from = recorded(&llm).await.len();
    let r = sdk(&v1, &key, "stream-chat:slow").await;
    let chunks = r["chunks"].as_array().unwrap();
    let got = recorded(&llm).await;
    let rounds = since(&got, from, "slow");
    assert_eq!(rounds.len(), 2);
    let asked_again = rounds[1]["received_ms"].as_u64().unwrap();
    let (results_at, _) = chunk_with(chunks, "mcp_call_results");
    let first_at = chunks[0]["at_ms"].as_u64().unwrap();
    assert!(
        first_at < asked_again && first_at <= chunks[results_at]["at_ms"].as_u64().unwrap(),
        "first chunk at {first_at}, the tool's result reached the model at {asked_again}"
    );
    assert_eq!(r["text"], "slow done: slept 2000 ms", "{r}");

    // The rounds run out on Chat: the last calls as tool_calls deltas, the marker.
    let r = sdk(&v1, &key, "stream-chat:loop").await;
    let chunks = r["chunks"].as_array().unwrap();
    let handed: Vec<&Value> = chunks
        .iter()
        .filter(|c| !c["chunk"]["choices"][0]["delta"]["tool_calls"].is_null())
        .collect();
    assert_eq!(handed.len(), 1, "{chunks:#?}");
    assert_eq!(
        handed[0]["chunk"]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
        "demo-echo"
    );
    let last = &chunks[chunks.len() - 2]["chunk"]["choices"][0];
    assert_eq!(last["finish_reason"], "tool_calls", "{last}");
    assert_eq!(
        last["delta"]["provider_specific_fields"]["mcp_tool_rounds_exhausted"], true,
        "{last}"
    );

    // The provider fails mid-stream: the SDK raises the error chunk, nothing hangs.
    let r = sdk(&v1, &key, "stream-chat:midfail").await;
    assert!(
        r["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("broke off")),
        "{r}"
    );
}
