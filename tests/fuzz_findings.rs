//! Inputs the fuzzers (fuzz/) found, replayed through the real gateway. A test here
//! that is ignored names a defect not fixed yet (docs/security.md, "Fuzzing").
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_e2e::http::post;
use meshgate_e2e::*;

/// F1 (fuzz target `jsonrpc`): a float id came back as another number. JSON-RPC and
/// MCP ids are strings or integers: anything else is -32600, before any framing.
#[tokio::test]
async fn f1_float_request_id_is_refused_not_echoed_changed() {
    let gw = Gateway::start(demo_stdio_yaml("local", "")).await;
    let auth = format!("Bearer {MASTER_KEY}");
    let body = r#"{"jsonrpc":"2.0","id":900719927359399273.944,"method":"ping"}"#;
    let resp = post(&gw.url(), &[("authorization", &auth)], body)
        .await
        .expect("request");
    let v = resp.json();
    assert_eq!(v["error"]["code"], -32600, "{v}");
}
