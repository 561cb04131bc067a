//! `/v1/responses` for every provider and `previous_response_id` kept by the gateway
//! (issue 15) end to end: real Envoy with the built filter, the sidecar, the demo MCP
//! server, the official OpenAI Python SDK as the client
//! (tests/python/openai_responses_client.py); the models are the only scripted parts
//! (tests/python/scripted_llm.py behind an OpenAI-native and a chat-only entry,
//! tests/python/scripted_anthropic.py), and they record what they got.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_e2e::admin::master;
use meshgate_e2e::llm::{error_of, recorded, scripted_model};
use meshgate_e2e::*;
use serde_json::{json, Value};
use std::process::Stdio;

struct Setup {
    _procs: Vec<Proc>,
    /// scripted_llm.py (the `native` and `chatonly` models) and scripted_anthropic.py.
    llm: String,
    anthropic: String,
    gw: Gateway,
    /// Two keys of the same rights: A's answers must stay A's.
    a: String,
    b: String,
}

async fn start(database: Database) -> Setup {
    start_with(database, "").await
}

/// `meshgate` lines (indented by two) go before the harness's own.
async fn start_with(database: Database, meshgate: &str) -> Setup {
    let (llm_proc, llm) = scripted_model("scripted_llm.py").await;
    let (anthropic_proc, anthropic) = scripted_model("scripted_anthropic.py").await;
    let (demo_proc, demo) = demo_http("demo", &[]).await;
    let servers = format!("  demo:\n    url: http://{demo}/mcp\n    transport: http\n");
    let mut opts = GatewayOptions::new(servers);
    opts.database = database;
    opts.meshgate_yaml = format!(
        "{meshgate}  max_tool_rounds: 3\nmodel_list:\n\
         \x20 - model_name: native\n    litellm_params: {{model: openai/scripted-1, api_base: 'http://{llm}/v1', api_key: sk-native}}\n\
         \x20 - model_name: chatonly\n    litellm_params: {{model: hosted_vllm/scripted-1, api_base: 'http://{llm}/v1', api_key: sk-chat}}\n\
         \x20 - model_name: forcedchat\n    litellm_params: {{model: openai/scripted-1, api_base: 'http://{llm}/v1'}}\n    model_info: {{supported_endpoints: [/v1/chat/completions]}}\n\
         \x20 - model_name: claude\n    litellm_params: {{model: anthropic/claude-scripted-1, api_base: 'http://{anthropic}', api_key: sk-ant}}\n"
    );
    let gw = Gateway::start_with(opts).await;
    let mut keys = Vec::new();
    for _ in 0..2 {
        let made = master(
            &gw,
            "POST",
            "/key/generate",
            json!({"object_permission": {"mcp_servers": ["demo"]}}),
        )
        .await;
        keys.push(made["key"].as_str().expect("a key").to_string());
    }
    Setup {
        _procs: vec![llm_proc, anthropic_proc, demo_proc],
        llm,
        anthropic,
        gw,
        b: keys.pop().unwrap(),
        a: keys.pop().unwrap(),
    }
}

/// One SDK call (`spec` as tests/python/openai_responses_client.py reads it).
async fn sdk(s: &Setup, key: &str, spec: Value) -> Value {
    let script = repo_root().join("tests/python/openai_responses_client.py");
    let out = python_with_mcp()
        .arg(script)
        .args([
            format!("{}/v1", s.gw.base()),
            key.to_string(),
            spec.to_string(),
        ])
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run the OpenAI SDK client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{spec}: the SDK client failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{spec}: {e}: {stdout}"))
}

fn kinds_of(v: &Value) -> Vec<String> {
    v["output"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|i| i["type"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The message texts (strings or text parts) of a chat request's `messages`, with roles.
fn chat_turns(body: &Value) -> Vec<(String, String)> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let text = match &m["content"] {
                Value::String(s) => s.clone(),
                Value::Array(parts) => parts
                    .iter()
                    .filter_map(|p| p["text"].as_str().or_else(|| p["content"].as_str()))
                    .collect::<Vec<_>>()
                    .join(""),
                _ => String::new(),
            };
            (m["role"].as_str().unwrap_or("").to_string(), text)
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test]
async fn a_chat_only_model_answers_the_responses_api_plain_streamed_and_in_the_tool_loop() {
    let s = start(Database::Sqlite).await;

    // Plain: the provider gets a chat request, the SDK a response.
    let r = sdk(
        &s,
        &s.a,
        json!({"call": "create", "model": "chatonly", "input": "hello"}),
    )
    .await;
    assert_eq!(r["output_text"], "Hello from the scripted model.", "{r}");
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["usage"]["input_tokens"], 10, "{r}");
    assert!(
        r["id"].as_str().unwrap().starts_with("resp_mg"),
        "the gateway's id: {r}"
    );
    let got = recorded(&s.llm).await;
    let last = got.last().unwrap();
    assert_eq!(last["path"], "/v1/chat/completions", "{last}");
    assert_eq!(last["body"]["model"], "scripted-1");
    assert_eq!(
        last["body"]["messages"],
        json!([{"role": "user", "content": "hello"}])
    );
    assert!(last["body"].get("input").is_none(), "{last}");

    // An `openai/` entry whose `model_info.supported_endpoints` leaves out
    // `/v1/responses` is bridged too (LiteLLM's opt-out); the native one is not.
    let r = sdk(
        &s,
        &s.a,
        json!({"call": "create", "model": "forcedchat", "input": "hello"}),
    )
    .await;
    assert_eq!(r["output_text"], "Hello from the scripted model.", "{r}");
    assert_eq!(
        recorded(&s.llm).await.last().unwrap()["path"],
        "/v1/chat/completions"
    );
    let r = sdk(
        &s,
        &s.a,
        json!({"call": "create", "model": "native", "input": "hello"}),
    )
    .await;
    assert_eq!(r["output_text"], "Hello from the scripted model.", "{r}");
    assert_eq!(
        recorded(&s.llm).await.last().unwrap()["path"],
        "/v1/responses"
    );

    // Streamed: the SDK's stream helper rebuilds the response from the translated events.
    let r = sdk(
        &s,
        &s.a,
        json!({"call": "stream", "model": "chatonly", "input": "hello"}),
    )
    .await;
    assert_eq!(r["output_text"], "Hello from the scripted model.", "{r}");
    let kinds: Vec<&str> = r["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"response.created"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"response.completed"), "{kinds:?}");
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == "response.output_text.delta")
            .count(),
        4,
        "each chunk's text as it came: {kinds:?}"
    );
    assert_eq!(
        r["usage"]["total_tokens"], 15,
        "usage from the last chunk: {r}"
    );
    let last = recorded(&s.llm).await.last().unwrap().clone();
    assert_eq!(last["path"], "/v1/chat/completions");
    assert_eq!(last["body"]["stream"], true);
    assert_eq!(last["body"]["stream_options"]["include_usage"], true);

    // The MCP tool loop, not streamed: two parallel calls in one chat round.
    let before = recorded(&s.llm).await.len();
    let r = sdk(
        &s,
        &s.a,
        json!({"call": "create", "model": "chatonly", "input": "parallel", "mcp": true}),
    )
    .await;
    assert_eq!(
        kinds_of(&r),
        ["mcp_list_tools", "mcp_call", "mcp_call", "message"],
        "{r}"
    );
    assert!(
        r["output_text"].as_str().unwrap().starts_with("done: "),
        "{r}"
    );
    assert_eq!(r["output"][1]["status"], "completed", "{r}");
    let got = recorded(&s.llm).await;
    let rounds = &got[before..];
    assert_eq!(rounds.len(), 2, "{rounds:?}");
    assert!(rounds.iter().all(|r| r["path"] == "/v1/chat/completions"));
    let tools = rounds[0]["body"]["tools"].as_array().unwrap();
    assert!(
        tools.iter().any(|t| t["function"]["name"] == "demo-sleep"),
        "the gateway's tools as chat functions: {tools:?}"
    );
    let second = &rounds[1]["body"]["messages"];
    assert_eq!(second[1]["role"], "assistant");
    assert_eq!(
        second[1]["tool_calls"].as_array().unwrap().len(),
        2,
        "{second}"
    );
    assert_eq!(second[2]["role"], "tool");

    // The tool loop streamed, with a failing call and an unknown tool.
    let r = sdk(
        &s,
        &s.a,
        json!({"call": "stream", "model": "chatonly", "input": "fail", "mcp": true}),
    )
    .await;
    assert_eq!(
        kinds_of(&r),
        ["mcp_list_tools", "mcp_call", "mcp_call", "message"],
        "{r}"
    );
    assert_eq!(r["output"][1]["status"], "failed", "{r}");
    assert!(
        r["output_text"].as_str().unwrap().starts_with("saw: "),
        "{r}"
    );
    let kinds = r["kinds"].to_string();
    assert!(
        kinds.contains("response.mcp_call.failed")
            && kinds.contains("response.mcp_call_arguments.delta"),
        "{kinds}"
    );
    assert!(r["id"].as_str().unwrap().starts_with("resp_mg"), "{r}");
}

async fn previous_response_id_on(database: Database) {
    let s = start(database).await;
    let create = |model: &str, input: &str, prev: Option<&str>| json!({"call": "create", "model": model, "input": input, "previous_response_id": prev});

    // OpenAI-native: the provider gets the whole conversation, never the gateway's id.
    let first = sdk(&s, &s.a, create("native", "hello", None)).await;
    let id = first["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("resp_mg"), "{first}");
    let next = sdk(&s, &s.a, create("native", "and again?", Some(&id))).await;
    assert_eq!(
        next["output_text"], "Hello from the scripted model.",
        "{next}"
    );
    let last = recorded(&s.llm).await.last().unwrap().clone();
    assert_eq!(last["path"], "/v1/responses");
    assert!(last["body"].get("previous_response_id").is_none(), "{last}");
    let input = last["body"]["input"].as_array().unwrap().clone();
    assert_eq!(input.len(), 3, "{input:?}");
    assert_eq!(input[0]["content"], "hello");
    assert_eq!(
        input[1]["content"][0]["text"],
        "Hello from the scripted model."
    );
    assert_eq!(input[2]["content"], "and again?");
    // A chain: the answer to the continuation continues too, with every turn.
    let next_id = next["id"].as_str().unwrap().to_string();
    assert_ne!(next_id, id);
    sdk(&s, &s.a, create("native", "third", Some(&next_id))).await;
    let last = recorded(&s.llm).await.last().unwrap().clone();
    assert_eq!(last["body"]["input"].as_array().unwrap().len(), 5, "{last}");

    // Streamed from an OpenAI-native model: every event carries the gateway's id (the
    // SDK's stream helper checks they agree), and the streamed answer is kept.
    let spec = json!({"call": "stream", "model": "native", "input": "fourth",
                      "previous_response_id": next_id});
    let streamed = sdk(&s, &s.a, spec).await;
    assert_eq!(
        streamed["output_text"], "Hello from the scripted model.",
        "{streamed}"
    );
    let streamed_id = streamed["id"].as_str().unwrap().to_string();
    assert!(streamed_id.starts_with("resp_mg"), "{streamed}");
    sdk(&s, &s.a, create("native", "fifth", Some(&streamed_id))).await;
    let last = recorded(&s.llm).await.last().unwrap().clone();
    assert_eq!(last["body"]["input"].as_array().unwrap().len(), 7, "{last}");

    // An id the gateway did not give out, on an OpenAI-native model: the provider's own,
    // passed through unchanged.
    sdk(
        &s,
        &s.a,
        create("native", "hello", Some("resp_fromopenai1")),
    )
    .await;
    let last = recorded(&s.llm).await.last().unwrap().clone();
    assert_eq!(
        last["body"]["previous_response_id"], "resp_fromopenai1",
        "{last}"
    );

    // A chat-only model, streamed: the conversation as chat messages.
    let first = sdk(&s, &s.a, create("chatonly", "hello", None)).await;
    let id = first["id"].as_str().unwrap().to_string();
    let spec = json!({"call": "stream", "model": "chatonly", "input": "and again?",
                      "previous_response_id": id});
    let next = sdk(&s, &s.a, spec).await;
    assert_eq!(
        next["output_text"], "Hello from the scripted model.",
        "{next}"
    );
    let streamed_id = next["id"].as_str().unwrap().to_string();
    assert!(streamed_id.starts_with("resp_mg"), "{next}");
    let last = recorded(&s.llm).await.last().unwrap().clone();
    assert_eq!(last["path"], "/v1/chat/completions");
    assert_eq!(
        chat_turns(&last["body"]),
        pairs(&[
            ("user", "hello"),
            ("assistant", "Hello from the scripted model."),
            ("user", "and again?")
        ])
    );
    // A streamed answer is kept too.
    sdk(&s, &s.a, create("chatonly", "more", Some(&streamed_id))).await;
    let last = recorded(&s.llm).await.last().unwrap().clone();
    assert_eq!(chat_turns(&last["body"]).len(), 5, "{last}");

    // An Anthropic model.
    let first = sdk(&s, &s.a, create("claude", "hello", None)).await;
    assert_eq!(
        first["output_text"], "Hello from scripted Claude.",
        "{first}"
    );
    let id = first["id"].as_str().unwrap().to_string();
    let next = sdk(&s, &s.a, create("claude", "and again?", Some(&id))).await;
    assert_eq!(next["status"], "completed", "{next}");
    let last = recorded(&s.anthropic).await.last().unwrap().clone();
    assert_eq!(last["path"], "/v1/messages");
    assert_eq!(
        chat_turns(&last["body"]),
        pairs(&[
            ("user", "hello"),
            ("assistant", "Hello from scripted Claude."),
            ("user", "and again?")
        ])
    );

    // A tool-loop answer continues with its calls as function calls and their outputs.
    let looped = sdk(
        &s,
        &s.a,
        json!({"call": "create", "model": "chatonly", "input": "parallel", "mcp": true}),
    )
    .await;
    let id = looped["id"].as_str().unwrap().to_string();
    sdk(&s, &s.a, create("chatonly", "thanks", Some(&id))).await;
    let last = recorded(&s.llm).await.last().unwrap().clone();
    let messages = last["body"]["messages"].as_array().unwrap().clone();
    assert_eq!(
        messages.len(),
        6,
        "user, calls, 2 results, answer, user: {messages:?}"
    );
    assert_eq!(messages[1]["tool_calls"].as_array().unwrap().len(), 2);
    assert_eq!(messages[2]["role"], "tool");
    assert_eq!(
        messages[2]["tool_call_id"],
        messages[1]["tool_calls"][0]["id"]
    );
    assert!(
        messages[2]["content"].as_str().unwrap().contains("slept"),
        "{messages:?}"
    );
    assert_eq!(messages[5]["content"], "thanks");
    // ... and a streamed loop's answer, with an OpenAI-native model.
    let looped = sdk(
        &s,
        &s.a,
        json!({"call": "stream", "model": "native", "input": "fail", "mcp": true}),
    )
    .await;
    let id = looped["id"].as_str().unwrap().to_string();
    sdk(&s, &s.a, create("native", "thanks", Some(&id))).await;
    let last = recorded(&s.llm).await.last().unwrap().clone();
    let types: Vec<&str> = last["body"]["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap_or("message"))
        .collect();
    assert_eq!(
        types,
        [
            "message",
            "function_call",
            "function_call",
            "function_call_output",
            "function_call_output",
            "message",
            "message"
        ],
        "no mcp_list_tools, each mcp_call as a call and its output: {last}"
    );

    // Attacker: key B names A's id. The same 404 as an id that never existed; the
    // provider is not asked.
    let count = recorded(&s.llm).await.len();
    for model in ["native", "chatonly", "claude"] {
        for bad in [id.as_str(), "resp_mg0123456789abcdef"] {
            let e = sdk(&s, &s.b, create(model, "hello", Some(bad))).await;
            assert_eq!(e["status"], 404, "{model} {bad}: {e}");
            let err = error_of(&e);
            assert_eq!(
                err["message"],
                format!("Previous response with id '{bad}' not found."),
                "{e}"
            );
            assert_eq!(err["param"], "previous_response_id", "{e}");
        }
    }
    // Another provider's id cannot be continued by a model whose provider keeps none.
    let e = sdk(
        &s,
        &s.a,
        create("chatonly", "hello", Some("resp_fromopenai1")),
    )
    .await;
    assert_eq!(e["status"], 404, "{e}");
    assert_eq!(recorded(&s.llm).await.len(), count, "no provider request");
    // A's id still works for A.
    let ok = sdk(&s, &s.a, create("chatonly", "hello", Some(&id))).await;
    assert_eq!(ok["status"], "completed", "{ok}");

    // `store: false`: not kept, so not continued.
    let spec = json!({"call": "create", "model": "chatonly", "input": "hello", "store": false});
    let unkept = sdk(&s, &s.a, spec).await;
    let id = unkept["id"].as_str().unwrap().to_string();
    assert!(!id.starts_with("resp_mg"), "{unkept}");
    let e = sdk(&s, &s.a, create("chatonly", "hello", Some(&id))).await;
    assert_eq!(e["status"], 404, "{e}");
}

#[tokio::test]
async fn previous_response_id_continues_on_every_provider_for_its_key_only_sqlite() {
    previous_response_id_on(Database::Sqlite).await;
}

#[tokio::test]
async fn previous_response_id_continues_on_every_provider_for_its_key_only_postgres() {
    previous_response_id_on(Database::Postgres).await;
}

#[tokio::test]
async fn an_answer_past_the_size_limit_goes_out_but_is_not_kept() {
    // Kept rows are bounded by meshgate.max_body_bytes (here its least, 1 KiB).
    let s = start_with(Database::Sqlite, "  max_body_bytes: 1024\n").await;
    let create = |input: &str, prev: Option<&str>| json!({"call": "create", "model": "chatonly", "input": input, "previous_response_id": prev});
    let small = sdk(&s, &s.a, create("hello", None)).await;
    let id = small["id"].as_str().unwrap().to_string();
    let next = sdk(&s, &s.a, create("again", Some(&id))).await;
    assert_eq!(
        next["status"], "completed",
        "a small answer is kept: {next}"
    );
    // The scripted model repeats an unscripted text: 600 characters in and out.
    let long = "x".repeat(600);
    let big = sdk(&s, &s.a, create(&long, None)).await;
    assert_eq!(
        big["output_text"],
        format!("unscripted: {long}"),
        "it still goes out"
    );
    let id = big["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("resp_mg"), "{big}");
    let e = sdk(&s, &s.a, create("again", Some(&id))).await;
    assert_eq!(e["status"], 404, "not kept, so not continued: {e}");
}
