//! Upstreams that speak only MCP 2026-07-28 (the demo server with `--modern`), through
//! real Envoy + the sidecar: the gateway finds out when `initialize` is refused and
//! `server/discover` lists 2026-07-28, then talks to them statelessly (headers, `_meta`,
//! no sessions), answers MRTR `input_required` results by relaying the input requests
//! to the client, and serves 2025-era and 2026 clients alike.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_e2e::http::{request, Resp};
use meshgate_e2e::mcp::RawMcp;
use meshgate_e2e::*;
use serde_json::{json, Value};

const MODERN: &str = "2026-07-28";

fn http_server_yaml(name: &str, addr: &str) -> String {
    format!("  {name}:\n    url: http://{addr}/mcp\n    transport: http\n")
}

async fn recorded(addr: &str) -> Vec<Value> {
    let r = request("GET", &format!("http://{addr}/__requests"), &[], "")
        .await
        .expect("recorded requests");
    r.json().as_array().cloned().unwrap_or_default()
}

fn tool_names(response: &Value) -> Vec<String> {
    response["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect()
}

fn result_text(response: &Value) -> String {
    response["result"]["content"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|i| i["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// The last JSON message of an event-stream body.
fn last_event(text: &str) -> Value {
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .rfind(|d| !d.is_empty())
        .map(|d| serde_json::from_str(d).expect("event data is JSON"))
        .expect("an event")
}

/// POSTs a 2026-07-28 request as a 2026 client sends it.
async fn modern_post(gw: &Gateway, id: i64, method: &str, mut params: Value) -> Resp {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {"sampling": {}},
        "io.modelcontextprotocol/clientInfo": {"name": "meshgate-upstream-modern-test", "version": "1"},
    });
    let name = params["name"].as_str().unwrap_or_default().to_string();
    let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    let auth = format!("Bearer {MASTER_KEY}");
    let mut headers = vec![
        ("x-litellm-api-key", auth.as_str()),
        ("mcp-protocol-version", MODERN),
        ("mcp-method", method),
    ];
    if method == "tools/call" {
        headers.push(("mcp-name", name.as_str()));
    }
    request("POST", &gw.url(), &headers, &body.to_string())
        .await
        .unwrap_or_else(|e| panic!("POST /mcp: {e}"))
}

fn body_of(r: &Resp) -> Value {
    if r.header("content-type") == Some("text/event-stream") {
        last_event(&r.text())
    } else {
        r.json()
    }
}

#[tokio::test]
async fn a_2025_client_reaches_a_2026_only_upstream_beside_a_2025_one() {
    let (_neo, neo) = demo_http("neo", &["--modern"]).await;
    let (_old, old) = demo_http("old", &[]).await;
    let servers = format!(
        "{}{}",
        http_server_yaml("neo", &neo),
        http_server_yaml("old", &old)
    );
    let gw = Gateway::start(servers).await;
    let mcp = RawMcp::connect(&gw.url(), MASTER_KEY, json!({"sampling": {}})).await;

    let names = tool_names(&mcp.call("tools/list", json!({})).await);
    for expected in ["neo-echo", "neo-ask", "neo-add", "old-echo", "old-add"] {
        assert!(
            names.contains(&expected.to_string()),
            "{expected}: {names:?}"
        );
    }
    let r = mcp
        .call(
            "tools/call",
            json!({"name": "neo-echo", "arguments": {"text": "hello 2026"}}),
        )
        .await;
    assert_eq!(result_text(&r), "hello 2026", "{r}");
    assert!(
        r["result"].get("resultType").is_none(),
        "a 2025 client gets a 2025 result: {r}"
    );
    assert!(r["result"].get("_meta").is_none(), "{r}");
    let r = mcp
        .call(
            "tools/call",
            json!({"name": "neo-add", "arguments": {"a": 2, "b": 3}}),
        )
        .await;
    assert_eq!(r["result"]["structuredContent"]["sum"], 5.0, "{r}");
    let r = mcp
        .call(
            "tools/call",
            json!({"name": "old-echo", "arguments": {"text": "hello 2025"}}),
        )
        .await;
    assert_eq!(result_text(&r), "hello 2025", "{r}");
    // Lists the 2026 server lacks (prompts) and methods it no longer has.
    let r = mcp.call("prompts/list", json!({})).await;
    assert!(r["result"]["prompts"].is_array(), "{r}");
    let r = mcp.call("logging/setLevel", json!({"level": "info"})).await;
    assert!(r.get("result").is_some(), "{r}");

    let log = recorded(&neo).await;
    let discovered = log
        .iter()
        .position(|r| r["rpc_method"] == "server/discover")
        .unwrap_or_else(|| panic!("no server/discover: {log:?}"));
    assert!(
        log[discovered..]
            .iter()
            .all(|r| r["rpc_method"] != "initialize"),
        "initialize after detection: {log:?}"
    );
    let calls: Vec<&Value> = log
        .iter()
        .filter(|r| r["rpc_method"] == "tools/call")
        .collect();
    assert!(calls.len() >= 2, "{log:?}");
    for c in &calls {
        let h = &c["headers"];
        assert_eq!(h["mcp-protocol-version"], MODERN, "{c}");
        assert_eq!(h["mcp-method"], "tools/call", "{c}");
        assert_eq!(h["mcp-name"], c["tool"], "{c}");
        assert!(h.get("mcp-session-id").is_none(), "{c}");
    }
    assert!(
        log.iter()
            .all(|r| r["rpc_method"] != "logging/setLevel" && r["rpc_method"] != "ping"),
        "removed methods reached the 2026 server: {log:?}"
    );
    // The 2025 upstream still has its session.
    let old_log = recorded(&old).await;
    assert!(old_log.iter().any(|r| r["rpc_method"] == "initialize"));
}

#[tokio::test]
async fn mrtr_input_requests_are_relayed_to_a_2025_client() {
    let (_neo, neo) = demo_http("neo", &["--modern"]).await;
    let gw = Gateway::start(http_server_yaml("neo", &neo)).await;
    let mcp = RawMcp::connect(&gw.url(), MASTER_KEY, json!({"sampling": {}})).await;

    let mut events = mcp
        .start(
            json!(41),
            "tools/call",
            json!({"name": "neo-ask", "arguments": {"question": "what is two and two?"}}),
        )
        .await;
    assert!(
        events.content_type.starts_with("text/event-stream"),
        "a relayed request needs a stream, got {}",
        events.content_type
    );
    let asked = events.next().await.expect("the relayed sampling request");
    assert_eq!(asked["method"], "sampling/createMessage", "{asked}");
    assert_eq!(
        asked["params"]["messages"][0]["content"]["text"], "what is two and two?",
        "{asked}"
    );
    let answer = json!({"model": "scripted-model", "role": "assistant",
                        "content": {"type": "text", "text": "four"}});
    assert_eq!(mcp.answer(&asked["id"], answer).await, 202);
    let response = loop {
        let m = events.next().await.expect("the response");
        if m.get("method").is_none() {
            break m;
        }
    };
    assert_eq!(response["id"], 41);
    assert_eq!(result_text(&response), "the model said: four", "{response}");
    assert!(response["result"].get("resultType").is_none(), "{response}");
    let asks = recorded(&neo)
        .await
        .into_iter()
        .filter(|r| r["tool"] == "ask")
        .count();
    assert_eq!(asks, 2, "the call and its retry with inputResponses");
}

#[tokio::test]
async fn a_2026_client_reaches_a_2026_only_upstream() {
    let (_neo, neo) = demo_http("neo", &["--modern"]).await;
    let gw = Gateway::start(http_server_yaml("neo", &neo)).await;

    let r = modern_post(&gw, 1, "tools/list", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let names = tool_names(&body_of(&r));
    assert!(names.contains(&"neo-echo".to_string()), "{names:?}");

    let r = modern_post(
        &gw,
        2,
        "tools/call",
        json!({"name": "neo-echo", "arguments": {"text": "both modern"}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = body_of(&r);
    assert_eq!(result_text(&v), "both modern", "{v}");
    assert_eq!(v["result"]["resultType"], "complete", "{v}");

    // MRTR end to end: the upstream's input request reaches the 2026 client as an
    // `input_required` result of the gateway's, and the retry completes the call.
    let params = json!({"name": "neo-ask", "arguments": {"question": "colour of the sky?"}});
    let r = modern_post(&gw, 3, "tools/call", params.clone()).await;
    let v = body_of(&r);
    assert_eq!(v["result"]["resultType"], "input_required", "{v}");
    let state = v["result"]["requestState"]
        .as_str()
        .expect("requestState")
        .to_string();
    let (key, asked) = v["result"]["inputRequests"]
        .as_object()
        .and_then(|m| m.iter().next())
        .map(|(k, a)| (k.clone(), a.clone()))
        .expect("one input request");
    assert_eq!(asked["method"], "sampling/createMessage", "{v}");
    let mut retry = params;
    retry["requestState"] = json!(state);
    retry["inputResponses"] = json!({key: {"model": "m", "role": "assistant",
                                           "content": {"type": "text", "text": "blue"}}});
    let r = modern_post(&gw, 4, "tools/call", retry).await;
    let v = body_of(&r);
    assert_eq!(result_text(&v), "the model said: blue", "{v}");
    assert_eq!(v["result"]["resultType"], "complete", "{v}");

    let log = recorded(&neo).await;
    assert!(
        log.iter()
            .filter(|r| r["rpc_method"] == "tools/call")
            .all(|r| r["headers"]["mcp-protocol-version"] == MODERN),
        "{log:?}"
    );
}
