//! The SDK bridge end to end (docs/bridge.md): the `meshgate-bridge` crate over a real
//! rmcp session through Envoy and the built filter, its example program run as a child
//! process, and the same conversions over HTTP (`/mcp-rest/tools/list?format=`,
//! `/mcp-rest/tools/call` with a model's tool call) — with the permission and guardrail
//! path of every other tool call. The upstreams are the demo MCP servers (stdio and
//! streamable HTTP).
// The e2e crate is test code: a failed unwrap, expect or panic is a failed run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_bridge::{
    call_anthropic_tool, call_openai_tool, list_mcp_tools, load_mcp_tools, AnthropicToolUse,
    BridgeError, Format, OpenAiToolCall,
};
use meshgate_e2e::admin::{master, send};
use meshgate_e2e::http::Resp;
use meshgate_e2e::*;
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const CARD: &str = "4111 1111 1111 1111";

/// A guardrail that blocks card numbers and masks e-mail addresses on every call.
const GUARDRAILS: &str = "guardrails:\n  - guardrail_name: cards\n    litellm_params: {guardrail: meshgate, mode: pre_mcp_call, default_on: true, pii_entities_config: {CREDIT_CARD: BLOCK, EMAIL_ADDRESS: MASK}}\n";

/// The demo servers: `local` (stdio) and `web` (streamable HTTP, alias of `demo_http`).
async fn gateway() -> (Gateway, Proc) {
    let (http, addr) = demo_http("demo_http", &[]).await;
    let servers = format!(
        "{}  demo_http:\n    url: http://{addr}/mcp\n    transport: http\n    alias: web\n",
        demo_stdio_yaml("local", "")
    );
    let gw = Gateway::start_with(GatewayOptions {
        meshgate_yaml: GUARDRAILS.into(),
        ..GatewayOptions::new(servers)
    })
    .await;
    (gw, http)
}

async fn connect(gw: &Gateway, key: &str) -> RunningService<RoleClient, ()> {
    let config = StreamableHttpClientTransportConfig::with_uri(gw.url()).auth_header(key);
    ().serve(StreamableHttpClientTransport::from_config(config))
        .await
        .expect("connect through envoy")
}

/// Tools by name (`function.name` for OpenAI Chat, `name` otherwise).
fn by_name(tools: &[Value]) -> BTreeMap<String, Value> {
    tools
        .iter()
        .map(|t| {
            let name = t["function"]["name"].as_str().or(t["name"].as_str());
            (name.expect("a name").to_string(), t.clone())
        })
        .collect()
}

async fn new_key(gw: &Gateway, body: Value) -> String {
    master(gw, "POST", "/key/generate", body).await["key"]
        .as_str()
        .expect("key")
        .to_string()
}

async fn rest(gw: &Gateway, key: &str, method: &str, path: &str, body: &Value) -> Resp {
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    send(gw, key, method, path, &[], &text).await
}

#[tokio::test]
async fn rmcp_session_loads_converted_tools_and_runs_model_tool_calls_through_envoy() {
    let (gw, _http) = gateway().await;
    let client = connect(&gw, MASTER_KEY).await;

    // OpenAI Chat: every tool of both servers, prefixed, schemas normalized.
    let listed = list_mcp_tools(&client).await.expect("tools/list");
    let openai = load_mcp_tools(&client, Format::OpenAi).await.expect("load");
    assert_eq!(openai.len(), listed.len());
    let tools = by_name(&openai);
    for name in ["local-echo", "local-echo_args", "web-add", "web-whoami"] {
        assert!(tools.contains_key(name), "{name} in {:?}", tools.keys());
    }
    assert_eq!(
        tools["web-add"],
        json!({"type": "function", "function": {
            "name": "web-add", "description": "Adds two numbers.",
            "parameters": {"type": "object",
                           "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                           "required": ["a", "b"], "additionalProperties": false},
            "strict": false}})
    );
    // `{"type": "object"}` upstream → LiteLLM's normalized empty object.
    assert_eq!(
        tools["local-echo_args"]["function"]["parameters"],
        json!({"type": "object", "properties": {}, "additionalProperties": false})
    );

    // Responses and Anthropic shapes of the same tools.
    let responses = by_name(
        &load_mcp_tools(&client, Format::OpenAiResponses)
            .await
            .unwrap(),
    );
    assert_eq!(responses["web-add"]["type"], "function");
    assert_eq!(
        responses["web-add"]["parameters"]["required"],
        json!(["a", "b"])
    );
    let anthropic = by_name(&load_mcp_tools(&client, Format::Anthropic).await.unwrap());
    assert_eq!(
        anthropic["local-echo_args"],
        json!({"type": "custom", "name": "local-echo_args",
               "description": "Returns the arguments it received, as JSON text (what reached the upstream).",
               "input_schema": {"type": "object", "properties": {}}})
    );

    // The model's tool call, run on the session; the answer is the tool message.
    let call = OpenAiToolCall::new("web-add", r#"{"a": 2, "b": 3}"#).with_id("call_1");
    let message = call_openai_tool(&client, &call).await.expect("call");
    assert_eq!(
        serde_json::to_value(&message).unwrap(),
        json!({"role": "tool", "tool_call_id": "call_1", "content": "5"})
    );
    // Arguments as the upstream received them (through the stdio server).
    let call = OpenAiToolCall::new("local-echo_args", r#"{"q": "héllo 🚀", "n": [1, 2]}"#);
    let message = call_openai_tool(&client, &call).await.unwrap();
    let seen: Value = serde_json::from_str(&message.content).unwrap();
    assert_eq!(seen, json!({"q": "héllo 🚀", "n": [1, 2]}));
    // A tool that reports an error: its text reaches the model.
    let call = OpenAiToolCall::new("web-fail", r#"{"message": "disk full"}"#).with_id("c2");
    assert_eq!(
        call_openai_tool(&client, &call).await.unwrap().content,
        "disk full"
    );
    // Bad arguments are refused before anything is sent, naming the tool.
    let bad = OpenAiToolCall::new("web-add", "[2, 3]");
    let err = call_openai_tool(&client, &bad).await.unwrap_err();
    assert!(matches!(err, BridgeError::InvalidArguments { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "invalid arguments for tool 'web-add': expected a JSON object, found an array"
    );
    // The gateway's own refusal of an unknown tool is a result the model can read.
    let unknown = OpenAiToolCall::new("web-nosuch", "{}");
    let message = call_openai_tool(&client, &unknown).await.unwrap();
    assert!(message.content.contains("not found"), "{}", message.content);

    // Anthropic tool_use → tool_result, is_error carried over.
    let block = AnthropicToolUse::from_value(&json!({"type": "tool_use", "id": "toolu_1",
        "name": "local-fail", "input": {"message": "nope"}}))
    .unwrap();
    let result = call_anthropic_tool(&client, &block).await.unwrap();
    assert_eq!(
        serde_json::to_value(&result).unwrap(),
        json!({"type": "tool_result", "tool_use_id": "toolu_1",
               "content": [{"type": "text", "text": "nope"}], "is_error": true})
    );
    client.cancel().await.unwrap();

    // A virtual key sees only its server's tools through the bridge too.
    let key = new_key(
        &gw,
        json!({"object_permission": {"mcp_servers": ["local"]}}),
    )
    .await;
    let client = connect(&gw, &key).await;
    let names: Vec<String> = by_name(&load_mcp_tools(&client, Format::OpenAi).await.unwrap())
        .into_keys()
        .collect();
    assert!(
        !names.is_empty() && names.iter().all(|n| n.starts_with("local-")),
        "{names:?}"
    );
    let call = OpenAiToolCall::new("web-add", r#"{"a": 1, "b": 1}"#);
    let message = call_openai_tool(&client, &call).await.unwrap();
    assert!(
        message.content.contains("not allowed"),
        "{}",
        message.content
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn the_example_program_lists_openai_tools_and_calls_one_through_envoy() {
    let example = bin("examples/openai_tools");
    require(
        &example,
        "run `cargo build -p meshgate-bridge --example openai_tools`",
    );
    let (gw, _http) = gateway().await;
    let run = |args: Vec<String>| {
        let example = example.clone();
        async move {
            tokio::process::Command::new(example)
                .args(args)
                .env_remove("MCP_URL")
                .env_remove("MCP_API_KEY")
                .kill_on_drop(true)
                .output()
                .await
                .expect("run the example")
        }
    };
    let out = run(vec![
        gw.url(),
        "--key".into(),
        MASTER_KEY.into(),
        "--call".into(),
        "web-add".into(),
        "--arguments".into(),
        r#"{"a": 20, "b": 22}"#.into(),
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let (message, tools) = lines.split_last().expect("output");
    let tools = by_name(tools);
    assert!(tools.contains_key("local-echo") && tools.contains_key("web-add"));
    assert!(tools
        .values()
        .all(|t| t["type"] == "function" && t["function"]["parameters"]["type"] == "object"));
    assert_eq!(
        *message,
        json!({"role": "tool", "tool_call_id": "call_example_1", "content": "42"})
    );

    // Without a key the gateway refuses the session, and the example says so.
    let out = run(vec![gw.url()]).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("error: "),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Arguments that are not an object: refused by the bridge, exit status 1.
    let out = run(vec![
        gw.url(),
        "--key".into(),
        MASTER_KEY.into(),
        "--call".into(),
        "web-add".into(),
        "--arguments".into(),
        "{\"a\": ".into(),
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("invalid arguments for tool 'web-add': not valid JSON"),
        "{stderr}"
    );
}

#[tokio::test]
async fn mcp_rest_lists_tools_in_each_format_within_the_key_scope() {
    let (gw, _http) = gateway().await;
    let key = new_key(
        &gw,
        json!({"object_permission": {"mcp_servers": ["demo_http"],
                                     "mcp_tool_permissions": {"demo_http": ["add", "echo"]}}}),
    )
    .await;
    let list = |query: &'static str| {
        let (gw, key) = (&gw, key.clone());
        async move {
            rest(
                gw,
                &key,
                "GET",
                &format!("/mcp-rest/tools/list{query}"),
                &Value::Null,
            )
            .await
        }
    };

    let r = list("?format=openai").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["error"], Value::Null);
    let tools = by_name(v["tools"].as_array().unwrap());
    assert_eq!(
        tools.keys().cloned().collect::<Vec<_>>(),
        ["web-add", "web-echo"]
    );
    assert_eq!(
        tools["web-echo"],
        json!({"type": "function", "function": {
            "name": "web-echo", "description": "Returns the text it is given.",
            "parameters": {"type": "object", "properties": {"text": {"type": "string"}},
                           "required": ["text"], "additionalProperties": false},
            "strict": false}})
    );

    let r = list("?format=anthropic&server_id=web").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let tools = by_name(r.json()["tools"].as_array().unwrap());
    assert_eq!(
        tools["web-add"],
        json!({"type": "custom", "name": "web-add", "description": "Adds two numbers.",
               "input_schema": {"type": "object",
                                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                                "required": ["a", "b"]}})
    );
    let r = list("?format=responses").await;
    let tools = by_name(r.json()["tools"].as_array().unwrap());
    assert_eq!(
        tools["web-add"]["parameters"]["additionalProperties"],
        false
    );
    assert_eq!(tools["web-add"]["strict"], false);

    // `format=mcp` (and no format) is LiteLLM's shape: bare names with mcp_info.
    for query in ["?format=mcp", ""] {
        let r = list(query).await;
        let tools = by_name(r.json()["tools"].as_array().unwrap());
        assert_eq!(tools.keys().cloned().collect::<Vec<_>>(), ["add", "echo"]);
        assert_eq!(tools["add"]["mcp_info"]["server_name"], "demo_http");
    }

    // An unknown format is a clear 400, in the list envelope, before anything is listed.
    let r = list("?format=gemini").await;
    assert_eq!(r.status, 400, "{}", r.text());
    let v = r.json();
    assert_eq!(v["error"], "invalid_request");
    assert_eq!(v["field"], "format");
    assert_eq!(
        v["message"],
        "unknown tool format 'gemini': expected one of mcp, openai, responses, anthropic"
    );
    assert_eq!(v["tools"], json!([]));
    // A server outside the key's scope stays refused in every format.
    let r = list("?format=openai&server_id=local").await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["error"], "access_denied");
}

#[tokio::test]
async fn mcp_rest_runs_model_tool_calls_and_answers_in_their_shape() {
    let (gw, _http) = gateway().await;
    let call = |key: &str, body: Value| {
        let (gw, key) = (&gw, key.to_string());
        async move { rest(gw, &key, "POST", "/mcp-rest/tools/call", &body).await }
    };
    let ok = |r: Resp| {
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    };

    // OpenAI Chat tool call, routed by its prefixed name (no server_id).
    let r = call(
        MASTER_KEY,
        json!({"id": "call_1", "type": "function",
               "function": {"name": "web-add", "arguments": "{\"a\": 2, \"b\": 3}"}}),
    )
    .await;
    assert_eq!(
        ok(r),
        json!({"role": "tool", "tool_call_id": "call_1", "content": "5"})
    );
    // `{"type": "function", "function"}` without an id; `{"id", "function"}` without type.
    let r = call(
        MASTER_KEY,
        json!({"type": "function", "function": {"name": "local-echo", "arguments": "{\"text\": \"hi\"}"}}),
    )
    .await;
    assert_eq!(ok(r), json!({"role": "tool", "content": "hi"}));
    let r = call(
        MASTER_KEY,
        json!({"id": "c3", "function": {"name": "echo", "arguments": "{\"text\": \"via server_id\"}"},
               "server_id": "web"}),
    )
    .await;
    assert_eq!(
        ok(r),
        json!({"role": "tool", "tool_call_id": "c3", "content": "via server_id"})
    );
    // Responses function_call → function_call_output; Anthropic tool_use → tool_result.
    let r = call(
        MASTER_KEY,
        json!({"type": "function_call", "call_id": "fc_1", "name": "web-add", "arguments": "{\"a\": 1, \"b\": 1}"}),
    )
    .await;
    assert_eq!(
        ok(r),
        json!({"type": "function_call_output", "call_id": "fc_1", "output": "2"})
    );
    let r = call(
        MASTER_KEY,
        json!({"type": "tool_use", "id": "toolu_1", "name": "web-fail", "input": {"message": "broken"}}),
    )
    .await;
    assert_eq!(
        ok(r),
        json!({"type": "tool_result", "tool_use_id": "toolu_1",
               "content": [{"type": "text", "text": "broken"}], "is_error": true})
    );
    // LiteLLM's own shape still answers the raw CallToolResult.
    let r = call(
        MASTER_KEY,
        json!({"server_id": "web", "name": "add", "arguments": {"a": 1, "b": 2}}),
    )
    .await;
    assert_eq!(ok(r)["structuredContent"]["sum"], 3.0);

    // Arguments that are not a JSON object: 400 naming the tool.
    for (args, why) in [
        (json!("{\"a\": "), "not valid JSON"),
        (json!("[1, 2]"), "expected a JSON object, found an array"),
    ] {
        let r = call(
            MASTER_KEY,
            json!({"id": "c", "function": {"name": "web-add", "arguments": args}}),
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.text());
        let v = r.json();
        assert_eq!(v["field"], "arguments");
        let message = v["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("invalid arguments for tool 'web-add': {why}")),
            "{message}"
        );
    }
    let r = call(MASTER_KEY, json!({"function": {"arguments": "{}"}})).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        r.json()["message"],
        "invalid tool call: `function.name` is missing"
    );

    // The permission path of every call: scope, tool permissions, unknown tools.
    let key = new_key(
        &gw,
        json!({"object_permission": {"mcp_servers": ["demo_http"],
                                     "mcp_tool_permissions": {"demo_http": ["add"]}}}),
    )
    .await;
    let openai = |name: &str| json!({"id": "c", "function": {"name": name, "arguments": "{}"}});
    for (name, status, code) in [
        ("local-echo", 403, "access_denied"),
        ("web-echo", 403, "tool_not_allowed"),
        ("web-nosuch", 404, "tool_not_found"),
    ] {
        let r = call(&key, openai(name)).await;
        assert_eq!(r.status, status, "{name}: {}", r.text());
        assert_eq!(r.json()["error"], code, "{name}: {}", r.text());
    }
    let r = call(&key, openai("web-add")).await;
    assert_eq!(ok(r)["content"], "0");

    // Guardrails see the arguments inside the JSON text: a card is blocked before the
    // upstream, an e-mail address reaches it masked.
    let args = json!({"card": CARD}).to_string();
    let r = call(
        MASTER_KEY,
        json!({"id": "c", "function": {"name": "local-echo_args", "arguments": args}}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"], "guardrail_violation");
    assert!(!r.text().contains("4111"), "{}", r.text());
    let args = json!({"mail": "jane.doe@corp.example.com"}).to_string();
    let r = call(
        MASTER_KEY,
        json!({"id": "c", "function": {"name": "local-echo_args", "arguments": args}}),
    )
    .await;
    let seen: Value = serde_json::from_str(ok(r)["content"].as_str().unwrap()).unwrap();
    assert_eq!(seen, json!({"mail": "<EMAIL_ADDRESS>"}));
    let r = call(
        MASTER_KEY,
        json!({"type": "tool_use", "id": "t", "name": "local-echo_args", "input": {"card": CARD}}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"], "guardrail_violation");
}
