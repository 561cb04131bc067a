//! MCP 2026-07-28 request headers through real Envoy + the built filter: `Mcp-Method`
//! and `Mcp-Name` are read at header time, so a call that names a server the key may
//! not use is refused before any body is read, a malformed `=?base64?…?=` value is a
//! 400, and calls within the key's servers (or without the headers, as older clients
//! send them) still reach the upstream.

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
    let v = r.json();
    assert_eq!(v["error"], "server_not_allowed", "{v}");
    assert_eq!(
        v["message"],
        "tool `beta-echo` is on MCP server `beta`, which this key or request may not use"
    );
    // A body that is not even JSON: still the filter's 403, not the sidecar's -32700.
    let r = post(&gw, &key, &modern("beta-echo"), "not json at all").await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["error"], "server_not_allowed");

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
    assert!(r.json()["message"]
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
        r.json()["message"]
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
    assert_eq!(v["error"], "invalid_mcp_header", "{v}");
    assert!(
        v["message"]
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
