//! MCP 2026-07-28 request headers through real Envoy + the built filter: `Mcp-Method`
//! and `Mcp-Name` are read at header time, so a call that names a server the key may
//! not use is refused before any body is read, a malformed `=?base64?…?=` value is a
//! 400, and calls within the key's servers (or without the headers, as older clients
//! send them) still reach the upstream.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_e2e::http::{request, Resp};
use meshgate_e2e::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn http_server_yaml(name: &str, addr: &str) -> String {
    format!("  {name}:\n    url: http://{addr}/mcp\n    transport: http\n")
}

/// `=?base64?…?=` of a value (standard alphabet, padded), as 2026-07-28 clients send
/// values that are not plain ASCII.
fn encoded(value: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::from("=?base64?");
    for chunk in value.as_bytes().chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out.push_str("?=");
    out
}

async fn post(gw: &Gateway, key: &str, headers: &[(&str, &str)], body: &str) -> Resp {
    let auth = format!("Bearer {key}");
    let mut all = vec![("x-litellm-api-key", auth.as_str())];
    all.extend_from_slice(headers);
    request("POST", &gw.url(), &all, body)
        .await
        .unwrap_or_else(|e| panic!("POST /mcp: {e}"))
}

fn call_body(name: &str, text: &str) -> String {
    json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
           "params": {"name": name, "arguments": {"text": text}}})
    .to_string()
}

/// The bare tool names of the `tools/call`s a demo HTTP upstream received.
async fn upstream_calls(addr: &str) -> Vec<String> {
    let r = request("GET", &format!("http://{addr}/__requests"), &[], "")
        .await
        .expect("recorded requests");
    r.json()
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|r| r["rpc_method"] == "tools/call")
        .map(|r| r["tool"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// A key that may use only `servers`, made through the admin API and loaded by the
/// filter (polled until it authenticates).
async fn key_for(gw: &Gateway, servers: &[&str]) -> String {
    let resp = post_admin(
        gw,
        "/key/generate",
        json!({"object_permission": {"mcp_servers": servers}}),
    )
    .await;
    let key = resp["key"].as_str().expect("key").to_string();
    let started = Instant::now();
    loop {
        let r = post(gw, &key, &[], r#"{"jsonrpc":"2.0","id":0,"method":"ping"}"#).await;
        if r.status == 200 {
            return key;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "key not loaded: {} {}",
            r.status,
            r.text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn post_admin(gw: &Gateway, path: &str, body: Value) -> Value {
    let auth = format!("Bearer {MASTER_KEY}");
    let r = request(
        "POST",
        &format!("{}{path}", gw.base()),
        &[("x-litellm-api-key", auth.as_str())],
        &body.to_string(),
    )
    .await
    .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    assert_eq!(r.status, 200, "POST {path}: {}", r.text());
    r.json()
}

/// Sends only the request head of a POST announcing a body that never comes, and reads
/// what Envoy answers: a filter that decides at header time answers anyway.
async fn head_only(gw: &Gateway, key: &str, extra: &[(&str, &str)]) -> String {
    let mut head = format!(
        "POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:{}\r\nx-litellm-api-key: Bearer {key}\r\n\
         content-type: application/json\r\naccept: application/json, text/event-stream\r\n\
         content-length: 4096\r\n",
        gw.port
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", gw.port))
        .await
        .expect("connect to Envoy");
    stream.write_all(head.as_bytes()).await.expect("send head");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    // Read until the JSON body of the local reply is complete (or the time is up).
    while Instant::now() < deadline && !String::from_utf8_lossy(&got).trim_end().ends_with('}') {
        match tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf)).await {
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => panic!("read: {e}"),
            Err(_) => continue,
        }
    }
    String::from_utf8_lossy(&got).to_string()
}

#[tokio::test]
async fn mcp_method_and_name_headers_are_enforced_at_header_time() {
    let (_alpha, alpha) = demo_http("alpha", &[]).await;
    let (_beta, beta) = demo_http("beta", &[]).await;
    let gw = Gateway::start_with(GatewayOptions::new(
        http_server_yaml("alpha", &alpha) + &http_server_yaml("beta", &beta),
    ))
    .await;
    let key = key_for(&gw, &["alpha"]).await;
    let modern = |name: &'static str| {
        vec![
            ("mcp-method", "tools/call"),
            ("mcp-name", name),
            ("mcp-protocol-version", "2026-07-28"),
        ]
    };

    // 1. Headers naming beta, with a body that alone would be allowed (alpha-echo): the
    //    filter refuses from the headers; the body never reaches alpha.
    let r = post(
        &gw,
        &key,
        &modern("beta-echo"),
        &call_body("alpha-echo", "must not arrive"),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    // 2026-07-28 clients get the refusal as a JSON-RPC error (id unknown: null).
    let v = r.json();
    assert_eq!(v["jsonrpc"], "2.0", "{v}");
    assert!(v["id"].is_null(), "{v}");
    assert_eq!(v["error"]["data"]["error"], "server_not_allowed", "{v}");
    assert_eq!(
        v["error"]["message"],
        "tool `beta-echo` is on MCP server `beta`, which this key or request may not use"
    );
    // A body that is not even JSON: still the filter's 403, not the sidecar's -32700.
    let r = post(&gw, &key, &modern("beta-echo"), "not json at all").await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["error"]["data"]["error"], "server_not_allowed");

    // 2. No body at all: Envoy answers the request head alone (content-length announced,
    //    nothing sent), which only a header-time decision can do.
    let answer = head_only(
        &gw,
        &key,
        &[("mcp-method", "tools/call"), ("mcp-name", "beta-echo")],
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("server_not_allowed"), "{answer}");

    // 3. The base64 form is decoded (ASCII and non-ASCII names).
    let r = post(
        &gw,
        &key,
        &[
            ("mcp-method", "tools/call"),
            ("mcp-name", &encoded("beta-echo")),
        ],
        &call_body("alpha-echo", "must not arrive"),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .starts_with("tool `beta-echo` is on MCP server `beta`"));
    let r = post(
        &gw,
        &key,
        &[
            ("mcp-method", "tools/call"),
            ("mcp-name", &encoded("BETA-écho ✓")),
        ],
        &call_body("alpha-echo", "must not arrive"),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("tool `BETA-écho ✓` is on MCP server `beta`"),
        "{}",
        r.text()
    );
    // Prompts and gateway resource URIs are held to the same servers.
    let r = post(
        &gw,
        &key,
        &[
            ("mcp-method", "resources/read"),
            ("mcp-name", "meshgate://beta/file:///etc/hosts"),
        ],
        r#"{"jsonrpc":"2.0","id":8,"method":"resources/read","params":{"uri":"meshgate://beta/file:///etc/hosts"}}"#,
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = post(
        &gw,
        &key,
        &[("mcp-method", "prompts/get"), ("mcp-name", "beta-greet")],
        r#"{"jsonrpc":"2.0","id":9,"method":"prompts/get","params":{"name":"beta-greet"}}"#,
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());

    // 4. A malformed encoding is a 400 naming the header.
    let r = post(
        &gw,
        &key,
        &[
            ("mcp-method", "tools/call"),
            ("mcp-name", "=?base64?not*base64?="),
        ],
        &call_body("alpha-echo", "must not arrive"),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let v = r.json();
    assert_eq!(v["error"]["code"], -32600, "{v}");
    assert_eq!(v["error"]["data"]["error"], "invalid_mcp_header", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Mcp-Name"),
        "{v}"
    );

    // Nothing above reached an upstream.
    assert!(upstream_calls(&alpha).await.is_empty());
    assert!(upstream_calls(&beta).await.is_empty());

    // 5. Matching headers for the key's server work, plain and encoded.
    for name in ["alpha-echo".to_string(), encoded("alpha-echo")] {
        let r = post(
            &gw,
            &key,
            &[("mcp-method", "tools/call"), ("mcp-name", &name)],
            &call_body("alpha-echo", "through"),
        )
        .await;
        assert_eq!(r.status, 200, "{name}: {}", r.text());
        let v = r.json();
        assert_eq!(v["result"]["content"][0]["text"], "through", "{v}");
    }
    let calls = upstream_calls(&alpha).await;
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls.iter().all(|tool| tool == "echo"), "{calls:?}");

    // 6. Older clients send no such headers and are never refused by the filter: the
    //    sidecar answers from the body (an isError result for beta's tool).
    let r = post(&gw, &key, &[], &call_body("beta-echo", "old client")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["result"]["isError"], true, "{}", r.text());
    assert!(upstream_calls(&beta).await.is_empty());
}

// ---------------------------------------------------------------------------------
// MCP 2026-07-28 served by the sidecar: server/discover, stateless requests, headers
// checked against the body, results stamped for 2026 clients, MRTR.

const MODERN: &str = "2026-07-28";

/// `params._meta` of a 2026-07-28 request declaring `caps`.
fn modern_meta(caps: Value) -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": caps,
        "io.modelcontextprotocol/clientInfo": {"name": "meshgate-modern-test", "version": "1"},
    })
}

/// A 2026-07-28 request body (`_meta` merged into `params`).
fn modern_body(id: i64, method: &str, mut params: Value, caps: Value) -> String {
    let mut meta = modern_meta(caps);
    if let (Some(m), Some(given)) = (meta.as_object_mut(), params["_meta"].as_object()) {
        m.extend(given.clone());
    }
    params["_meta"] = meta;
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()
}

/// POSTs a 2026-07-28 request with the headers a 2026 client sends (`Mcp-Name` when the
/// method carries one), plus `extra` (which may override them).
async fn modern_post(gw: &Gateway, body: &str, extra: &[(&str, &str)]) -> Resp {
    let v: Value = serde_json::from_str(body).expect("JSON body");
    let method = v["method"].as_str().unwrap_or_default().to_string();
    let name = v["params"]["name"]
        .as_str()
        .or(v["params"]["uri"].as_str())
        .map(str::to_string);
    let mut headers = vec![
        ("mcp-protocol-version", MODERN),
        ("mcp-method", method.as_str()),
    ];
    if let (Some(n), true) = (
        name.as_deref(),
        matches!(
            method.as_str(),
            "tools/call" | "prompts/get" | "resources/read"
        ),
    ) {
        headers.push(("mcp-name", n));
    }
    for (k, v) in extra {
        headers.retain(|(h, _)| !h.eq_ignore_ascii_case(k));
        headers.push((k, v));
    }
    post(gw, MASTER_KEY, &headers, body).await
}

fn server_info_of(result: &Value) -> &Value {
    &result["_meta"]["io.modelcontextprotocol/serverInfo"]
}

#[tokio::test]
async fn server_discover_versions_and_removed_methods_for_2026_clients() {
    let (_alpha, alpha) = demo_http("alpha", &[]).await;
    let gw = Gateway::start(http_server_yaml("alpha", &alpha)).await;

    let r = modern_post(
        &gw,
        &modern_body(1, "server/discover", json!({}), json!({})),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("mcp-session-id"), None);
    let v = r.json();
    let result = &v["result"];
    assert_eq!(
        result["supportedVersions"],
        json!(["2025-03-26", "2025-06-18", "2025-11-25", MODERN]),
        "{v}"
    );
    assert_eq!(result["resultType"], "complete");
    assert_eq!(result["cacheScope"], "private");
    assert!(result["ttlMs"].as_u64().is_some(), "{v}");
    assert_eq!(server_info_of(result)["name"], "meshgate", "{v}");
    let caps = &result["capabilities"];
    for cap in ["tools", "prompts", "resources", "completions", "logging"] {
        assert!(caps[cap].is_object(), "{cap}: {v}");
    }
    // Delivered by subscriptions/listen in 2026, which the gateway serves.
    assert_eq!(caps["tools"]["listChanged"], true, "{v}");
    assert_eq!(caps["resources"]["subscribe"], true, "{v}");
    assert!(result["instructions"].is_string());

    // Older clients (no 2026 version) still get -32601 for server/discover.
    let r = post(
        &gw,
        MASTER_KEY,
        &[],
        r#"{"jsonrpc":"2.0","id":2,"method":"server/discover","params":{}}"#,
    )
    .await;
    assert_eq!(r.json()["error"]["code"], -32601, "{}", r.text());

    // An unsupported version: 400 + -32022 listing what is supported.
    let r = post(
        &gw,
        MASTER_KEY,
        &[
            ("mcp-protocol-version", "2099-01-01"),
            ("mcp-method", "tools/list"),
        ],
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{}}"#,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let v = r.json();
    assert_eq!(v["error"]["code"], -32022, "{v}");
    assert_eq!(v["error"]["data"]["requested"], "2099-01-01");
    assert!(v["error"]["data"]["supported"]
        .as_array()
        .is_some_and(|s| s.contains(&json!(MODERN)) && s.contains(&json!("2025-11-25"))));

    // Methods 2026 removed, and unknown ones: 404 + -32601.
    for method in [
        "initialize",
        "ping",
        "logging/setLevel",
        "resources/subscribe",
        "no/such",
    ] {
        let params = if method == "resources/subscribe" {
            json!({"uri": "meshgate://alpha/demo://x"})
        } else {
            json!({})
        };
        let r = modern_post(&gw, &modern_body(4, method, params, json!({})), &[]).await;
        assert_eq!(r.status, 404, "{method}: {}", r.text());
        let v = r.json();
        assert_eq!(v["error"]["code"], -32601, "{method}: {v}");
        assert_eq!(v["id"], 4);
    }

    // No GET stream and no session to DELETE in 2026: 405.
    let auth = format!("Bearer {MASTER_KEY}");
    for verb in ["GET", "DELETE"] {
        let r = request(
            verb,
            &gw.url(),
            &[
                ("x-litellm-api-key", auth.as_str()),
                ("mcp-protocol-version", MODERN),
                ("accept", "text/event-stream"),
            ],
            "",
        )
        .await
        .expect("request");
        assert_eq!(r.status, 405, "{verb}: {}", r.text());
        assert_eq!(r.header("allow"), Some("POST"));
    }
}

#[tokio::test]
async fn stateless_2026_requests_headers_checked_and_results_stamped() {
    let (_alpha, alpha) = demo_http("alpha", &[]).await;
    let gw = Gateway::start(http_server_yaml("alpha", &alpha)).await;

    // tools/list and tools/call without initialize and without a session.
    let r = modern_post(
        &gw,
        &modern_body(1, "tools/list", json!({}), json!({})),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("mcp-session-id"), None);
    let v = r.json();
    let result = &v["result"];
    assert!(
        result["tools"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["name"] == "alpha-echo")),
        "{v}"
    );
    assert_eq!(result["resultType"], "complete");
    assert_eq!(result["ttlMs"], 0);
    assert_eq!(result["cacheScope"], "private");
    assert_eq!(server_info_of(result)["name"], "meshgate");

    let body = modern_body(
        2,
        "tools/call",
        json!({"name": "alpha-echo", "arguments": {"text": "stateless"}}),
        json!({}),
    );
    let r = modern_post(&gw, &body, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["id"], 2);
    assert_eq!(v["result"]["content"][0]["text"], "stateless", "{v}");
    assert_eq!(v["result"]["resultType"], "complete");
    assert_eq!(server_info_of(&v["result"])["name"], "meshgate");
    assert_eq!(upstream_calls(&alpha).await, ["echo"]);

    // Older clients get results as before: no resultType, no serverInfo stamp.
    let r = post(&gw, MASTER_KEY, &[], &call_body("alpha-echo", "old")).await;
    let v = r.json();
    assert_eq!(v["result"]["content"][0]["text"], "old", "{v}");
    assert!(v["result"].get("resultType").is_none(), "{v}");
    assert!(server_info_of(&v["result"]).is_null(), "{v}");

    // Resource not found: -32602 for 2026 clients, -32002 for older ones.
    let uri = "meshgate://nowhere/demo://x";
    let r = modern_post(
        &gw,
        &modern_body(3, "resources/read", json!({"uri": uri}), json!({})),
        &[],
    )
    .await;
    assert_eq!(r.json()["error"]["code"], -32602, "{}", r.text());
    let r = post(
        &gw,
        MASTER_KEY,
        &[],
        &json!({"jsonrpc": "2.0", "id": 3, "method": "resources/read", "params": {"uri": uri}})
            .to_string(),
    )
    .await;
    assert_eq!(r.json()["error"]["code"], -32002, "{}", r.text());

    // Headers that disagree with the body: 400 + -32020, nothing sent upstream.
    let call = modern_body(
        5,
        "tools/call",
        json!({"name": "alpha-echo", "arguments": {"text": "must not arrive"}}),
        json!({}),
    );
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("mcp-name", "alpha-add")], "Mcp-Name"),
        (vec![("mcp-method", "tools/list")], "Mcp-Method"),
    ];
    for (extra, named) in cases {
        let r = modern_post(&gw, &call, &extra).await;
        assert_eq!(r.status, 400, "{extra:?}: {}", r.text());
        let v = r.json();
        assert_eq!(v["error"]["code"], -32020, "{v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains(named),
            "{v}"
        );
    }
    // A 2026 request must name its method; `_meta` must name the header's version.
    let auth = format!("Bearer {MASTER_KEY}");
    let r = request(
        "POST",
        &gw.url(),
        &[
            ("x-litellm-api-key", auth.as_str()),
            ("mcp-protocol-version", MODERN),
        ],
        &call,
    )
    .await
    .expect("POST");
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], -32020);
    let r = modern_post(&gw, &call, &[("mcp-protocol-version", "2025-11-25")]).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], -32020, "{}", r.text());
    // Older clients that send Mcp-Method anyway are held to it too.
    let r = post(
        &gw,
        MASTER_KEY,
        &[("mcp-method", "tools/list")],
        &call_body("alpha-echo", "must not arrive"),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], -32020);
    assert_eq!(
        upstream_calls(&alpha).await,
        ["echo", "echo"],
        "only the two good calls"
    );
}

#[tokio::test]
async fn capabilities_in_meta_reach_the_upstream_and_mrtr_bridges_sampling() {
    let (_ev, port) = everything_http("streamableHttp").await;
    let gw = Gateway::start(format!(
        "  ehttp:\n    url: http://127.0.0.1:{port}/mcp\n    transport: http\n"
    ))
    .await;
    let sampling = json!({"sampling": {}});
    let names = |v: &Value| -> Vec<String> {
        v["result"]["tools"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(|t| t["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    // server-everything offers its sampling tool only to clients that can sample: the
    // upstream session was opened with what this request's `_meta` declared.
    let r = modern_post(
        &gw,
        &modern_body(1, "tools/list", json!({}), sampling.clone()),
        &[],
    )
    .await;
    let capable = names(&r.json());
    assert!(
        capable.contains(&"ehttp-trigger-sampling-request".to_string()),
        "{capable:?}"
    );
    let r = modern_post(
        &gw,
        &modern_body(2, "tools/list", json!({}), json!({})),
        &[],
    )
    .await;
    let plain = names(&r.json());
    assert!(plain.contains(&"ehttp-echo".to_string()), "{plain:?}");
    assert!(!plain.contains(&"ehttp-trigger-sampling-request".to_string()));

    // MRTR: the upstream's sampling request comes back as `input_required`...
    let params = json!({"name": "ehttp-trigger-sampling-request",
                        "arguments": {"prompt": "say hi", "maxTokens": 20}});
    let r = modern_post(
        &gw,
        &modern_body(3, "tools/call", params.clone(), sampling.clone()),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let result = &v["result"];
    assert_eq!(result["resultType"], "input_required", "{v}");
    let state = result["requestState"]
        .as_str()
        .expect("requestState")
        .to_string();
    let requests = result["inputRequests"].as_object().expect("inputRequests");
    assert_eq!(requests.len(), 1, "{v}");
    let (key, asked) = requests.iter().next().expect("one input request");
    assert_eq!(asked["method"], "sampling/createMessage", "{v}");
    assert!(asked["params"]["messages"][0]["content"]["text"]
        .as_str()
        .unwrap_or_default()
        .contains("say hi"));

    // ...an unknown requestState is refused...
    let mut stale = params.clone();
    stale["requestState"] = json!("mg-rs-made-up");
    stale["inputResponses"] = json!({});
    let r = modern_post(
        &gw,
        &modern_body(4, "tools/call", stale, sampling.clone()),
        &[],
    )
    .await;
    assert_eq!(r.json()["error"]["code"], -32602, "{}", r.text());

    // ...and the retry with the answer gets the upstream's final result.
    let mut retry = params.clone();
    retry["requestState"] = json!(state);
    retry["inputResponses"] = json!({key.clone(): {
        "model": "scripted-model", "role": "assistant",
        "content": {"type": "text", "text": "sampled by the 2026 client"}}});
    let r = modern_post(
        &gw,
        &modern_body(5, "tools/call", retry.clone(), sampling.clone()),
        &[],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = if r.header("content-type") == Some("text/event-stream") {
        last_event(&r.text())
    } else {
        r.json()
    };
    assert_eq!(v["id"], 5);
    assert_eq!(v["result"]["resultType"], "complete", "{v}");
    let text = v["result"]["content"].to_string();
    assert!(
        text.contains("sampled by the 2026 client") && text.contains("scripted-model"),
        "{v}"
    );
    // A requestState is good once.
    let r = modern_post(&gw, &modern_body(6, "tools/call", retry, sampling), &[]).await;
    assert_eq!(r.json()["error"]["code"], -32602, "{}", r.text());

    // Progress for a 2026 client stays on the response stream.
    let body = modern_body(
        7,
        "tools/call",
        json!({"name": "ehttp-trigger-long-running-operation",
               "arguments": {"duration": 0.3, "steps": 3},
               "_meta": {"progressToken": "modern-token"}}),
        json!({}),
    );
    let r = modern_post(&gw, &body, &[]).await;
    assert_eq!(
        r.header("content-type"),
        Some("text/event-stream"),
        "{}",
        r.text()
    );
    let events = events_of(&r.text());
    let progress: Vec<&Value> = events
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .collect();
    assert_eq!(progress.len(), 3, "{events:?}");
    assert!(progress
        .iter()
        .all(|p| p["params"]["progressToken"] == "modern-token"));
    let last = events.last().expect("a response");
    assert_eq!(last["result"]["resultType"], "complete", "{last}");
}

fn events_of(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            (!data.is_empty()).then(|| serde_json::from_str(&data.join("\n")).expect("JSON event"))
        })
        .collect()
}

fn last_event(text: &str) -> Value {
    events_of(text).pop().expect("an event")
}

#[tokio::test]
async fn python_sdk_auto_mode_negotiates_2026_and_legacy_mode_still_initializes() {
    let (_alpha, alpha) = demo_http("alpha", &[]).await;
    let (_ev, port) = everything_http("streamableHttp").await;
    let gw = Gateway::start(
        http_server_yaml("alpha", &alpha)
            + &format!("  ehttp:\n    url: http://127.0.0.1:{port}/mcp\n    transport: http\n"),
    )
    .await;
    let mut cmd = python_with_mcp();
    cmd.arg(repo_root().join("tests/python/modern_client.py"))
        .arg(gw.url())
        .arg(MASTER_KEY)
        .arg("alpha-echo")
        .arg("ehttp-trigger-sampling-request");
    let out = tokio::time::timeout(Duration::from_secs(90), cmd.output())
        .await
        .expect("python client hung")
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("auto protocol 2026-07-28"), "{stdout}");
    assert!(stdout.contains("'alpha-echo'"), "{stdout}");
    assert!(stdout.contains("auto call hello 2026"), "{stdout}");
    assert!(stdout.contains("legacy protocol 2025-11-25"), "{stdout}");
    assert!(stdout.contains("legacy call hello legacy"), "{stdout}");
    assert!(stdout.contains("sampling protocol 2026-07-28"), "{stdout}");
    assert!(stdout.contains("sampling asked:"), "{stdout}");
    assert!(stdout.contains("sampled by python"), "{stdout}");
    // The 2026 calls reached the upstream without sessions of their own: both echoes
    // arrived.
    assert_eq!(upstream_calls(&alpha).await, ["echo", "echo"]);
}

#[tokio::test]
async fn subscriptions_listen_carries_list_changed_to_a_2026_client() {
    let gw = Gateway::start(demo_stdio_yaml("local", "")).await;
    let auth = format!("Bearer {MASTER_KEY}");
    let listen: Value = serde_json::from_str(&modern_body(
        41,
        "subscriptions/listen",
        json!({"notifications": {"toolsListChanged": true, "promptsListChanged": false}}),
        json!({}),
    ))
    .expect("JSON");
    let (status, mut stream) = meshgate_e2e::mcp::post_events(
        &gw.url(),
        &[
            ("authorization", auth.as_str()),
            ("mcp-protocol-version", MODERN),
            ("mcp-method", "subscriptions/listen"),
        ],
        &listen,
    )
    .await;
    assert_eq!(status, 200);
    let ack = stream.next().await.expect("acknowledgement");
    assert_eq!(
        ack["method"], "notifications/subscriptions/acknowledged",
        "{ack}"
    );
    assert_eq!(
        ack["params"]["notifications"],
        json!({"toolsListChanged": true})
    );
    assert_eq!(
        ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        41
    );

    // Another stateless request with the same capabilities changes the tool list.
    let body = modern_body(
        42,
        "tools/call",
        json!({"name": "local-grow", "arguments": {}}),
        json!({}),
    );
    let resp = modern_post(&gw, &body, &[]).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let m = stream.next().await.expect("a notification");
    assert_eq!(m["method"], "notifications/tools/list_changed", "{m}");
    assert_eq!(
        m["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"], 41,
        "{m}"
    );
    let body = modern_body(43, "tools/list", json!({}), json!({}));
    let listed = modern_post(&gw, &body, &[]).await.json();
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"local-grown"), "{names:?}");
}

#[tokio::test]
async fn tools_a_server_refuses_are_refused_by_the_filter_from_the_headers() {
    let (_alpha, alpha) = demo_http("alpha", &[]).await;
    let servers = format!(
        "  alpha:\n    url: http://{alpha}/mcp\n    transport: http\n    disallowed_tools: [fail]\n"
    );
    let gw = Gateway::start(servers).await;
    let headers = [
        ("mcp-protocol-version", MODERN),
        ("mcp-method", "tools/call"),
        ("mcp-name", "alpha-fail"),
    ];
    // The body is never read: even one that names an allowed tool is refused.
    let resp = post(&gw, MASTER_KEY, &headers, &call_body("alpha-echo", "x")).await;
    assert_eq!(resp.status, 403, "{}", resp.text());
    assert_eq!(
        resp.json()["error"]["data"]["error"],
        "tool_not_allowed",
        "{}",
        resp.text()
    );
    assert!(resp.text().contains("alpha-fail"), "{}", resp.text());
    assert!(upstream_calls(&alpha).await.is_empty());
    // An allowed tool goes through.
    let headers = [
        ("mcp-protocol-version", MODERN),
        ("mcp-method", "tools/call"),
        ("mcp-name", "alpha-echo"),
    ];
    let body = modern_body(
        8,
        "tools/call",
        json!({"name": "alpha-echo", "arguments": {"text": "ok"}}),
        json!({}),
    );
    let resp = post(&gw, MASTER_KEY, &headers, &body).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(upstream_calls(&alpha).await, vec!["echo".to_string()]);
}
