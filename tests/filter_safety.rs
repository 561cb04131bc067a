//! The filter's crash safety and header-time edge cases, through real Envoy with the
//! built filter: header values that are not UTF-8, a VM that panics (a deliberate-panic
//! build) and is reloaded, duplicate credentials, an empty narrowing header, health
//! endpoints, JSON-RPC shaped refusals for 2026-07-28 clients, and the sidecar's reserved
//! admin path under many open streams.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use meshgate_e2e::http::{request, Resp};
use meshgate_e2e::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;

/// One request whose header values are raw bytes (hyper accepts obs-text 0x80–0xFF).
async fn raw_request(method: &str, url: &str, headers: &[(&str, &[u8])], body: &str) -> Resp {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = ::http::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    for (name, value) in headers {
        let value = ::http::HeaderValue::from_bytes(value).expect("a header value hyper sends");
        req = req.header(*name, value);
    }
    let req = req
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("request");
    let resp = client
        .request(req)
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .expect("response body")
        .to_bytes();
    Resp {
        status,
        headers,
        body,
    }
}

fn master_auth() -> String {
    format!("Bearer {MASTER_KEY}")
}

async fn master_ping(gw: &Gateway) -> Resp {
    request(
        "POST",
        &gw.url(),
        &[("x-litellm-api-key", &master_auth())],
        PING,
    )
    .await
    .expect("ping through Envoy")
}

/// Polls `check` until it holds, failing with the last observation after `within`.
async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    loop {
        match check().await {
            Ok(()) => return,
            Err(last) if started.elapsed() > within => {
                panic!("{what}: not true after {within:?}; last: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// A key created now through the admin API works through the filter within `within`:
/// proves the filter's policy sync still runs.
async fn sync_still_works(gw: &Gateway, within: Duration) {
    let r = request(
        "POST",
        &format!("{}/key/generate", gw.base()),
        &[("x-litellm-api-key", &master_auth())],
        "{}",
    )
    .await
    .expect("key/generate");
    assert_eq!(r.status, 200, "{}", r.text());
    let key = r.json()["key"].as_str().expect("key").to_string();
    eventually("a new key is accepted", within, || {
        let url = gw.url();
        let auth = format!("Bearer {key}");
        async move {
            let r = request("POST", &url, &[("x-litellm-api-key", &auth)], PING)
                .await
                .map_err(|e| e.to_string())?;
            (r.status == 200)
                .then_some(())
                .ok_or_else(|| format!("{} {}", r.status, r.text()))
        }
    })
    .await;
}

/// (kind, message) of a filter refusal: `{"error", "message"}`, or the JSON-RPC shape
/// 2026-07-28 clients get (`Mcp-Method` marks one), kind in `error.data.error`.
fn refusal(v: &Value) -> (String, String) {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    if v["jsonrpc"] == "2.0" {
        (
            text(&v["error"]["data"]["error"]),
            text(&v["error"]["message"]),
        )
    } else {
        (text(&v["error"]), text(&v["message"]))
    }
}

fn demo_servers() -> String {
    demo_stdio_yaml("local", "")
}

// ---------------------------------------------------------------- non-UTF-8 headers

#[tokio::test]
async fn header_values_that_are_not_utf8_never_take_the_filter_down() {
    let gw = Gateway::start(demo_servers()).await;
    let auth = master_auth();
    let bad: &[u8] = b"\xff\xfe";

    // An unrelated header: ignored by the filter, the request is served.
    let r = raw_request(
        "POST",
        &gw.url(),
        &[("x-litellm-api-key", auth.as_bytes()), ("x-bad", bad)],
        PING,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Without a key: the usual 401, not a crash.
    let r = raw_request("POST", &gw.url(), &[("x-bad", bad)], PING).await;
    assert_eq!(r.status, 401, "{}", r.text());

    // Headers whose value matters: 400 naming the header.
    for (name, with_key) in [
        ("x-litellm-api-key", false),
        ("authorization", false),
        ("x-mcp-servers", true),
        ("mcp-method", true),
        ("mcp-name", true),
    ] {
        let mut headers: Vec<(&str, &[u8])> = vec![(name, bad)];
        if with_key {
            headers.push(("x-litellm-api-key", auth.as_bytes()));
        }
        let r = raw_request("POST", &gw.url(), &headers, PING).await;
        assert_eq!(r.status, 400, "{name}: {}", r.text());
        let (kind, message) = refusal(&r.json());
        assert_eq!(kind, "invalid_header", "{name}");
        assert!(message.contains(&format!("`{name}`")), "{name}: {message}");
        assert!(message.contains("UTF-8"), "{name}: {message}");
    }

    // The filter still serves, and its policy sync still runs.
    assert_eq!(master_ping(&gw).await.status, 200);
    sync_still_works(&gw, Duration::from_secs(5)).await;
    let log = gw.envoy_log();
    assert!(!log.contains("panicked"), "the VM panicked:\n{log}");
}

// ---------------------------------------------------------------- a VM that panics

/// The deliberate-panic build (`make wasm-panic`) traps its VM on a request to
/// `/_meshgate_test/panic`; Envoy's `failure_policy: FAIL_RELOAD` (harness and
/// envoy/envoy.yaml) must replace the VM so later requests are served again, with a
/// fresh policy sync — without restarting Envoy.
#[tokio::test]
async fn a_vm_that_panics_is_reloaded_and_serves_again() {
    let wasm = panic_wasm_path();
    require(&wasm, "run `make wasm-panic`");
    let gw = Gateway::start_with(GatewayOptions {
        wasm: Some(wasm),
        ..GatewayOptions::new(demo_servers())
    })
    .await;
    let envoy_pid = gw.envoy.pid();
    assert_eq!(master_ping(&gw).await.status, 200);

    for round in 0..2 {
        let r = request(
            "GET",
            &format!("{}/_meshgate_test/panic", gw.base()),
            &[],
            "",
        )
        .await
        .expect("the panicking request still gets an answer");
        assert!(r.status >= 500, "round {round}: {} {}", r.status, r.text());
        eventually("the panic is logged", Duration::from_secs(5), || async {
            let log = gw.envoy_log();
            (log.matches("deliberate panic requested").count() > round)
                .then_some(())
                .ok_or_else(|| "not in the envoy log yet".to_string())
        })
        .await;
        // Served again: a fresh VM, which syncs its policy before it admits the key.
        eventually(
            "requests are served after the VM reload",
            Duration::from_secs(10),
            || async {
                let r = master_ping(&gw).await;
                (r.status == 200)
                    .then_some(())
                    .ok_or_else(|| format!("{} {}", r.status, r.text()))
            },
        )
        .await;
    }
    sync_still_works(&gw, Duration::from_secs(5)).await;
    assert_eq!(gw.envoy.pid(), envoy_pid, "Envoy itself was not restarted");
    assert!(gw.envoy.child.id().is_some());
}

// ---------------------------------------------------------------- header edge cases

#[tokio::test]
async fn two_credentials_and_an_empty_narrowing_header_are_refused() {
    let gw = Gateway::start(demo_servers()).await;
    let auth = master_auth();

    // Two Authorization headers (Envoy joins them with a comma): never guessed.
    let r = raw_request(
        "POST",
        &gw.url(),
        &[
            ("authorization", auth.as_bytes()),
            ("authorization", b"Bearer someone-else"),
        ],
        PING,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let v = r.json();
    assert_eq!(v["error"], "duplicate_authorization", "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap_or_default()
            .contains("multiple Authorization headers are not allowed"),
        "{v}"
    );
    // Even when the gateway key travels in its own header.
    let r = raw_request(
        "POST",
        &gw.url(),
        &[
            ("x-litellm-api-key", auth.as_bytes()),
            ("authorization", b"Bearer a"),
            ("authorization", b"Bearer b"),
        ],
        PING,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"], "duplicate_authorization");
    // Two gateway keys.
    let r = raw_request(
        "POST",
        &gw.url(),
        &[
            ("x-litellm-api-key", auth.as_bytes()),
            ("x-litellm-api-key", b"Bearer sk-other"),
        ],
        PING,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"], "duplicate_key_header");

    // An empty x-mcp-servers narrows to nothing: refused, never "every server".
    for empty in [&b""[..], b" ", b","] {
        let r = raw_request(
            "POST",
            &gw.url(),
            &[
                ("x-litellm-api-key", auth.as_bytes()),
                ("x-mcp-servers", empty),
            ],
            PING,
        )
        .await;
        assert_eq!(r.status, 403, "{empty:?}: {}", r.text());
        assert_eq!(r.json()["error"], "no_matching_servers", "{empty:?}");
    }
    let r = raw_request(
        "POST",
        &gw.url(),
        &[
            ("x-litellm-api-key", auth.as_bytes()),
            ("x-mcp-servers", b"local"),
        ],
        PING,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

// ---------------------------------------------------------------- health and 2026 errors

#[tokio::test]
async fn litellm_health_probes_answer_without_a_key() {
    let gw = Gateway::start(demo_servers()).await;
    let r = request("GET", &format!("{}/health/liveliness", gw.base()), &[], "")
        .await
        .expect("liveliness");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "I'm alive!");
    let r = request("GET", &format!("{}/health/readiness", gw.base()), &[], "")
        .await
        .expect("readiness");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"status": "healthy", "config": "loaded", "db": "connected"})
    );
    // LiteLLM's `/mcp/enabled` answers without a key too.
    let r = request("GET", &format!("{}/mcp/enabled", gw.base()), &[], "")
        .await
        .expect("enabled");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"enabled": true}));
    // Only GET/HEAD of those paths are open.
    let r = request(
        "POST",
        &format!("{}/health/liveliness", gw.base()),
        &[],
        "{}",
    )
    .await
    .expect("post");
    assert_eq!(r.status, 401, "{}", r.text());
    let r = request("GET", &format!("{}/health/other", gw.base()), &[], "")
        .await
        .expect("other");
    assert_eq!(r.status, 401, "{}", r.text());
}

/// Readiness follows the store: on PostgreSQL, with the gateway's schema dropped under
/// it, readiness is 503 naming the database, while liveness stays 200.
#[tokio::test]
async fn readiness_is_503_when_the_store_does_not_answer() {
    let gw = Gateway::start_with(GatewayOptions {
        database: Database::Postgres,
        ..GatewayOptions::new(demo_servers())
    })
    .await;
    let readiness = format!("{}/health/readiness", gw.base());
    let r = request("GET", &readiness, &[], "")
        .await
        .expect("readiness");
    assert_eq!(r.status, 200, "{}", r.text());
    let schema = gw.pg_schema.clone().expect("a PostgreSQL schema");
    let dropped = std::process::Command::new("psql")
        .args([
            POSTGRES_URL,
            "-q",
            "-c",
            &format!("DROP SCHEMA \"{schema}\" CASCADE"),
        ])
        .status()
        .expect("psql");
    assert!(dropped.success());
    let r = request("GET", &readiness, &[], "")
        .await
        .expect("readiness");
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(
        r.json(),
        json!({"status": "unhealthy", "config": "loaded", "db": "not connected"})
    );
    let r = request("GET", &format!("{}/health/liveliness", gw.base()), &[], "")
        .await
        .expect("liveliness");
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn header_time_refusals_of_2026_clients_are_jsonrpc_errors() {
    let gw = Gateway::start(demo_servers()).await;
    let body = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"local-echo","arguments":{}}}"#;
    // No key, a 2026-07-28 client.
    let r = request(
        "POST",
        &gw.url(),
        &[("mcp-protocol-version", "2026-07-28")],
        body,
    )
    .await
    .expect("post");
    assert_eq!(r.status, 401, "{}", r.text());
    let v = r.json();
    assert_eq!(v["jsonrpc"], "2.0", "{v}");
    // The id is in the body, which the filter does not read at header time.
    assert!(v["id"].is_null(), "{v}");
    assert_eq!(v["error"]["code"], -32000, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("gateway key"),
        "{v}"
    );
    assert_eq!(v["error"]["data"]["error"], "authentication_required");
    assert!(r.header("www-authenticate").is_some());
    // A malformed Mcp-Name: -32600.
    let auth = master_auth();
    let r = request(
        "POST",
        &gw.url(),
        &[
            ("x-litellm-api-key", &auth),
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "=?base64?not*base64?="),
        ],
        body,
    )
    .await
    .expect("post");
    assert_eq!(r.status, 400, "{}", r.text());
    let v = r.json();
    assert_eq!(v["error"]["code"], -32600, "{v}");
    assert_eq!(v["error"]["data"]["error"], "invalid_mcp_header", "{v}");
    // An older client keeps the plain shape.
    let r = request(
        "POST",
        &gw.url(),
        &[("mcp-protocol-version", "2025-11-25")],
        PING,
    )
    .await
    .expect("post");
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "authentication_required");
}

// ---------------------------------------------------------------- reserved control path

/// Envoy's admin stat `name` (a counter or gauge), 0 when absent.
async fn envoy_stat(gw: &Gateway, name: &str) -> u64 {
    let url = format!(
        "http://127.0.0.1:{}/stats?filter=^{}$",
        gw.admin_port,
        name.replace('.', "\\.")
    );
    let r = request("GET", &url, &[], "")
        .await
        .expect("envoy admin stats");
    r.text()
        .lines()
        .filter_map(|l| l.split_once(": "))
        .find(|(n, _)| *n == name)
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Opens a POST to `/mcp` whose body never completes: Envoy forwards the head at once,
/// so each holds one connection of the MCP cluster to the sidecar while it is open,
/// whatever the sidecar's own stream limits are.
async fn held_request(gw: &Gateway) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", gw.port))
        .await
        .expect("connect to Envoy");
    let head = format!(
        "POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\nx-litellm-api-key: Bearer {MASTER_KEY}\r\n\
         content-type: application/json\r\naccept: application/json, text/event-stream\r\n\
         content-length: 100000\r\n\r\n{{\"jsonrpc\":"
    );
    stream.write_all(head.as_bytes()).await.expect("send head");
    stream
}

/// With every connection the MCP cluster may open to the sidecar held by streams, the
/// admin API, the health probes and the filter's policy sync still work: they have a
/// cluster (and budget) of their own. The MCP budget is shrunk to 150 here so a bounded
/// count fills it; envoy/envoy.yaml sizes it at 8,192.
#[tokio::test]
async fn admin_and_sync_are_served_while_mcp_streams_fill_their_budget() {
    const BUDGET: u32 = 150;
    let gw = Gateway::start_with(GatewayOptions {
        mcp_budget: Some(SidecarBudget {
            max_connections: BUDGET,
            max_pending_requests: 1024,
            max_requests: BUDGET,
        }),
        ..GatewayOptions::new(demo_servers())
    })
    .await;

    let mut held = Vec::new();
    for _ in 0..BUDGET {
        held.push(held_request(&gw).await);
    }
    eventually(
        "every MCP connection to the sidecar is in use",
        Duration::from_secs(20),
        || async {
            let active = envoy_stat(&gw, "cluster.meshgate_sidecar.upstream_cx_active").await;
            (active >= u64::from(BUDGET))
                .then_some(())
                .ok_or_else(|| format!("{active} active"))
        },
    )
    .await;
    // Full: one more MCP request waits for a connection instead of being served.
    let mut waiting = held_request(&gw).await;
    eventually(
        "an MCP request beyond the budget is pending",
        Duration::from_secs(10),
        || async {
            let pending =
                envoy_stat(&gw, "cluster.meshgate_sidecar.upstream_rq_pending_active").await;
            (pending >= 1)
                .then_some(())
                .ok_or_else(|| format!("{pending} pending"))
        },
    )
    .await;

    // The control path is unaffected: admin write, health, and the sync (a key made now
    // becomes known to the filter: it stops getting the filter's `invalid_key`).
    let r = request("GET", &format!("{}/health/readiness", gw.base()), &[], "")
        .await
        .expect("readiness");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = request(
        "POST",
        &format!("{}/key/generate", gw.base()),
        &[("x-litellm-api-key", &master_auth())],
        "{}",
    )
    .await
    .expect("key/generate");
    assert_eq!(r.status, 200, "{}", r.text());
    let key = r.json()["key"].as_str().expect("key").to_string();
    eventually(
        "the new key reaches the filter",
        Duration::from_secs(5),
        || {
            let url = format!("{}/key/info", gw.base());
            let auth = format!("Bearer {key}");
            async move {
                let r = request("GET", &url, &[("x-litellm-api-key", &auth)], "")
                    .await
                    .map_err(|e| e.to_string())?;
                let filter_refused = r.status == 401
                    && serde_json::from_slice::<Value>(&r.body)
                        .is_ok_and(|v| v["error"] == "invalid_key");
                (!filter_refused)
                    .then_some(())
                    .ok_or_else(|| format!("{} {}", r.status, r.text()))
            }
        },
    )
    .await;
    assert!(envoy_stat(&gw, "cluster.meshgate_sidecar_control.upstream_rq_total").await > 0);

    // Streams released: MCP is served again.
    drop(held);
    use tokio::io::AsyncWriteExt;
    let _ = waiting.shutdown().await;
    drop(waiting);
    eventually("MCP is served again", Duration::from_secs(10), || async {
        let r = master_ping(&gw).await;
        (r.status == 200)
            .then_some(())
            .ok_or_else(|| format!("{} {}", r.status, r.text()))
    })
    .await;
}

/// The official Python SDK, speaking 2026-07-28, shows the filter's own refusal text
/// (and code) for a tool refused from its `Mcp-Name` header.
#[tokio::test]
async fn the_python_sdk_shows_the_filters_refusal_message() {
    let gw = Gateway::start(demo_stdio_yaml("local", "    disallowed_tools: [echo]\n")).await;
    let mut cmd = python_with_mcp();
    cmd.arg(repo_root().join("tests/python/refused_client.py"))
        .arg(gw.url())
        .arg(MASTER_KEY)
        .arg("local-echo");
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
    assert!(stdout.contains("protocol 2026-07-28"), "{stdout}");
    assert!(
        stdout.contains("refused")
            && stdout.contains("-32000")
            && stdout.contains(
                "tool `local-echo` is not allowed on MCP server `local` (allowed_tools / disallowed_tools)"
            ),
        "{stdout}"
    );
}

/// The repository's own Envoy config (what `make run` starts and users copy) is accepted
/// by real Envoy with the built filter: failure policy, body holding, both sidecar
/// clusters and their circuit breakers included.
#[tokio::test]
async fn the_repositorys_envoy_yaml_validates_in_real_envoy() {
    let text = std::fs::read_to_string(repo_root().join("envoy/envoy.yaml")).expect("envoy.yaml");
    assert!(
        text.contains("failure_policy: FAIL_RELOAD"),
        "no failure policy"
    );
    let wasm = wasm_path();
    require(&wasm, "run `make wasm`");
    let text = text.replace(
        "target/wasm32-wasip1/release-wasm/meshgate_filter.wasm",
        &wasm.display().to_string(),
    );
    let dir = TempDir::new("envoy-yaml");
    let file = dir.0.join("envoy.yaml");
    std::fs::write(&file, text).expect("write");
    let out = tokio::process::Command::new(envoy_path())
        .args(["--mode", "validate", "-c"])
        .arg(&file)
        .env("MESHGATE_SHARED_SECRET", SECRET)
        .output()
        .await
        .expect("envoy runs");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && log.contains("OK"), "{log}");
}
