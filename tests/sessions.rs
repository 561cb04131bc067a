//! Client sessions are self-contained: the encrypted id carries the upstream sessions
//! opened for it, so a second sidecar replica with the same key continues the session
//! — same upstream session, no new initialize — and anything else is a 404.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_e2e::http::{post, request};
use meshgate_e2e::mcp::RawMcp;
use meshgate_e2e::*;
use serde_json::{json, Value};
use std::time::Duration;

async fn upstream_log(addr: &str) -> Vec<Value> {
    let recent = request("GET", &format!("http://{addr}/__requests"), &[], "")
        .await
        .expect("demo reachable")
        .json();
    recent.as_array().cloned().unwrap_or_default()
}

fn calls<'a>(log: &'a [Value], rpc_method: &str) -> Vec<&'a Value> {
    log.iter()
        .filter(|r| r["rpc_method"] == rpc_method)
        .collect()
}

#[tokio::test]
async fn a_second_replica_continues_a_session_begun_on_the_first() {
    let (_upstream, addr) = demo_http("web", &[]).await;
    let servers = format!("  web:\n    url: http://{addr}/mcp\n    transport: http\n");
    let gw = Gateway::start(servers.clone()).await;

    // Replica B: same secret, same document, its own data; no filter talks to it.
    let dir = TempDir::new("replica");
    let config = dir.0.join("gateway.yaml");
    std::fs::write(&config, gateway_document(&GatewayOptions::new(servers))).expect("write");
    let port = free_port();
    let _replica = start_replica(port, &dir.0, &config);
    wait_for_port(port, Duration::from_secs(20)).await;

    // The session begins on replica A, through Envoy; A opens the upstream session.
    let mcp = RawMcp::connect(&gw.url(), MASTER_KEY, json!({})).await;
    let token = mcp.session.clone().expect("session id");
    let log = upstream_log(&addr).await;
    assert_eq!(calls(&log, "initialize").len(), 1, "{log:?}");
    let upstream_session = calls(&log, "notifications/initialized")[0]["headers"]["mcp-session-id"]
        .as_str()
        .expect("upstream session id")
        .to_string();
    assert!(
        !token.contains(&upstream_session),
        "the upstream id travels encrypted"
    );

    // Replica B gets the next request (signed as its filter would sign it).
    let call = |token: String| async move {
        let decision = seal("POST", "/mcp", "master", "*", None);
        let body = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                          "params": {"name": "web-echo", "arguments": {"text": "served by B"}}});
        post(
            &format!("http://127.0.0.1:{port}/mcp"),
            &[
                ("x-meshgate-decision", decision.as_str()),
                ("mcp-session-id", token.as_str()),
                ("mcp-protocol-version", "2025-11-25"),
                ("accept", "application/json, text/event-stream"),
            ],
            &body.to_string(),
        )
        .await
        .expect("replica reachable")
    };
    let resp = call(token.clone()).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        resp.json()["result"]["content"][0]["text"],
        "served by B",
        "{}",
        resp.text()
    );

    // B continued A's upstream session instead of opening its own.
    let log = upstream_log(&addr).await;
    assert_eq!(
        calls(&log, "initialize").len(),
        1,
        "B re-initialized: {log:?}"
    );
    let from_b = calls(&log, "tools/call");
    assert_eq!(from_b.len(), 1, "{log:?}");
    assert_eq!(
        from_b[0]["headers"]["mcp-session-id"],
        json!(upstream_session)
    );

    // A tampered id is refused by B as by A.
    let mut tampered = token.into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let resp = call(String::from_utf8(tampered).expect("ascii")).await;
    assert_eq!(resp.status, 404, "{}", resp.text());
}

#[tokio::test]
async fn bad_input_gets_its_error_and_never_disturbs_an_open_session() {
    let mut opts = GatewayOptions::new(demo_stdio_yaml("local", ""));
    opts.meshgate_yaml =
        "  max_body_bytes: 4096\n  allowed_origins: [\"https://app.example.com\"]\n".into();
    let gw = Gateway::start_with(opts).await;
    let mcp = RawMcp::connect(&gw.url(), MASTER_KEY, json!({})).await;
    let mut stream = mcp.listen().await;
    let token = mcp.session.clone().expect("session id");
    let auth = format!("Bearer {MASTER_KEY}");
    let big = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                     "params": {"name": "local-echo", "arguments": {"text": "x".repeat(10_000)}}})
    .to_string();
    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    let call = r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"local-echo","arguments":{"text":"x"}}}"#;
    // (extra headers, body, HTTP status, JSON-RPC code or the text the body must contain)
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, u16, Value);
    let cases: Vec<Case> = vec![
        (vec![], "{not json", 400, json!(-32700)),
        (
            vec![],
            r#"{"jsonrpc":"2.0","id":1,"method":"no/such"}"#,
            200,
            json!(-32601),
        ),
        (
            vec![],
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{}}}"#,
            200,
            json!(-32602),
        ),
        (
            vec![],
            r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{}}"#,
            200,
            json!(-32602),
        ),
        (vec![], &big, 413, json!("4096")),
        (
            vec![("mcp-protocol-version", "2099-01-01")],
            call,
            400,
            json!("2099-01-01"),
        ),
        (
            vec![("origin", "http://evil.example.com")],
            call,
            403,
            json!("origin"),
        ),
        (
            vec![("mcp-session-id", tampered.as_str())],
            call,
            404,
            json!("session"),
        ),
    ];
    for (extra, body, status, expect) in cases {
        let mut headers = vec![("authorization", auth.as_str())];
        if !extra.iter().any(|(k, _)| *k == "mcp-session-id") {
            headers.push(("mcp-session-id", token.as_str()));
        }
        headers.extend(extra.iter().copied());
        let resp = post(&gw.url(), &headers, body)
            .await
            .expect("gateway reachable");
        assert_eq!(resp.status, status, "{body:.80}: {}", resp.text());
        match expect {
            Value::Number(code) => {
                assert_eq!(resp.json()["error"]["code"], json!(code), "{}", resp.text())
            }
            Value::String(text) => assert!(
                resp.text().to_lowercase().contains(&text.to_lowercase()),
                "{body:.80}: {}",
                resp.text()
            ),
            _ => unreachable!(),
        }
        // The session and its stream are as they were.
        let r = mcp
            .call(
                "tools/call",
                json!({"name": "local-echo", "arguments": {"text": "still here"}}),
            )
            .await;
        assert_eq!(r["result"]["content"][0]["text"], "still here", "{r}");
    }
    mcp.call("tools/call", json!({"name": "local-grow", "arguments": {}}))
        .await;
    let m = stream.next().await.expect("the stream is still open");
    assert_eq!(m["method"], "notifications/tools/list_changed", "{m}");
}
