//! The walking gateway, end to end: real Envoy loading the built filter, the sidecar,
//! real upstreams (in-repo stdio and HTTP servers, server-everything from npm), and a
//! real MCP client (rmcp) connecting through Envoy.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use futures_util::future::join_all;
use meshgate_e2e::http::{post, request};
use meshgate_e2e::*;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::ServiceExt;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn key() -> String {
    format!("Bearer {MASTER_KEY}")
}

async fn rpc(gw: &Gateway, headers: &[(&str, &str)], body: Value) -> Value {
    let auth = key();
    let mut all = vec![("authorization", auth.as_str())];
    all.extend_from_slice(headers);
    let resp = post(&gw.url(), &all, &body.to_string())
        .await
        .expect("request");
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.json()
}

async fn call(gw: &Gateway, name: &str, args: Value) -> Value {
    let v = rpc(gw, &[], json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": name, "arguments": args}})).await;
    v.get("result")
        .cloned()
        .unwrap_or_else(|| panic!("no result: {v}"))
}

fn text_of(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn args(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

#[tokio::test]
async fn rmcp_client_lists_and_calls_every_kind_of_upstream_through_envoy() {
    let (_http, addr) = demo_http("demo_http", &[]).await;
    let (_sse_http, sse_addr) = demo_http("demo_sse_reply", &["--sse"]).await;
    let (_legacy, legacy_port) = everything_http("sse").await;
    let servers = format!(
        "{}{}  demo_http:\n    url: http://{addr}/mcp\n    transport: http\n    alias: web\n  sse_reply:\n    url: http://{sse_addr}/mcp\n    transport: http\n  legacy:\n    url: http://127.0.0.1:{legacy_port}/sse\n",
        demo_stdio_yaml("local", ""),
        everything_stdio_yaml("everything"),
    );
    let gw = Gateway::start(servers).await;

    let config = StreamableHttpClientTransportConfig::with_uri(gw.url()).auth_header(MASTER_KEY);
    let client =
        ().serve(StreamableHttpClientTransport::from_config(config))
            .await
            .expect("connect through envoy");
    let info = client.peer_info().expect("server info");
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("meshgate")
    );

    let tools = client.list_all_tools().await.expect("tools/list");
    let names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    for expected in [
        "local-echo",
        "web-add",
        "sse_reply-whoami",
        "everything-echo",
        "everything-get-sum",
        "legacy-echo",
    ] {
        assert!(
            names.contains(&expected.to_string()),
            "{expected} missing from {names:?}"
        );
    }
    let add = tools.iter().find(|t| t.name == "web-add").expect("web-add");
    assert!(add.output_schema.is_some(), "outputSchema passes through");

    let r = client
        .call_tool(
            CallToolRequestParams::new("local-echo")
                .with_arguments(args(json!({"text": "hi stdio"}))),
        )
        .await
        .expect("call");
    assert_eq!(
        r.content[0].as_text().map(|t| t.text.as_str()),
        Some("hi stdio")
    );
    let r = client
        .call_tool(
            CallToolRequestParams::new("web-add").with_arguments(args(json!({"a": 2, "b": 40}))),
        )
        .await
        .expect("call");
    assert_eq!(r.structured_content, Some(json!({"sum": 42.0})));
    let r = client
        .call_tool(
            CallToolRequestParams::new("sse_reply-echo")
                .with_arguments(args(json!({"text": "framed"}))),
        )
        .await
        .expect("call");
    assert_eq!(
        r.content[0].as_text().map(|t| t.text.as_str()),
        Some("framed")
    );
    let r = client
        .call_tool(
            CallToolRequestParams::new("everything-get-sum")
                .with_arguments(args(json!({"a": 3, "b": 4}))),
        )
        .await
        .expect("call");
    assert!(
        r.content[0]
            .as_text()
            .map(|t| t.text.contains('7'))
            .unwrap_or(false),
        "{r:?}"
    );
    let r = client
        .call_tool(
            CallToolRequestParams::new("legacy-echo")
                .with_arguments(args(json!({"message": "via legacy sse"}))),
        )
        .await
        .expect("call");
    assert!(
        r.content[0]
            .as_text()
            .map(|t| t.text.contains("via legacy sse"))
            .unwrap_or(false),
        "{r:?}"
    );
    // Upstream isError results pass through unchanged.
    let r = client
        .call_tool(
            CallToolRequestParams::new("web-fail").with_arguments(args(json!({"message": "nope"}))),
        )
        .await
        .expect("call");
    assert_eq!(r.is_error, Some(true));
    assert_eq!(
        r.content[0].as_text().map(|t| t.text.as_str()),
        Some("nope")
    );
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn missing_or_wrong_key_gets_401_with_json_body() {
    let gw = Gateway::start(demo_stdio_yaml("local", "")).await;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let resp = post(&gw.url(), &[], body).await.unwrap();
    assert_eq!(resp.status, 401);
    assert!(resp
        .header("www-authenticate")
        .is_some_and(|v| v.starts_with("Bearer")));
    assert_eq!(resp.json()["error"], "authentication_required");
    let resp = post(&gw.url(), &[("x-litellm-api-key", "Bearer sk-wrong")], body)
        .await
        .unwrap();
    assert_eq!(resp.status, 401);
    assert_eq!(resp.json()["error"], "invalid_key");
    assert!(!resp.text().contains("sk-wrong"));
    // Both header forms work; with both present, x-litellm-api-key is the gateway key.
    let k = key();
    let resp = post(
        &gw.url(),
        &[
            ("x-litellm-api-key", &k),
            ("authorization", "Bearer for-upstream"),
        ],
        body,
    )
    .await
    .unwrap();
    assert_eq!(resp.status, 200, "{}", resp.text());
}

#[tokio::test]
async fn sidecar_refuses_unsigned_and_forged_requests_and_filter_strips_internal_headers() {
    let gw = Gateway::start(demo_stdio_yaml("local", "") + &demo_stdio_yaml("other", "")).await;
    let direct = format!("http://127.0.0.1:{}/mcp", gw.sidecar_port);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let resp = post(&direct, &[], body).await.unwrap();
    assert_eq!(resp.status, 403, "{}", resp.text());
    assert_eq!(resp.json()["error"], "unsigned_request");
    let ts = meshgate_e2e::now_ms().to_string();
    let forged = [
        ("x-meshgate-ts", ts.as_str()),
        ("x-meshgate-principal", "master"),
        ("x-meshgate-servers", "*"),
        (
            "x-meshgate-signature",
            "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        ),
    ];
    let resp = post(&direct, &forged, body).await.unwrap();
    assert_eq!(resp.status, 403);
    // A decision sealed with another secret, or replayed onto another path, is refused;
    // the control (a correctly sealed one) is accepted, so the refusals mean something.
    let cases: [(&[u8], &str, u16); 3] = [
        (b"not-the-shared-secret", "/mcp", 403),
        (SECRET.as_bytes(), "/other/mcp", 403),
        (SECRET.as_bytes(), "/mcp", 200),
    ];
    for (counter, (secret, sealed_path, status)) in cases.into_iter().enumerate() {
        let decision = meshgate_policy::signing::seal_decision(
            secret,
            "POST",
            sealed_path,
            &meshgate_policy::signing::Seal {
                ts_ms: meshgate_e2e::now_ms(),
                nonce: meshgate_policy::signing::Nonce {
                    vm: 0x5eed,
                    counter: counter as u64,
                },
                principal: "master",
                servers: "*",
                body_sha256: None,
            },
        );
        let resp = post(&direct, &[("x-meshgate-decision", decision.as_str())], body)
            .await
            .unwrap();
        assert_eq!(
            resp.status,
            status,
            "sealed for {sealed_path}: {}",
            resp.text()
        );
    }
    // A client's own x-meshgate-* headers never reach the sidecar as a decision: the
    // filter strips them and signs its own (here: narrowing would have hidden `other`).
    let v = rpc(
        &gw,
        &[
            ("x-meshgate-servers", "local"),
            ("x-meshgate-principal", "someone"),
        ],
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    let names: Vec<&str> = v["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.contains(&"other-echo") && names.contains(&"local-echo"),
        "{names:?}"
    );
}

#[tokio::test]
async fn killed_stdio_upstream_is_restarted_and_the_next_call_succeeds() {
    let gw = Gateway::start(demo_stdio_yaml("local", "")).await;
    let first = text_of(&call(&gw, "local-whoami", json!({})).await);
    let pid: i32 = first.rsplit('=').next().unwrap().parse().unwrap();
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // The next call may race the restart; the gateway answers it either way, and a
    // call within a few seconds reaches the new process.
    let deadline = Instant::now() + Duration::from_secs(15);
    let second = loop {
        let r = call(&gw, "local-whoami", json!({})).await;
        if r.get("isError") != Some(&Value::Bool(true)) {
            break text_of(&r);
        }
        assert!(
            Instant::now() < deadline,
            "stdio server did not come back: {r}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_ne!(first, second, "a new process answers");
    // A server that exits by itself is restarted too.
    let r = call(&gw, "local-crash", json!({})).await;
    assert_eq!(text_of(&r), "exiting");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = call(&gw, "local-echo", json!({"text": "back"})).await;
        if text_of(&r) == "back" {
            break;
        }
        assert!(Instant::now() < deadline, "not back after crash: {r}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn stdio_process_is_shared_by_concurrent_clients() {
    let gw = Gateway::start(demo_stdio_yaml("local", "")).await;
    let calls = (0..40).map(|i| {
        let gw = &gw;
        async move {
            // Slow and fast calls interleave on one process; ids are remapped so each
            // answer reaches the client that asked.
            let ms = if i % 4 == 0 { 200 } else { 0 };
            let r = if ms > 0 {
                call(gw, "local-sleep", json!({"ms": ms})).await
            } else {
                call(gw, "local-echo", json!({"text": format!("n{i}")})).await
            };
            (i, ms, text_of(&r))
        }
    });
    for (i, ms, text) in join_all(calls).await {
        let expected = if ms > 0 {
            format!("slept {ms} ms")
        } else {
            format!("n{i}")
        };
        assert_eq!(text, expected);
    }
    let pids: std::collections::HashSet<String> =
        join_all((0..5).map(|_| call(&gw, "local-whoami", json!({}))))
            .await
            .iter()
            .map(text_of)
            .collect();
    assert_eq!(pids.len(), 1, "one process serves everyone: {pids:?}");
}

#[tokio::test]
async fn http_upstream_session_is_reinitialized_after_404() {
    let (_http, addr) = demo_http("demo_http", &[]).await;
    let gw = Gateway::start(format!(
        "  web:\n    url: http://{addr}/mcp\n    transport: http\n"
    ))
    .await;
    assert_eq!(
        text_of(&call(&gw, "web-echo", json!({"text": "one"})).await),
        "one"
    );
    let forgot = post(&format!("http://{addr}/__forget_sessions"), &[], "")
        .await
        .unwrap();
    assert_eq!(forgot.status, 200);
    assert_eq!(
        text_of(&call(&gw, "web-echo", json!({"text": "two"})).await),
        "two"
    );
    // The upstream saw a second initialize, and the gateway key never reached it.
    let seen = request("GET", &format!("http://{addr}/__requests"), &[], "")
        .await
        .unwrap()
        .json();
    let inits = seen
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["rpc_method"] == "initialize")
        .count();
    assert_eq!(
        inits, 2,
        "one initialize at start, one after the session was lost"
    );
    let all = seen.to_string();
    assert!(!all.contains(MASTER_KEY), "gateway key leaked upstream");
    assert!(
        !all.contains("x-meshgate"),
        "internal headers leaked upstream"
    );
}

#[tokio::test]
async fn routing_bare_names_unknown_tools_and_narrowing() {
    let (_http, addr) = demo_http("demo_http", &[]).await;
    let gw = Gateway::start(format!(
        "{}  web:\n    url: http://{addr}/mcp\n    transport: http\n",
        demo_stdio_yaml("local", "")
    ))
    .await;
    let r = call(&gw, "nope", json!({})).await;
    assert_eq!(r["isError"], true);
    assert_eq!(text_of(&r), "Error: Tool 'nope' not found");
    // A known server without that tool: refused without calling the upstream.
    let r = call(&gw, "web-nope", json!({})).await;
    assert_eq!(r["isError"], true);
    assert_eq!(text_of(&r), "Error: Tool 'web-nope' not found");
    let seen = request("GET", &format!("http://{addr}/__requests"), &[], "")
        .await
        .unwrap()
        .json();
    let tools_called: Vec<&str> = seen
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["tool"].as_str())
        .collect();
    assert!(
        !tools_called.contains(&"nope"),
        "the upstream was contacted: {tools_called:?}"
    );
    assert!(
        seen.as_array()
            .unwrap()
            .iter()
            .any(|r| r["rpc_method"] == "tools/list"),
        "the recorder sees JSON-RPC: {seen}"
    );
    let r = call(&gw, "echo", json!({"text": "x"})).await;
    assert_eq!(r["isError"], true);
    assert!(
        text_of(&r).contains("local-echo") && text_of(&r).contains("web-echo"),
        "{r}"
    );
    // Narrowed to one server, the bare name is unambiguous.
    let v = rpc(&gw, &[("x-mcp-servers", "WEB")], json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "bare"}}})).await;
    assert_eq!(text_of(&v["result"]), "bare");
    // The path narrows too, and an unknown name is a 404.
    let k = key();
    let resp = post(
        &format!("{}/local/mcp", gw.base()),
        &[("authorization", &k)],
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
    )
    .await
    .unwrap();
    let names: Vec<String> = resp.json()["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    assert!(names.iter().all(|n| n.starts_with("local-")), "{names:?}");
    let resp = post(
        &format!("{}/nope/mcp", gw.base()),
        &[("authorization", &k)],
        "{}",
    )
    .await
    .unwrap();
    assert_eq!(resp.status, 404);
    // A server outside the request's scope cannot be called by prefix.
    let v = rpc(&gw, &[("x-mcp-servers", "local")], json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "web-echo", "arguments": {"text": "x"}}})).await;
    assert_eq!(v["result"]["isError"], true);
}

#[tokio::test]
async fn failing_and_slow_servers_are_left_out_of_tools_list() {
    // One port that refuses connections, one that accepts and never answers.
    let dead = free_port();
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let servers = format!(
        "{}  dead:\n    url: http://127.0.0.1:{dead}/mcp\n    transport: http\n  silent:\n    url: http://127.0.0.1:{silent_port}/mcp\n    transport: http\n",
        demo_stdio_yaml("local", "")
    );
    let mut opts = GatewayOptions::new(servers);
    opts.meshgate_yaml = "  list_timeout_ms: 700\n  call_timeout_ms: 700\n".into();
    let gw = Gateway::start_with(opts).await;
    let started = Instant::now();
    let v = rpc(
        &gw,
        &[],
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    let elapsed = started.elapsed();
    let names: Vec<&str> = v["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"local-echo"));
    assert!(!names
        .iter()
        .any(|n| n.starts_with("dead-") || n.starts_with("silent-")));
    assert!(
        elapsed < Duration::from_secs(10),
        "the slow server held the list for {elapsed:?}"
    );
    let r = call(&gw, "silent-echo", json!({})).await;
    assert_eq!(r["isError"], true);
    assert!(text_of(&r).contains("did not answer"), "{r}");
    let r = call(&gw, "dead-echo", json!({})).await;
    assert_eq!(r["isError"], true);
    assert!(text_of(&r).contains("unavailable"), "{r}");
    holder.abort();
}

#[tokio::test]
async fn streamable_http_surface_sessions_sse_get_delete_and_discover() {
    let gw = Gateway::start(demo_stdio_yaml("local", "")).await;
    let k = key();
    let auth = [("authorization", k.as_str())];
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let resp = post(&gw.url(), &auth, &init.to_string()).await.unwrap();
    assert_eq!(resp.json()["result"]["protocolVersion"], "2025-03-26");
    let session = resp
        .header("mcp-session-id")
        .expect("session id")
        .to_string();
    for v in ["2025-06-18", "2025-11-25"] {
        let mut i = init.clone();
        i["params"]["protocolVersion"] = json!(v);
        assert_eq!(
            post(&gw.url(), &auth, &i.to_string()).await.unwrap().json()["result"]
                ["protocolVersion"],
            v
        );
    }
    let mut i = init.clone();
    i["params"]["protocolVersion"] = json!("1999-01-01");
    assert_eq!(
        post(&gw.url(), &auth, &i.to_string()).await.unwrap().json()["result"]["protocolVersion"],
        "2025-11-25"
    );

    // SSE framing when the client only accepts event streams.
    let with_session = [
        ("authorization", k.as_str()),
        ("mcp-session-id", session.as_str()),
        ("accept", "text/event-stream"),
    ];
    let resp = post(
        &gw.url(),
        &with_session,
        r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#,
    )
    .await
    .unwrap();
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    assert!(
        resp.text().starts_with("event: message\ndata: {"),
        "{}",
        resp.text()
    );
    // Notifications are accepted with 202.
    let with_session_json = [
        ("authorization", k.as_str()),
        ("mcp-session-id", session.as_str()),
    ];
    let resp = post(
        &gw.url(),
        &with_session_json,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    )
    .await
    .unwrap();
    assert_eq!(resp.status, 202);
    // A tampered session id is a 404 (its last character changed: to `x`, unless it
    // already was one — then the id would be the same and the test a coin toss).
    let swap = if session.ends_with('x') { 'y' } else { 'x' };
    let bad = format!("{}{swap}", &session[..session.len() - 1]);
    assert_ne!(bad, session);
    let resp = post(
        &gw.url(),
        &[
            ("authorization", k.as_str()),
            ("mcp-session-id", bad.as_str()),
        ],
        r#"{"jsonrpc":"2.0","id":3,"method":"ping"}"#,
    )
    .await
    .unwrap();
    assert_eq!(resp.status, 404);
    // server/discover gets an ordinary JSON-RPC error so current SDKs fall back.
    let v = post(
        &gw.url(),
        &auth,
        r#"{"jsonrpc":"2.0","id":4,"method":"server/discover","params":{}}"#,
    )
    .await
    .unwrap()
    .json();
    assert_eq!(v["error"]["code"], -32601);
    // Bad input: malformed JSON, unknown method, bad protocol version header.
    let resp = post(&gw.url(), &auth, "{not json").await.unwrap();
    assert_eq!(resp.status, 400);
    assert_eq!(resp.json()["error"]["code"], -32700);
    let v = post(
        &gw.url(),
        &auth,
        r#"{"jsonrpc":"2.0","id":5,"method":"no/such"}"#,
    )
    .await
    .unwrap()
    .json();
    assert_eq!(v["error"]["code"], -32601);
    let resp = post(
        &gw.url(),
        &[
            ("authorization", k.as_str()),
            ("mcp-protocol-version", "2099-01-01"),
        ],
        r#"{"jsonrpc":"2.0","id":6,"method":"ping"}"#,
    )
    .await
    .unwrap();
    assert_eq!(resp.status, 400);

    // GET opens a server stream that Envoy passes through unbuffered: the headers
    // arrive at once even though the body stays open.
    let stream = tokio::time::timeout(Duration::from_secs(5), open_get_stream(&gw, &session))
        .await
        .expect("GET stream headers not buffered");
    assert_eq!(stream.0, 200);
    assert_eq!(stream.1.as_deref(), Some("text/event-stream"));

    let resp = request("DELETE", &gw.url(), &with_session_json, "")
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    let resp = request("PUT", &gw.url(), &auth, "").await.unwrap();
    assert_eq!(resp.status, 405);
}

async fn open_get_stream(gw: &Gateway, session: &str) -> (u16, Option<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", gw.port))
        .await
        .unwrap();
    let req = format!("GET /mcp HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nAuthorization: Bearer {MASTER_KEY}\r\nMcp-Session-Id: {session}\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "stream closed");
        got.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&got).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let ct = head.lines().find_map(|l| {
        l.to_ascii_lowercase()
            .strip_prefix("content-type: ")
            .map(str::to_string)
    });
    (status, ct)
}

#[tokio::test]
async fn invalid_configuration_is_refused_at_load_naming_the_field() {
    // Envoy refuses to start the filter: on_configure fails and the listener is rejected.
    let dir = TempDir::new("badcfg");
    let doc = "meshgate:\n  shared_secret: os.environ/MESHGATE_SHARED_SECRET\nmcp_servers:\n  my server:\n    command: x\n";
    let cfg = envoy_config(free_port(), free_port(), free_port(), doc);
    let file = dir.0.join("envoy.yaml");
    std::fs::write(&file, cfg).unwrap();
    let log = dir.0.join("envoy.log");
    let mut envoy = start_envoy(&file, 1, &log);
    let status = tokio::time::timeout(Duration::from_secs(30), envoy.child.wait())
        .await
        .expect("envoy should exit")
        .unwrap();
    assert!(!status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("mcp_servers.my server") && text.contains("SEP-986"),
        "{text}"
    );

    // The sidecar's checker names the field in a LiteLLM config.yaml.
    let bad = dir.0.join("config.yaml");
    std::fs::write(
        &bad,
        "mcp_servers:\n  gh:\n    url: ftp://x\n    transport: http\n",
    )
    .unwrap();
    let out = std::process::Command::new(bin("meshgate-sidecar"))
        .arg("--check-config")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mcp_servers.gh.url"), "{err}");
    // And the repository's example config is valid.
    let example = repo_root().join("envoy/config.example.yaml");
    let out = std::process::Command::new(bin("meshgate-sidecar"))
        .arg("--check-config")
        .arg(&example)
        .env("MESHGATE_MASTER_KEY", "sk-x")
        .env("GITHUB_TOKEN", "x")
        .env("ZAPIER_KEY", "x")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_python_sdk_example_printed_by_make_run_works() {
    let (_http, addr) = demo_http("demo_http", &[]).await;
    let gw = Gateway::start(format!(
        "{}  demo_http:\n    url: http://{addr}/mcp\n    transport: http\n    alias: web\n",
        demo_stdio_yaml("demo_stdio", "")
    ))
    .await;
    let mut cmd = python_with_mcp();
    cmd.arg(repo_root().join("scripts/example_client.py"))
        .arg(gw.url())
        .arg(MASTER_KEY);
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("python client hung")
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // mcp 2.x probes server/discover first, then falls back to initialize.
    assert!(stdout.contains("protocol 2025-11-25"), "{stdout}");
    assert!(
        stdout.contains("'demo_stdio-echo'") && stdout.contains("'web-add'"),
        "{stdout}"
    );
    assert!(stdout.contains("web-add {'sum': 5.0}"), "{stdout}");
}

#[tokio::test]
async fn a_litellm_config_file_named_by_config_path_is_served_with_env_values_resolved() {
    let dir = TempDir::new("cfgpath");
    let file = dir.0.join("config.yaml");
    // A LiteLLM file: model_list and other sections load unchanged; os.environ/ values
    // are resolved from the sidecar's environment (the harness passes the master key).
    let stdio = bin("meshgate-demo-stdio");
    std::fs::write(
        &file,
        format!(
            "model_list: []\ngeneral_settings:\n  master_key: os.environ/MESHGATE_MASTER_KEY\nmcp_servers:\n  from_file:\n    transport: stdio\n    command: \"{}\"\n    env:\n      GREETING: os.environ/MESHGATE_MASTER_KEY\n",
            stdio.display()
        ),
    )
    .unwrap();
    let mut opts = GatewayOptions::new("");
    opts.meshgate_yaml = format!("  config_path: \"{}\"\n", file.display());
    let gw = Gateway::start_with(opts).await;
    let r = call(&gw, "from_file-env", json!({"name": "GREETING"})).await;
    assert_eq!(text_of(&r), MASTER_KEY, "env value resolved by the sidecar");
    // The sidecar's own secret is not inherited by stdio children.
    let r = call(
        &gw,
        "from_file-env",
        json!({"name": "MESHGATE_SHARED_SECRET"}),
    )
    .await;
    assert_eq!(text_of(&r), "<unset>");
}

#[tokio::test]
async fn server_tool_rules_and_allowed_params_on_an_mcp_server() {
    let rules = "    allowed_tools: [echo, ADD, local-whoami]\n    disallowed_tools: [add]\n    allowed_params:\n      echo: [text]\n";
    let gw = Gateway::start(demo_stdio_yaml("local", rules)).await;
    let v = rpc(
        &gw,
        &[],
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    let mut names: Vec<&str> = v["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    names.sort();
    assert_eq!(names, ["local-echo", "local-whoami"]);
    for forbidden in ["local-add", "local-crash"] {
        let r = call(&gw, forbidden, json!({"a": 1, "b": 2})).await;
        assert_eq!(r["isError"], true);
        assert!(
            text_of(&r).contains("is not allowed on server 'local'"),
            "{r}"
        );
    }
    let r = call(&gw, "add", json!({"a": 1, "b": 2})).await;
    assert_eq!(text_of(&r), "Error: Tool 'add' not found");
    let r = call(&gw, "local-echo", json!({"text": "x", "extra": 1})).await;
    assert_eq!(r["isError"], true);
    assert_eq!(text_of(&r), "Error: parameters [extra] are not allowed for tool 'local-echo'. Allowed parameters: [text].");
    assert_eq!(
        text_of(&call(&gw, "local-echo", json!({"text": "ok"})).await),
        "ok"
    );
    // The crash tool was refused, so the process never restarted.
    let pid = text_of(&call(&gw, "local-whoami", json!({})).await);
    assert_eq!(pid, text_of(&call(&gw, "local-whoami", json!({})).await));
}

#[tokio::test]
async fn client_credentials_reach_only_their_mcp_server() {
    for db in DATABASES {
        client_credentials_reach_only_their_mcp_server_on(db).await;
    }
}

async fn client_credentials_reach_only_their_mcp_server_on(db: Database) {
    let (_gh, gh_addr) = demo_http("gh", &[]).await;
    let (_other, other_addr) = demo_http("other", &[]).await;
    let servers = format!(
        "  github_mcp:\n    url: http://{gh_addr}/mcp\n    transport: http\n    alias: gh\n    auth_type: bearer_token\n    auth_value: cfg-token\n  other:\n    url: http://{other_addr}/mcp\n    transport: http\n    extra_headers: [X-Request-Source]\n    static_headers: {{x-team: platform}}\n"
    );
    let gw = Gateway::start_with(GatewayOptions {
        database: db,
        ..GatewayOptions::new(servers)
    })
    .await;
    let k = key();
    let client = [
        ("x-litellm-api-key", k.as_str()),
        ("x-mcp-gh-authorization", "Bearer client-token"),
        ("x-mcp-auth", "legacy-token"),
        ("x-request-source", "e2e"),
    ];
    for tool in ["gh-echo", "other-echo"] {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": {"text": "hi"}}});
        let resp = post(&gw.url(), &client, &body.to_string()).await.unwrap();
        assert_eq!(text_of(&resp.json()["result"]), "hi", "{}", resp.text());
    }
    let seen = |addr: String| async move {
        request("GET", &format!("http://{addr}/__requests"), &[], "")
            .await
            .unwrap()
            .json()
    };
    let calls = |log: &Value| -> Vec<Value> {
        log.as_array()
            .unwrap()
            .iter()
            .filter(|r| r["tool"] == "echo")
            .map(|r| r["headers"].clone())
            .collect()
    };
    let gh_log = seen(gh_addr.clone()).await;
    let other_log = seen(other_addr.clone()).await;
    let gh = calls(&gh_log);
    let other = calls(&other_log);
    assert_eq!(gh.len(), 1);
    assert_eq!(other.len(), 1);
    // The per-server header replaces the configured credential, for that server only.
    assert_eq!(gh[0]["authorization"], "Bearer client-token");
    assert!(gh[0].get("x-request-source").is_none() && gh[0].get("x-team").is_none());
    // x-mcp-auth reaches servers without their own header; extra and static headers too.
    assert_eq!(other[0]["authorization"], "Bearer legacy-token");
    assert_eq!(other[0]["x-request-source"], "e2e");
    assert_eq!(other[0]["x-team"], "platform");
    for log in [&gh_log, &other_log] {
        let text = log.to_string();
        assert!(
            !text.contains(MASTER_KEY),
            "the gateway key leaked upstream"
        );
        assert!(
            !text.contains("x-mcp-gh-authorization") && !text.contains("x-mcp-auth"),
            "client credential headers are not forwarded raw"
        );
        assert!(!text.contains("x-meshgate"), "internal headers leaked");
    }
    // Without client credentials, the configured one is used, on its own upstream session.
    let r = call(&gw, "gh-echo", json!({"text": "cfg"})).await;
    assert_eq!(text_of(&r), "cfg");
    let gh_log = seen(gh_addr).await;
    let last = calls(&gh_log).pop().unwrap();
    assert_eq!(last["authorization"], "Bearer cfg-token");
    let sessions: std::collections::HashSet<&str> = gh_log
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["tool"] == "echo")
        .filter_map(|r| r["headers"]["mcp-session-id"].as_str())
        .collect();
    assert_eq!(sessions.len(), 2, "one upstream session per credential set");
}

#[tokio::test]
async fn stdio_env_from_request_headers_gets_one_pooled_process_per_environment() {
    for db in DATABASES {
        stdio_env_from_request_headers_gets_one_pooled_process_per_environment_on(db).await;
    }
}

async fn stdio_env_from_request_headers_gets_one_pooled_process_per_environment_on(db: Database) {
    let env = "    env:\n      TOKEN: \"${X-Tool-Token}\"\n      FIXED: fixed\n";
    let gw = Gateway::start_with(GatewayOptions {
        database: db,
        ..GatewayOptions::new(demo_stdio_yaml("local", env))
    })
    .await;
    let k = key();
    let as_user = |token: Option<&'static str>, tool: &'static str, args: Value| {
        let k = k.clone();
        let url = gw.url();
        async move {
            let mut headers = vec![("authorization", k.as_str())];
            if let Some(t) = token {
                headers.push(("x-tool-token", t));
            }
            let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": args}});
            let resp = post(&url, &headers, &body.to_string()).await.unwrap();
            text_of(&resp.json()["result"])
        }
    };
    assert_eq!(
        as_user(Some("alice"), "local-env", json!({"name": "TOKEN"})).await,
        "alice"
    );
    assert_eq!(
        as_user(Some("alice"), "local-env", json!({"name": "FIXED"})).await,
        "fixed"
    );
    assert_eq!(
        as_user(Some("bob"), "local-env", json!({"name": "TOKEN"})).await,
        "bob"
    );
    let alice = as_user(Some("alice"), "local-whoami", json!({})).await;
    let bob = as_user(Some("bob"), "local-whoami", json!({})).await;
    assert_ne!(alice, bob, "one process per distinct environment");
    assert_eq!(
        alice,
        as_user(Some("alice"), "local-whoami", json!({})).await,
        "pooled"
    );
    // Without the header the variable is dropped, in a process of its own.
    assert_eq!(
        as_user(None, "local-env", json!({"name": "TOKEN"})).await,
        "<unset>"
    );
}

#[tokio::test]
async fn renamed_legacy_auth_header_reaches_servers() {
    let (_srv, addr) = demo_http("srv", &[]).await;
    let dir = TempDir::new("rename");
    let file = dir.0.join("config.yaml");
    std::fs::write(
        &file,
        format!("general_settings:\n  master_key: os.environ/MESHGATE_MASTER_KEY\n  mcp_client_side_auth_header_name: X-My-Auth\nmcp_servers:\n  srv:\n    url: http://{addr}/mcp\n    transport: http\n"),
    )
    .unwrap();
    let mut opts = GatewayOptions::new("");
    opts.meshgate_yaml = format!("  config_path: \"{}\"\n", file.display());
    let gw = Gateway::start_with(opts).await;
    let k = key();
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "srv-echo", "arguments": {"text": "a"}}}).to_string();
    let last_auth = || async {
        let log = request("GET", &format!("http://{addr}/__requests"), &[], "")
            .await
            .unwrap()
            .json();
        let last = log
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|r| r["tool"] == "echo")
            .unwrap()
            .clone();
        last["headers"]["authorization"].clone()
    };
    post(
        &gw.url(),
        &[("authorization", &k), ("x-my-auth", "tok-1")],
        &body,
    )
    .await
    .unwrap();
    assert_eq!(last_auth().await, "Bearer tok-1");
    // The old name means nothing once renamed.
    post(
        &gw.url(),
        &[("authorization", &k), ("x-mcp-auth", "tok-2")],
        &body,
    )
    .await
    .unwrap();
    assert_eq!(last_auth().await, Value::Null);
}

#[tokio::test]
async fn the_filter_keeps_deciding_when_the_sidecar_is_gone() {
    let mut gw = Gateway::start(demo_stdio_yaml("local", "")).await;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    gw.sidecar.child.kill().await.unwrap();
    // Keys are still checked inline from the last snapshot: a wrong key is a 401, not a
    // 503, and a good one passes the filter (Envoy then finds no sidecar: 503).
    for _ in 0..3 {
        let resp = post(&gw.url(), &[("authorization", "Bearer sk-wrong")], body)
            .await
            .unwrap();
        assert_eq!(resp.status, 401);
        let k = key();
        let resp = post(&gw.url(), &[("authorization", &k)], body)
            .await
            .unwrap();
        assert_eq!(resp.status, 503, "{}", resp.text());
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
}
