//! Admin API calls through Envoy (the filter signs them like any request).

use serde_json::Value;
use std::time::{Duration, Instant};

use crate::http::{request, Resp};
use crate::{Gateway, MASTER_KEY};

/// One request with a gateway key (`Authorization: Bearer`) and extra headers.
pub async fn send(
    gw: &Gateway,
    key: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Resp {
    let auth = format!("Bearer {key}");
    let mut all = vec![
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    all.extend_from_slice(headers);
    request(method, &format!("{}{path}", gw.base()), &all, body)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// A master-key admin call that must answer 200; its JSON.
pub async fn master(gw: &Gateway, method: &str, path: &str, body: Value) -> Value {
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let resp = send(gw, MASTER_KEY, method, path, &[], &text).await;
    assert_eq!(resp.status, 200, "{method} {path}: {}", resp.text());
    resp.json()
}

/// A JSON-RPC request on `/mcp` with a key; the whole response.
pub async fn rpc(gw: &Gateway, key: &str, headers: &[(&str, &str)], body: &Value) -> Resp {
    let auth = format!("Bearer {key}");
    let mut all = vec![("authorization", auth.as_str())];
    all.extend_from_slice(headers);
    crate::http::post(&gw.url(), &all, &body.to_string())
        .await
        .unwrap_or_else(|e| panic!("rpc: {e}"))
}

/// `tools/call` of `name` with `arguments`; the JSON-RPC response.
pub async fn call_tool(
    gw: &Gateway,
    key: &str,
    headers: &[(&str, &str)],
    name: &str,
    arguments: Value,
) -> Value {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                  "params": {"name": name, "arguments": arguments}});
    let resp = rpc(gw, key, headers, &body).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.json()
}

/// `/spend/logs` with a query, as the master key.
pub async fn spend_logs(gw: &Gateway, query: &str) -> Value {
    master(gw, "GET", &format!("/spend/logs?{query}"), Value::Null).await
}

/// Rows are written off the request path: waits until `n` rows match `query`.
pub async fn await_spend_rows(gw: &Gateway, query: &str, n: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = spend_logs(gw, query).await;
        if v["total"].as_u64() == Some(n) || Instant::now() > deadline {
            assert_eq!(v["total"].as_u64(), Some(n), "{query}: {v}");
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
