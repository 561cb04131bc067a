//! `rpm_limit` counts every request of a JSON-RPC batch: the filter reads the POST body of
//! rate-limited keys on MCP paths, counts the batch's elements and charges them all (a
//! batch that does not fit is refused whole with 429). Single messages still stream.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_e2e::http::{request, Resp};
use meshgate_e2e::*;
use serde_json::{json, Value};

async fn post(gw: &Gateway, key: &str, body: &str) -> Resp {
    let auth = format!("Bearer {key}");
    request(
        "POST",
        &gw.url(),
        &[
            ("authorization", &auth),
            ("mcp-protocol-version", "2025-03-26"),
        ],
        body,
    )
    .await
    .expect("gateway reachable")
}

fn batch(n: usize) -> String {
    let items: Vec<Value> = (0..n)
        .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "ping"}))
        .collect();
    Value::Array(items).to_string()
}

async fn key_with(gw: &Gateway, body: Value) -> String {
    let r = post_admin(gw, &body).await;
    r["key"].as_str().expect("key").to_string()
}

async fn post_admin(gw: &Gateway, body: &Value) -> Value {
    let auth = format!("Bearer {MASTER_KEY}");
    let r = request(
        "POST",
        &format!("{}/key/generate", gw.base()),
        &[("authorization", &auth)],
        &body.to_string(),
    )
    .await
    .expect("admin reachable");
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

#[tokio::test]
async fn every_request_of_a_batch_counts_against_rpm_limit() {
    let gw = Gateway::start(demo_stdio_yaml("demo", "")).await;
    let limited = key_with(&gw, json!({"rpm_limit": 3})).await;

    // 1,000 requests in one batch on a 3 rpm key: refused whole.
    let r = post(&gw, &limited, &batch(1000)).await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.json()["error"], "rate_limited");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("batch of 1000"),
        "{}",
        r.text()
    );
    assert!(r.header("retry-after").is_some());
    // The refused batch cost one request (counted at header time), the next one of two
    // fits exactly (1 + 2 = 3) ...
    let r = post(&gw, &limited, &batch(2)).await;
    assert_ne!(r.status, 429, "{}", r.text());
    // ... and then the limit is used up.
    let r = post(&gw, &limited, r#"{"jsonrpc":"2.0","id":9,"method":"ping"}"#).await;
    assert_eq!(r.status, 429, "{}", r.text());

    // Keys without a limit are not read: a big batch reaches the sidecar.
    let free = key_with(&gw, json!({})).await;
    let r = post(&gw, &free, &batch(50)).await;
    assert_ne!(r.status, 429, "{}", r.text());
}

#[tokio::test]
async fn a_large_single_message_of_a_limited_key_is_not_buffered() {
    let gw = Gateway::start(demo_stdio_yaml("demo", "")).await;
    let limited = key_with(&gw, json!({"rpm_limit": 100})).await;
    // Larger than Envoy's 1 MiB buffer: it must stream past the filter (the sidecar's
    // own 4 MiB limit applies), so it is answered by the sidecar, not with Envoy's 413.
    let big = json!({"jsonrpc": "2.0", "id": 1, "method": "ping",
                     "params": {"pad": "x".repeat(2 * 1024 * 1024)}})
    .to_string();
    let r = post(&gw, &limited, &big).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["result"], json!({}));
    // Whitespace before the opening bracket does not hide a batch.
    let r = post(&gw, &limited, &format!(" \n\t{}", batch(200))).await;
    assert_eq!(r.status, 429, "{}", r.text());
}
