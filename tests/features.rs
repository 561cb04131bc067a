//! Every MCP feature through the gateway (issue 3): prompts and resources aggregated
//! over several real servers (server-everything from npm, twice), through real Envoy.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_e2e::http::post;
use meshgate_e2e::*;
use serde_json::{json, Value};

async fn rpc(gw: &Gateway, headers: &[(&str, &str)], method: &str, params: Value) -> Value {
    let auth = format!("Bearer {MASTER_KEY}");
    let mut all = vec![("authorization", auth.as_str())];
    all.extend_from_slice(headers);
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let resp = post(&gw.url(), &all, &body.to_string())
        .await
        .expect("request");
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.json()
}

fn two_everythings() -> String {
    format!(
        "{}{}",
        everything_stdio_yaml("everything"),
        everything_stdio_yaml("e2")
    )
}

#[tokio::test]
async fn prompts_are_listed_prefixed_and_routed() {
    let gw = Gateway::start(two_everythings()).await;
    let v = rpc(&gw, &[], "prompts/list", json!({})).await;
    let names: Vec<&str> = v["result"]["prompts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for expected in [
        "everything-simple-prompt",
        "everything-args-prompt",
        "e2-simple-prompt",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let v = rpc(
        &gw,
        &[],
        "prompts/get",
        json!({"name": "e2-args-prompt", "arguments": {"city": "Lisbon", "state": "PT"}}),
    )
    .await;
    assert!(
        v["result"]["messages"].to_string().contains("Lisbon"),
        "{v}"
    );
    // A bare name offered by two servers is ambiguous; narrowed to one, it resolves.
    let v = rpc(&gw, &[], "prompts/get", json!({"name": "simple-prompt"})).await;
    assert_eq!(v["error"]["code"], -32602);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("everything-simple-prompt"),
        "{v}"
    );
    let v = rpc(
        &gw,
        &[("x-mcp-servers", "e2")],
        "prompts/get",
        json!({"name": "simple-prompt"}),
    )
    .await;
    assert!(v["result"]["messages"].is_array(), "{v}");
}

#[tokio::test]
async fn resources_are_readable_across_several_servers_by_rewritten_uri() {
    let gw = Gateway::start(two_everythings()).await;
    let v = rpc(&gw, &[], "resources/list", json!({})).await;
    let resources = v["result"]["resources"].as_array().unwrap();
    let uris: Vec<&str> = resources.iter().filter_map(|r| r["uri"].as_str()).collect();
    let doc = "meshgate://e2/demo://resource/static/document/architecture.md";
    assert!(uris.contains(&doc), "{uris:?}");
    assert!(uris.contains(&"meshgate://everything/demo://resource/static/document/architecture.md"));
    assert!(resources.iter().all(|r| r["name"]
        .as_str()
        .is_some_and(|n| n.starts_with("everything-") || n.starts_with("e2-"))));

    let v = rpc(&gw, &[], "resources/read", json!({"uri": doc})).await;
    let contents = &v["result"]["contents"][0];
    assert_eq!(
        contents["uri"], doc,
        "URIs in results are rewritten too: {v}"
    );
    assert!(
        contents["text"].as_str().is_some_and(|t| !t.is_empty()),
        "{v}"
    );

    let v = rpc(&gw, &[], "resources/templates/list", json!({})).await;
    let templates: Vec<&str> = v["result"]["resourceTemplates"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["uriTemplate"].as_str())
        .collect();
    assert!(
        templates.contains(&"meshgate://everything/demo://resource/dynamic/text/{resourceId}"),
        "{templates:?}"
    );
    let v = rpc(
        &gw,
        &[],
        "resources/read",
        json!({"uri": "meshgate://everything/demo://resource/dynamic/text/7"}),
    )
    .await;
    assert!(v["result"]["contents"][0]["text"].as_str().is_some(), "{v}");

    // A plain upstream URI is ambiguous with several servers, fine with one.
    let plain = "demo://resource/static/document/architecture.md";
    let v = rpc(&gw, &[], "resources/read", json!({"uri": plain})).await;
    assert_eq!(v["error"]["code"], -32002, "{v}");
    let v = rpc(
        &gw,
        &[("x-mcp-servers", "everything")],
        "resources/read",
        json!({"uri": plain}),
    )
    .await;
    assert!(v["result"]["contents"].is_array(), "{v}");
    // Narrowing is enforced on reads: e2's URI is out of scope here.
    let v = rpc(
        &gw,
        &[("x-mcp-servers", "everything")],
        "resources/read",
        json!({"uri": doc}),
    )
    .await;
    assert_eq!(v["error"]["code"], -32002, "{v}");
}

#[tokio::test]
async fn completion_and_logging_are_routed_and_fanned_out() {
    let gw = Gateway::start(two_everythings()).await;
    let v = rpc(
        &gw,
        &[],
        "completion/complete",
        json!({"ref": {"type": "ref/prompt", "name": "e2-completable-prompt"}, "argument": {"name": "department", "value": "E"}}),
    )
    .await;
    let values = v["result"]["completion"]["values"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"));
    assert!(
        values
            .iter()
            .any(|x| x.as_str().is_some_and(|s| s.starts_with('E'))),
        "{v}"
    );
    let v = rpc(&gw, &[], "completion/complete", json!({"ref": {"type": "ref/prompt", "name": "nope-x"}, "argument": {"name": "a", "value": ""}})).await;
    assert_eq!(v["error"]["code"], -32602);
    let v = rpc(&gw, &[], "logging/setLevel", json!({"level": "debug"})).await;
    assert_eq!(v["result"], json!({}), "{v}");
    let v = rpc(&gw, &[], "logging/setLevel", json!({"level": "loud"})).await;
    assert_eq!(v["error"]["code"], -32602);
}

#[tokio::test]
async fn bad_origin_is_403_and_oversize_body_is_413_without_disturbing_others() {
    let mut opts = GatewayOptions::new(demo_stdio_yaml("local", ""));
    opts.meshgate_yaml =
        "  max_body_bytes: 4096\n  allowed_origins: [\"https://app.example.com\"]\n".into();
    let gw = Gateway::start_with(opts).await;
    let auth = format!("Bearer {MASTER_KEY}");
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    for (origin, status) in [
        ("http://evil.example.com", 403),
        ("http://localhost:6274", 200),
        ("https://app.example.com", 200),
    ] {
        let resp = post(
            &gw.url(),
            &[("authorization", &auth), ("origin", origin)],
            ping,
        )
        .await
        .unwrap();
        assert_eq!(resp.status, status, "{origin}: {}", resp.text());
    }
    let big = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "local-echo", "arguments": {"text": "x".repeat(10_000)}}});
    let resp = post(&gw.url(), &[("authorization", &auth)], &big.to_string())
        .await
        .unwrap();
    assert_eq!(resp.status, 413);
    assert!(resp.text().contains("4096"), "{}", resp.text());
    // Other requests keep working.
    let resp = post(&gw.url(), &[("authorization", &auth)], ping)
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
}

#[tokio::test]
async fn old_clients_use_the_legacy_sse_endpoint() {
    let gw = Gateway::start(demo_stdio_yaml("local", "")).await;
    // The official Python SDK's HTTP+SSE client, on both paths.
    for path in ["/sse", "/mcp/sse"] {
        let mut cmd = python_with_mcp();
        cmd.arg(repo_root().join("tests/python/legacy_sse_client.py"))
            .arg(format!("{}{path}", gw.base()))
            .arg(MASTER_KEY);
        let out = tokio::time::timeout(std::time::Duration::from_secs(60), cmd.output())
            .await
            .expect("client hung")
            .expect("python runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{path}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("'local-echo'"), "{stdout}");
        assert!(stdout.contains("echo over legacy sse"), "{stdout}");
    }
    // A made-up session id is a 404; the stream needs the key like everything else.
    let auth = format!("Bearer {MASTER_KEY}");
    let resp = post(
        &format!("{}/messages?sessionId=nope", gw.base()),
        &[("authorization", &auth)],
        r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
    )
    .await
    .unwrap();
    assert_eq!(resp.status, 404);
    let resp = meshgate_e2e::http::request(
        "GET",
        &format!("{}/sse", gw.base()),
        &[("accept", "text/event-stream")],
        "",
    )
    .await
    .unwrap();
    assert_eq!(resp.status, 401);
}
