//! JSON-RPC framing through Envoy + filter + sidecar: ids (strings or integers, byte
//! for byte), invalid requests (-32600, `id: null` when unreadable), bad params
//! (-32602 before any upstream), batches (bounded; none after 2025-06-18; one tool
//! fetch for a batch of lists), `Accept` (406 from 2025-06-18), and over-limit bodies
//! (the JSON 413, however large).
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use meshgate_e2e::http::{post, Resp};
use meshgate_e2e::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn auth() -> String {
    format!("Bearer {MASTER_KEY}")
}

/// `initialize` at `version`; the session id.
async fn session(gw: &Gateway, version: &str) -> String {
    let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let resp = post(&gw.url(), &[("authorization", &auth())], &body.to_string())
        .await
        .unwrap();
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["result"]["protocolVersion"], version);
    resp.header("mcp-session-id").unwrap().to_string()
}

async fn post_in(gw: &Gateway, session: &str, body: &str) -> Resp {
    post(
        &gw.url(),
        &[("authorization", &auth()), ("mcp-session-id", session)],
        body,
    )
    .await
    .unwrap()
}

fn assert_refused(resp: &Resp, code: i64, status: u16, what: &str) -> Value {
    assert_eq!(resp.status, status, "{what}: {}", resp.text());
    let v = resp.json();
    assert_eq!(v["error"]["code"], code, "{what}: {v}");
    assert_eq!(v["jsonrpc"], "2.0", "{what}: {v}");
    v
}

#[tokio::test]
async fn ids_are_strings_or_integers_kept_byte_for_byte_and_anything_else_is_an_invalid_request() {
    let gw = Gateway::start(demo_stdio_yaml("local", "")).await;
    let s = session(&gw, "2025-11-25").await;
    // Echoed exactly as written, beyond 2^53 and 2^64 included, on a local answer
    // (ping) and on one that went to an upstream and back (tools/call).
    for id in [
        "9007199254740993",
        "18446744073709551617",
        "123456789012345678901234567890",
        "-7",
        r#""caf\u00e9 \/ x""#,
        r#""""#,
    ] {
        for (method, params) in [
            ("ping", "{}"),
            (
                "tools/call",
                r#"{"name":"local-echo","arguments":{"text":"hi"}}"#,
            ),
        ] {
            let body =
                format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{params}}}"#);
            let resp = post_in(&gw, &s, &body).await;
            assert_eq!(resp.status, 200, "{body}: {}", resp.text());
            assert!(
                resp.text()
                    .starts_with(&format!(r#"{{"jsonrpc":"2.0","id":{id},"result":"#)),
                "{body} → {}",
                resp.text()
            );
        }
    }
    // Ids MCP does not allow, `null` included (it is not a notification).
    for id in ["null", "true", "1.5", "1e3", "{}", r#"{"a":1}"#, "[1]"] {
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"local-echo","arguments":{{"text":"x"}}}}}}"#
        );
        let v = assert_refused(&post_in(&gw, &s, &body).await, -32600, 400, &body);
        assert_eq!(v["id"], Value::Null, "{v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("`id`"),
            "{v}"
        );
    }
    // JSON that is not a request object is -32600; what is not JSON is -32700.
    for body in [r#""tools/list""#, "42", "true", "null"] {
        let v = assert_refused(&post_in(&gw, &s, body).await, -32600, 400, body);
        assert_eq!(v["id"], Value::Null);
    }
    assert_refused(&post_in(&gw, &s, "{\"jsonrpc\":").await, -32700, 400, "cut");
    // Other invalid members: the readable id is echoed.
    for body in [
        r#"{"jsonrpc":"2.0","id":"r1","method":5}"#,
        r#"{"jsonrpc":"1.0","id":"r1","method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":"r1","method":"ping","params":"x"}"#,
    ] {
        let v = assert_refused(&post_in(&gw, &s, body).await, -32600, 400, body);
        assert_eq!(v["id"], "r1", "{v}");
    }
}

#[tokio::test]
async fn params_off_the_schema_are_refused_before_any_upstream_on_every_entry() {
    let gw = Gateway::start(demo_stdio_yaml("local", "")).await;
    let s = session(&gw, "2025-11-25").await;
    for params in [
        json!({"name": "local-echo", "arguments": "text=hi"}),
        json!({"name": "local-echo", "arguments": ["hi"]}),
        json!({"name": "local-echo", "arguments": null}),
        json!({"name": 7, "arguments": {}}),
        json!({"arguments": {}}),
    ] {
        let body = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": params});
        let v = assert_refused(
            &post_in(&gw, &s, &body.to_string()).await,
            -32602,
            200,
            &params.to_string(),
        );
        assert_eq!(v["id"], 3);
    }
    for (method, params) in [
        ("prompts/get", json!({})),
        ("prompts/get", json!({"name": "p", "arguments": {"a": 1}})),
        ("resources/read", json!({"uri": 5})),
        ("resources/read", json!({})),
    ] {
        let body = json!({"jsonrpc": "2.0", "id": 4, "method": method, "params": params});
        assert_refused(
            &post_in(&gw, &s, &body.to_string()).await,
            -32602,
            200,
            method,
        );
    }
    let array = r#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":["local-echo"]}"#;
    assert_refused(&post_in(&gw, &s, array).await, -32602, 400, array);

    // 2026-07-28 (stateless) requests: the same framing.
    let url = gw.url();
    let modern = |body: String| {
        let url = url.clone();
        async move {
            post(
                &url,
                &[
                    ("authorization", &auth()),
                    ("mcp-protocol-version", "2026-07-28"),
                    ("mcp-method", "tools/call"),
                    ("mcp-name", "local-echo"),
                ],
                &body,
            )
            .await
            .unwrap()
        }
    };
    let v = assert_refused(
        &modern(r#"{"jsonrpc":"2.0","id":1.5,"method":"tools/call","params":{"name":"local-echo","arguments":{}}}"#.into()).await,
        -32600,
        400,
        "modern float id",
    );
    assert_eq!(v["id"], Value::Null);
    let resp = modern(r#"{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"tools/call","params":{"name":"local-echo","arguments":"x"}}"#.into()).await;
    assert!(
        resp.text()
            .contains(r#""id":123456789012345678901234567890,"#),
        "{}",
        resp.text()
    );
    assert_eq!(resp.json()["error"]["code"], -32602, "{}", resp.text());

    // LiteLLM's REST call: a 400 naming the member.
    let rest = |body: Value| {
        let url = format!("{}/mcp-rest/tools/call", gw.base());
        async move {
            post(&url, &[("authorization", &auth())], &body.to_string())
                .await
                .unwrap()
        }
    };
    let resp = rest(json!({"server_id": "local", "name": "echo", "arguments": "x"})).await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert!(resp.text().contains("arguments"), "{}", resp.text());
    let resp = rest(json!({"server_id": "local", "name": 5, "arguments": {}})).await;
    assert_eq!(resp.status, 400, "{}", resp.text());

    // The legacy HTTP+SSE transport: its POSTs are read by the same rules.
    let (stream, endpoint) = legacy_stream(&gw).await;
    let url = format!("{}{endpoint}", gw.base());
    for (body, code) in [
        (r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#, -32600),
        (r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#, -32600),
        (r#""ping""#, -32600),
        (r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#, -32600),
        ("{", -32700),
    ] {
        let resp = post(&url, &[("authorization", &auth())], body)
            .await
            .unwrap();
        let v = assert_refused(&resp, code, 400, body);
        assert_eq!(v["id"], Value::Null, "{body}: {v}");
    }
    drop(stream);
}

/// Opens `GET /sse`; the open response and the message endpoint it names.
async fn legacy_stream(gw: &Gateway) -> (hyper::Response<hyper::body::Incoming>, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = ::http::Request::get(format!("{}/sse", gw.base()))
        .header("authorization", auth())
        .header("accept", "text/event-stream")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let mut resp = client.request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut seen = Vec::new();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(30), resp.body_mut().frame())
            .await
            .expect("endpoint event in time")
            .expect("stream open")
            .unwrap();
        if let Some(d) = frame.data_ref() {
            seen.extend_from_slice(d);
        }
        let text = String::from_utf8_lossy(&seen);
        if let Some(line) = text.lines().find_map(|l| l.strip_prefix("data: ")) {
            if text.contains("\n\n") {
                return (resp, line.trim().to_string());
            }
        }
    }
}

/// A streamable-HTTP MCP server counting what it is asked: `initialize`, `tools/list`.
struct Counting {
    initialize: AtomicUsize,
    tools_list: AtomicUsize,
}

async fn counting_upstream() -> (Arc<Counting>, u16) {
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    let counts = Arc::new(Counting {
        initialize: AtomicUsize::new(0),
        tools_list: AtomicUsize::new(0),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let shared = Arc::clone(&counts);
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let counts = Arc::clone(&shared);
            tokio::spawn(async move {
                let svc = service_fn(move |req: ::http::Request<hyper::body::Incoming>| {
                    let counts = Arc::clone(&counts);
                    async move {
                        let not_post = req.method() != ::http::Method::POST;
                        let body = req.into_body().collect().await?.to_bytes();
                        let mut resp = ::http::Response::builder();
                        if not_post {
                            return Ok::<_, hyper::Error>(
                                resp.status(405)
                                    .body(Full::new(Bytes::new()))
                                    .unwrap_or_default(),
                            );
                        }
                        let msg: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        let result = match msg["method"].as_str().unwrap_or_default() {
                            "initialize" => {
                                counts.initialize.fetch_add(1, Ordering::SeqCst);
                                resp = resp.header("mcp-session-id", "s-1");
                                json!({"protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
                                       "serverInfo": {"name": "counting", "version": "1"}})
                            }
                            "tools/list" => {
                                counts.tools_list.fetch_add(1, Ordering::SeqCst);
                                json!({"tools": [{"name": "noop", "inputSchema": {"type": "object"}}]})
                            }
                            _ if msg.get("id").is_none() => {
                                return Ok(resp
                                    .status(202)
                                    .body(Full::new(Bytes::new()))
                                    .unwrap_or_default());
                            }
                            _ => json!({}),
                        };
                        let out = json!({"jsonrpc": "2.0", "id": msg["id"], "result": result});
                        Ok(resp
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from(out.to_string())))
                            .unwrap_or_default())
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(sock), svc)
                    .await;
            });
        }
    });
    (counts, port)
}

#[tokio::test]
async fn batches_are_bounded_refused_from_2025_06_18_and_a_batch_of_lists_asks_the_upstream_once() {
    let (counts, port) = counting_upstream().await;
    let gw = Gateway::start(format!(
        "  count:\n    transport: http\n    url: http://127.0.0.1:{port}/mcp\n"
    ))
    .await;
    let old = session(&gw, "2025-03-26").await;
    let lists = |n: usize| {
        let items: Vec<Value> = (0..n)
            .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "tools/list"}))
            .collect();
        Value::Array(items).to_string()
    };
    let before = counts.tools_list.load(Ordering::SeqCst);
    let resp = post_in(&gw, &old, &lists(100)).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let replies = resp.json();
    let replies = replies.as_array().unwrap();
    assert_eq!(replies.len(), 100);
    assert!(replies
        .iter()
        .all(|r| r["result"]["tools"][0]["name"] == "count-noop"));
    // One fetch fills the cache for every list of the batch.
    assert!(
        counts.tools_list.load(Ordering::SeqCst) - before <= 1,
        "{} tools/list for one batch",
        counts.tools_list.load(Ordering::SeqCst) - before
    );
    assert_eq!(counts.initialize.load(Ordering::SeqCst), 1);

    // Beyond meshgate.max_batch_size (100 by default): refused whole, nothing sent on.
    let v = assert_refused(&post_in(&gw, &old, &lists(101)).await, -32600, 400, "101");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("meshgate.max_batch_size (100)"),
        "{v}"
    );
    // Batch items are read one by one: a bad one is answered, the others served.
    let mixed = r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":null,"method":"ping"},7]"#;
    let v = post_in(&gw, &old, mixed).await.json();
    assert_eq!(v[0]["result"], json!({}), "{v}");
    assert_eq!(
        (v[1]["error"]["code"].clone(), v[1]["id"].clone()),
        (json!(-32600), Value::Null)
    );
    assert_eq!(v[2]["error"]["code"], -32600);

    // 2025-06-18 and later have no batches.
    for version in ["2025-06-18", "2025-11-25"] {
        let s = session(&gw, version).await;
        let v = assert_refused(&post_in(&gw, &s, &lists(2)).await, -32600, 400, version);
        assert!(
            v["error"]["message"].as_str().unwrap().contains("batches"),
            "{v}"
        );
    }
}

#[tokio::test]
async fn from_2025_06_18_a_post_must_accept_json_and_event_streams() {
    let gw = Gateway::start(demo_stdio_yaml("local", "")).await;
    let ping = r#"{"jsonrpc":"2.0","id":"p","method":"ping"}"#;
    for version in ["2025-06-18", "2025-11-25"] {
        let s = session(&gw, version).await;
        for (accept, status) in [
            ("application/json", 406),
            ("text/event-stream", 406),
            ("text/html", 406),
            ("application/json, text/event-stream", 200),
            ("text/event-stream;q=0.9, application/json", 200),
            ("*/*", 200),
        ] {
            let resp = post(
                &gw.url(),
                &[
                    ("authorization", &auth()),
                    ("mcp-session-id", &s),
                    ("accept", accept),
                ],
                ping,
            )
            .await
            .unwrap();
            assert_eq!(resp.status, status, "{version} {accept}: {}", resp.text());
            if status == 406 {
                let v = resp.json();
                assert_eq!(v["id"], "p", "{v}");
                assert!(v["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("text/event-stream"));
            }
        }
    }
    // 2025-03-26 sessions keep what they had.
    let s = session(&gw, "2025-03-26").await;
    let resp = post(
        &gw.url(),
        &[
            ("authorization", &auth()),
            ("mcp-session-id", &s),
            ("accept", "application/json"),
        ],
        ping,
    )
    .await
    .unwrap();
    assert_eq!(resp.status, 200, "{}", resp.text());
}

#[tokio::test]
async fn any_over_limit_body_gets_the_json_413_through_envoy() {
    let gw = Gateway::start(demo_stdio_yaml("local", "")).await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    for mb in [20usize, 100] {
        let body = Bytes::from(vec![b' '; mb << 20]);
        let req = ::http::Request::post(gw.url())
            .header("authorization", auth())
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(Full::new(body))
            .unwrap();
        let resp = client.request(req).await.expect("an answer, not a reset");
        let status = resp.status().as_u16();
        let text = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&text);
        assert_eq!(status, 413, "{mb} MB: {text}");
        let v: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{mb} MB: {e}: {text}"));
        assert!(v.to_string().contains("4194304"), "{v}");
    }
    // Chunked, with no Content-Length: found out while reading.
    let chunked = Client::builder(TokioExecutor::new()).build_http();
    let chunks = (0..20)
        .map(|_| Ok::<_, std::convert::Infallible>(Frame::data(Bytes::from(vec![b' '; 1 << 20]))));
    let body = StreamBody::new(futures_util::stream::iter(chunks));
    let req = ::http::Request::post(gw.url())
        .header("authorization", auth())
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body)
        .unwrap();
    let resp = chunked.request(req).await.expect("an answer, not a reset");
    assert_eq!(resp.status(), 413);
    let text = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(serde_json::from_slice::<Value>(&text).is_ok(), "{text:?}");
    // And the gateway serves the next request.
    let resp = post(
        &gw.url(),
        &[("authorization", &auth())],
        r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
    )
    .await
    .unwrap();
    assert_eq!(resp.status, 200);
}

/// Memory after many max-size batches of `tools/list` (the 10k-item batch that left
/// the sidecar at ~800 MB is refused now): it settles instead of growing per batch.
/// Numbers are printed for docs/benchmarks.md; the bound is generous.
#[tokio::test]
async fn rss_settles_after_a_loop_of_max_size_batches() {
    let gw = Gateway::start(demo_stdio_yaml("local", "")).await;
    let old = session(&gw, "2025-03-26").await;
    let items: Vec<Value> = (0..100)
        .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "tools/list"}))
        .collect();
    let batch = Value::Array(items).to_string();
    let pid = gw.sidecar.pid();
    let run = |n: usize| {
        let (gw, old, batch) = (&gw, &old, &batch);
        async move {
            for _ in 0..n {
                let resp = post_in(gw, old, batch).await;
                assert_eq!(resp.status, 200, "{}", resp.text());
            }
        }
    };
    run(5).await;
    let warm = load::rss_kb(pid);
    run(200).await;
    let after_200 = load::rss_kb(pid);
    run(200).await;
    let after_400 = load::rss_kb(pid);
    let refused = (0..20)
        .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "tools/list"}))
        .cycle()
        .take(10_000)
        .collect::<Vec<_>>();
    let resp = post_in(&gw, &old, &Value::Array(refused).to_string()).await;
    assert_eq!(resp.status, 400);
    let after_refusal = load::rss_kb(pid);
    println!(
        "sidecar RSS (kB): warm {warm}, after 200 batches of 100 tools/list {after_200}, after 400 {after_400}, after a refused 10k batch {after_refusal}"
    );
    // The second 200 batches add nothing much over the first: no growth per batch.
    assert!(
        after_400 - after_200 < 20_000,
        "RSS grew {} kB over 200 more batches",
        after_400 - after_200
    );
}
