//! Guardrails the sidecar runs (issue 12), end to end through real Envoy: post_mcp_call
//! on results from HTTP, stdio and event-stream upstreams; external guardrails
//! (LiteLLM's Generic Guardrail API, served by tests/python/guardrail_service.py)
//! before, beside and after the call, with their timeout and fail_open; the REST
//! endpoint's 400; the counters at `GET /guardrails/metrics`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_e2e::http::{post, request};
use meshgate_e2e::mcp::RawMcp;
use meshgate_e2e::*;
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

fn auth() -> String {
    format!("Bearer {MASTER_KEY}")
}

/// A gateway whose document has `guardrails` (top-level YAML, unindented). The
/// harness places `meshgate_yaml` right before `general_settings:`, at column 0 for
/// lines that start there, so a top-level section can ride along.
async fn gateway(servers: String, guardrails: &str, env: &[(&str, &str)]) -> Gateway {
    let mut opts = GatewayOptions::new(servers);
    opts.meshgate_yaml = format!("guardrails:\n{guardrails}");
    opts.sidecar_env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Gateway::start_with(opts).await
}

async fn call_with(gw: &Gateway, headers: &[(&str, &str)], name: &str, args: Value) -> Value {
    let auth = auth();
    let mut all = vec![("authorization", auth.as_str())];
    all.extend_from_slice(headers);
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                      "params": {"name": name, "arguments": args}});
    let resp = post(&gw.url(), &all, &body.to_string()).await.unwrap();
    assert_eq!(resp.status, 200, "{}", resp.text());
    let v = resp.json();
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

async fn rest_call(gw: &Gateway, headers: &[(&str, &str)], body: Value) -> (u16, Value) {
    let auth = auth();
    let mut all = vec![
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    all.extend_from_slice(headers);
    let url = format!("{}/mcp-rest/tools/call", gw.base());
    let resp = post(&url, &all, &body.to_string()).await.unwrap();
    (resp.status, resp.json())
}

async fn metrics(gw: &Gateway) -> Vec<Value> {
    let auth = auth();
    let url = format!("{}/guardrails/metrics", gw.base());
    let resp = request("GET", &url, &[("authorization", auth.as_str())], "")
        .await
        .unwrap();
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.json()["guardrails"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn count(rows: &[Value], guardrail: &str, entity: &str, action: &str) -> u64 {
    rows.iter()
        .filter(|r| r["guardrail"] == guardrail && r["entity"] == entity && r["action"] == action)
        .map(|r| r["count"].as_u64().unwrap_or(0))
        .sum()
}

/// The test guardrail service (outside the product) on 127.0.0.1.
async fn guardrail_service() -> (Proc, String) {
    let script = repo_root().join("tests/python/guardrail_service.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut proc = Proc::spawn("guardrail-service", cmd);
    let addr = read_listening(&mut proc).await;
    (proc, addr)
}

async fn upstream_requests(addr: &str) -> Vec<Value> {
    let resp = request("GET", &format!("http://{addr}/__requests"), &[], "")
        .await
        .unwrap();
    resp.json().as_array().cloned().unwrap_or_default()
}

const POST_GUARDRAIL: &str = "  - guardrail_name: results\n    litellm_params:\n      guardrail: meshgate\n      mode: post_mcp_call\n      default_on: true\n      pii_entities_config: {EMAIL_ADDRESS: MASK, CREDIT_CARD: BLOCK}\n";

#[tokio::test]
async fn post_call_masks_and_blocks_results_of_http_and_stdio_upstreams() {
    let (_web, addr) = demo_http("web", &[]).await;
    let (_legacy, legacy_port) = everything_http("sse").await;
    let (_pets, pets) = demo_petstore("pets").await;
    let spec = shared_openapi().join("swagger-petstore-v3.yaml");
    let servers = format!(
        "  web:\n    url: http://{addr}/mcp\n    transport: http\n  legacy:\n    url: http://127.0.0.1:{legacy_port}/sse\n    transport: sse\n  pets:\n    spec_path: \"{}\"\n    url: http://{pets}/api/v3\n{}",
        spec.display(),
        demo_stdio_yaml("local", "")
    );
    let gw = gateway(servers, POST_GUARDRAIL, &[]).await;
    // A legacy HTTP+SSE upstream's result is masked too.
    let r = call_with(
        &gw,
        &[],
        "legacy-echo",
        json!({"message": "to bob@corp.io"}),
    )
    .await;
    assert_eq!(text_of(&r), "Echo: to <EMAIL_ADDRESS>", "{r}");
    // An OpenAPI upstream's result: text and structuredContent.
    let pet = json!({"id": 77, "name": "bob@corp.io", "photoUrls": [], "status": "available"});
    let r = call_with(&gw, &[], "pets-addPet", json!({"body": pet})).await;
    assert_eq!(r["structuredContent"]["name"], "<EMAIL_ADDRESS>", "{r}");
    assert!(!r.to_string().contains("bob@corp.io"), "{r}");
    for tool in ["web-echo", "local-echo"] {
        // The upstream gets the arguments as sent (post only) and its result is masked.
        let r = call_with(
            &gw,
            &[],
            tool,
            json!({"text": "write to bob@corp.io today"}),
        )
        .await;
        assert_eq!(text_of(&r), "write to <EMAIL_ADDRESS> today", "{tool}: {r}");
        assert!(r.get("isError").is_none_or(|e| e == false), "{r}");
        // A card number in the result replaces the result with an isError.
        let r = call_with(&gw, &[], tool, json!({"text": "card 4111 1111 1111 1111"})).await;
        assert_eq!(r["isError"], true, "{r}");
        let text = text_of(&r);
        assert!(
            text.contains("CREDIT_CARD") && text.contains("results"),
            "{text}"
        );
        assert!(!text.contains("4111"), "{text}");
    }
    // Nothing to find: the result passes unchanged.
    let r = call_with(&gw, &[], "web-echo", json!({"text": "plain words"})).await;
    assert_eq!(text_of(&r), "plain words");
    // REST: a blocked result is LiteLLM's 400 guardrail_violation; a masked one is 200.
    let (status, body) = rest_call(
        &gw,
        &[],
        json!({"server_id": "web", "name": "echo", "arguments": {"text": "4111-1111-1111-1111"}}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "guardrail_violation", "{body}");
    assert!(!body.to_string().contains("4111"), "{body}");
    let (status, body) = rest_call(
        &gw,
        &[],
        json!({"server_id": "web", "name": "echo", "arguments": {"text": "bob@corp.io"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(text_of(&body), "<EMAIL_ADDRESS>");
    let rows = metrics(&gw).await;
    assert_eq!(
        count(&rows, "results", "EMAIL_ADDRESS", "mask"),
        6,
        "{rows:?}"
    );
    assert_eq!(
        count(&rows, "results", "CREDIT_CARD", "block"),
        3,
        "{rows:?}"
    );
    assert!(rows
        .iter()
        .any(|r| r["server"] == "local" && r["phase"] == "post_mcp_call"));
}

#[tokio::test]
async fn post_call_on_an_event_stream_masks_the_result_after_progress_frames() {
    let (_ev, port) = everything_http("streamableHttp").await;
    let servers = format!("  ev:\n    url: http://127.0.0.1:{port}/mcp\n    transport: http\n");
    let guardrail = "  - guardrail_name: done-word\n    litellm_params:\n      guardrail: meshgate\n      mode: post_mcp_call\n      default_on: true\n      patterns:\n        - {pattern_type: regex, name: DONE_WORD, pattern: 'completed', action: MASK}\n";
    let gw = gateway(servers, guardrail, &[]).await;
    let client = RawMcp::connect(&gw.url(), MASTER_KEY, json!({})).await;
    let mut events = client
        .start(
            json!(5),
            "tools/call",
            json!({"name": "ev-trigger-long-running-operation",
                   "arguments": {"duration": 0.3, "steps": 3},
                   "_meta": {"progressToken": "p-1"}}),
        )
        .await;
    assert!(
        events.content_type.contains("text/event-stream"),
        "{}",
        events.content_type
    );
    let mut progress = 0;
    let response = loop {
        let m = events.next().await.expect("a message");
        if m["method"] == "notifications/progress" {
            progress += 1;
        } else if m.get("method").is_none() {
            break m;
        }
    };
    assert_eq!(progress, 3, "progress frames pass before the result");
    let text = text_of(&response["result"]);
    assert!(text.contains("<DONE_WORD>"), "{response}");
    assert!(!text.contains("completed"), "{response}");
}

fn generic(name: &str, mode: &str, addr: &str, extra: &str) -> String {
    format!("  - guardrail_name: {name}\n    litellm_params:\n      guardrail: generic_guardrail_api\n      mode: {mode}\n      api_base: http://{addr}\n{extra}")
}

#[tokio::test]
async fn external_guardrails_block_rewrite_time_out_and_cancel_a_slow_upstream() {
    let (_svc, svc) = guardrail_service().await;
    let (_web, addr) = demo_http("web", &[]).await;
    let servers = format!(
        "  web:\n    url: http://{addr}/mcp\n    transport: http\n{}",
        demo_stdio_yaml("local", "")
    );
    let guardrails = [
        generic(
            "gen-pre",
            "pre_mcp_call",
            &svc,
            "      api_key: os.environ/TEST_GUARD_KEY\n",
        ),
        generic("gen-post", "post_mcp_call", &svc, ""),
        generic("gen-closed", "pre_mcp_call", &svc, "      timeout: 0.5\n"),
        generic(
            "gen-open",
            "pre_mcp_call",
            &svc,
            "      timeout: 0.5\n      fail_open: true\n",
        ),
        generic("gen-during", "during_mcp_call", &svc, ""),
    ]
    .concat();
    let gw = gateway(servers, &guardrails, &[("TEST_GUARD_KEY", "guard-key-1")]).await;
    let pick = |name: &'static str| [("x-mcp-guardrails", name)];

    // pre: a block answers the guardrail's reason; the upstream is never called.
    let calls_before = upstream_requests(&addr)
        .await
        .iter()
        .filter(|r| r["tool"] == "echo")
        .count();
    let r = call_with(
        &gw,
        &pick("gen-pre"),
        "web-echo",
        json!({"text": "a forbidden word"}),
    )
    .await;
    assert_eq!(r["isError"], true, "{r}");
    assert_eq!(
        text_of(&r),
        "Error: Guardrail violation - Guardrail raised an exception, Guardrail: gen-pre, Message: the word is not allowed here"
    );
    let calls_after = upstream_requests(&addr)
        .await
        .iter()
        .filter(|r| r["tool"] == "echo")
        .count();
    assert_eq!(calls_before, calls_after, "the upstream was contacted");
    // pre: a rewrite is what the upstream receives (echo returns what it got), on both
    // an HTTP and a stdio upstream.
    for tool in ["web-echo", "local-echo"] {
        let r = call_with(
            &gw,
            &pick("gen-pre"),
            tool,
            json!({"text": "my secret-word here"}),
        )
        .await;
        assert_eq!(text_of(&r), "my [redacted] here", "{tool}: {r}");
    }
    // The service got the key from the sidecar's environment, and the texts only.
    let seen = upstream_requests(&svc).await;
    assert!(
        seen.iter().any(|s| s["api_key"] == "guard-key-1"),
        "{seen:?}"
    );
    // post: the result's texts are checked as `input_type: response`.
    let r = call_with(
        &gw,
        &pick("gen-post"),
        "local-echo",
        json!({"text": "secret-word out"}),
    )
    .await;
    assert_eq!(text_of(&r), "[redacted] out", "{r}");
    let seen = upstream_requests(&svc).await;
    assert!(
        seen.iter()
            .any(|s| s["input_type"] == "response" && s["texts"] == json!(["secret-word out"])),
        "{seen:?}"
    );
    // Fail closed: a service past its timeout refuses the call, naming the guardrail
    // and the kind of failure, never the service's address.
    let r = call_with(
        &gw,
        &pick("gen-closed"),
        "web-echo",
        json!({"text": "hang on"}),
    )
    .await;
    assert_eq!(r["isError"], true, "{r}");
    let text = text_of(&r);
    assert!(
        text.contains("gen-closed") && text.contains("did not answer within 500 ms"),
        "{text}"
    );
    assert!(!text.contains("127.0.0.1"), "{text}");
    // Fail open: the call goes through.
    let r = call_with(
        &gw,
        &pick("gen-open"),
        "web-echo",
        json!({"text": "hang on"}),
    )
    .await;
    assert_eq!(text_of(&r), "hang on", "{r}");
    // REST: the same guardrails; a block is 400 guardrail_violation.
    let (status, body) = rest_call(
        &gw,
        &pick("gen-pre"),
        json!({"server_id": "web", "name": "echo", "arguments": {"text": "forbidden"}}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "guardrail_violation");
    assert_eq!(body["guardrail"], "gen-pre");

    // during: the check runs beside a slow tool; its block answers at once and the
    // upstream request is cancelled (the upstream records the cancellation).
    let r = call_with(
        &gw,
        &pick("gen-during"),
        "web-sleep",
        json!({"ms": 60000, "note": "slowblock"}),
    )
    .await;
    assert_eq!(r["isError"], true, "{r}");
    assert!(text_of(&r).contains("slow check refused it"), "{r}");
    let mut cancelled = false;
    for _ in 0..100 {
        let seen = upstream_requests(&addr).await;
        if seen
            .iter()
            .any(|s| s["rpc_method"] == "notifications/cancelled")
        {
            cancelled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(cancelled, "the upstream never saw notifications/cancelled");
    // during: a pass leaves the result alone.
    let r = call_with(
        &gw,
        &pick("gen-during"),
        "web-sleep",
        json!({"ms": 10, "note": "fine"}),
    )
    .await;
    assert_eq!(text_of(&r), "slept 10 ms", "{r}");

    let rows = metrics(&gw).await;
    assert!(count(&rows, "gen-pre", "-", "block") >= 2, "{rows:?}");
    assert_eq!(
        count(&rows, "gen-closed", "timeout", "failed_closed"),
        1,
        "{rows:?}"
    );
    assert_eq!(
        count(&rows, "gen-open", "timeout", "failed_open"),
        1,
        "{rows:?}"
    );
    assert_eq!(count(&rows, "gen-during", "-", "block"), 1, "{rows:?}");
    // Unknown requested names are refused, naming them.
    let r = call_with(&gw, &pick("no-such"), "web-echo", json!({"text": "x"})).await;
    assert_eq!(r["isError"], true, "{r}");
    assert!(text_of(&r).contains("no-such"), "{r}");
}

/// The Python with presidio-analyzer and presidio-anonymizer: `MESHGATE_PRESIDIO_PYTHON`,
/// else `.tools/presidio-venv` (made by scripts/setup-test-deps.sh).
fn presidio_python() -> std::path::PathBuf {
    if let Ok(p) = std::env::var("MESHGATE_PRESIDIO_PYTHON") {
        return p.into();
    }
    let venv = repo_root().join(".tools/presidio-venv/bin/python");
    require(
        &venv,
        "run scripts/setup-test-deps.sh (it installs Presidio from PyPI)",
    );
    venv
}

#[tokio::test]
async fn presidio_blocks_and_masks_through_its_analyzer_and_anonymizer() {
    let mut cmd = Command::new(presidio_python());
    cmd.arg(repo_root().join("tests/python/presidio_service.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut svc = Proc::spawn("presidio", cmd);
    let presidio = read_listening(&mut svc).await;
    let (_web, addr) = demo_http("web", &[]).await;
    let servers = format!("  web:\n    url: http://{addr}/mcp\n    transport: http\n");
    let guardrails = format!(
        "  - guardrail_name: pii\n    litellm_params:\n      guardrail: presidio\n      mode: [pre_mcp_call, post_mcp_call]\n      default_on: true\n      presidio_analyzer_api_base: http://{presidio}\n      presidio_anonymizer_api_base: http://{presidio}/\n      presidio_language: en\n      timeout: 20\n      pii_entities_config: {{CREDIT_CARD: BLOCK, EMAIL_ADDRESS: MASK}}\n"
    );
    let gw = gateway(servers, &guardrails, &[]).await;
    // pre: the e-mail is masked before the upstream sees it (echo returns what it got).
    let r = call_with(
        &gw,
        &[],
        "web-echo",
        json!({"text": "reach bob@corp.io now"}),
    )
    .await;
    assert_eq!(text_of(&r), "reach <EMAIL_ADDRESS> now", "{r}");
    // pre: a card number blocks, naming the guardrail and the entity only.
    let r = call_with(
        &gw,
        &[],
        "web-echo",
        json!({"text": "pay 4111 1111 1111 1111"}),
    )
    .await;
    assert_eq!(r["isError"], true, "{r}");
    assert_eq!(
        text_of(&r),
        "Error: Blocked PII entity detected - Blocked entity detected: CREDIT_CARD by Guardrail: pii. This entity is not allowed to be used in this request."
    );
    let rows = metrics(&gw).await;
    assert_eq!(count(&rows, "pii", "EMAIL_ADDRESS", "mask"), 1, "{rows:?}");
    assert_eq!(count(&rows, "pii", "CREDIT_CARD", "block"), 1, "{rows:?}");
}
