//! The filter→sidecar decision cannot be reused: a decision captured on the wire between
//! Envoy and the sidecar (here by a recording TCP proxy that Envoy's sidecar cluster points
//! at) is refused when replayed to the sidecar — with its own body or with another one.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_e2e::http::request;
use meshgate_e2e::*;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Envoy → recording proxy → sidecar.
struct Recorded {
    port: u16,
    sidecar_port: u16,
    /// Every byte Envoy sent towards the sidecar.
    wire: Arc<Mutex<Vec<u8>>>,
    _envoy: Proc,
    _sidecar: Proc,
    _dir: TempDir,
}

/// Forwards each connection to `target`, copying what the client sends into `wire`.
async fn recording_proxy(target: u16, wire: Arc<Mutex<Vec<u8>>>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let deadline = Instant::now() + Duration::from_secs(MAX_LIFETIME_SECS);
        while Instant::now() < deadline {
            let Ok((mut client, _)) = listener.accept().await else {
                return;
            };
            let wire = Arc::clone(&wire);
            tokio::spawn(async move {
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await else {
                    return;
                };
                let (mut server_read, mut server_write) = server.into_split();
                let (mut client_read, mut client_write) = client.split();
                let upstream = async {
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        let n = match client_read.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        wire.lock().unwrap().extend_from_slice(&buf[..n]);
                        if server_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = server_write.shutdown().await;
                };
                let downstream = tokio::io::copy(&mut server_read, &mut client_write);
                let _ = tokio::join!(upstream, downstream);
            });
        }
    });
    port
}

async fn start_recorded(servers_yaml: &str) -> Recorded {
    let dir = TempDir::new("replay");
    let (port, sidecar_port, admin_port) = (free_port(), free_port(), free_port());
    let wire = Arc::new(Mutex::new(Vec::new()));
    let proxy_port = recording_proxy(sidecar_port, Arc::clone(&wire)).await;
    let document = gateway_document(&GatewayOptions::new(servers_yaml));
    let envoy_file = dir.0.join("envoy.yaml");
    std::fs::write(
        &envoy_file,
        envoy_config(port, admin_port, proxy_port, &document),
    )
    .expect("write envoy.yaml");
    let sidecar = start_sidecar(sidecar_port, &dir.0);
    wait_for_port(sidecar_port, Duration::from_secs(20)).await;
    let envoy = start_envoy(&envoy_file, 1, &dir.0.join("envoy.log"));
    let gw = Recorded {
        port,
        sidecar_port,
        wire,
        _envoy: envoy,
        _sidecar: sidecar,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let auth = format!("Bearer {MASTER_KEY}");
    loop {
        let ping = request(
            "POST",
            &format!("http://127.0.0.1:{port}/mcp"),
            &[("authorization", &auth)],
            r#"{"jsonrpc":"2.0","id":0,"method":"ping"}"#,
        )
        .await;
        if ping.as_ref().is_ok_and(|r| r.status == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "gateway not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    gw
}

/// A request through Envoy with the master key: (status, body).
async fn master(gw: &Recorded, method: &str, path: &str, body: &str) -> (u16, String) {
    let auth = format!("Bearer {MASTER_KEY}");
    let resp = request(
        method,
        &format!("http://127.0.0.1:{}{path}", gw.port),
        &[("authorization", &auth)],
        body,
    )
    .await
    .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    (resp.status, resp.text())
}

/// The decision header of the last request Envoy sent to the sidecar with this request line.
fn captured(gw: &Recorded, request_line: &str) -> String {
    let wire = gw.wire.lock().unwrap();
    let text = String::from_utf8_lossy(&wire);
    let start = text
        .rfind(request_line)
        .unwrap_or_else(|| panic!("no `{request_line}` on the wire"));
    let head = &text[start..];
    let head = &head[..head.find("\r\n\r\n").expect("end of head")];
    head.lines()
        .find_map(|l| l.strip_prefix("x-meshgate-decision: "))
        .unwrap_or_else(|| panic!("no decision header in:\n{head}"))
        .trim()
        .to_string()
}

/// Sends a request straight to the sidecar's port with a captured decision.
async fn replay(
    gw: &Recorded,
    method: &str,
    path: &str,
    decision: &str,
    body: &str,
) -> (u16, String) {
    let resp = request(
        method,
        &format!("http://127.0.0.1:{}{path}", gw.sidecar_port),
        &[("x-meshgate-decision", decision)],
        body,
    )
    .await
    .unwrap_or_else(|e| panic!("replay {method} {path}: {e}"));
    (resp.status, resp.text())
}

#[tokio::test]
async fn a_captured_admin_decision_does_not_mint_a_key_with_another_body() {
    let gw = start_recorded(&demo_stdio_yaml("demo", "")).await;
    let (status, body) = master(&gw, "POST", "/key/generate", r#"{"key_alias":"honest"}"#).await;
    assert_eq!(status, 200, "{body}");
    let decision = captured(&gw, "POST /key/generate HTTP/1.1");

    let attacker = r#"{"key":"sk-attacker-chosen-key-123","key_alias":"evil"}"#;
    let (status, body) = replay(&gw, "POST", "/key/generate", &decision, attacker).await;
    assert_eq!(status, 403, "replayed with another body: {body}");
    let (status, body) = replay(
        &gw,
        "POST",
        "/key/generate",
        &decision,
        r#"{"key_alias":"honest"}"#,
    )
    .await;
    assert_eq!(status, 403, "replayed with its own body: {body}");

    // The attacker's key does not exist.
    let resp = request(
        "POST",
        &format!("http://127.0.0.1:{}/mcp", gw.port),
        &[("authorization", "Bearer sk-attacker-chosen-key-123")],
        r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
    )
    .await
    .unwrap();
    assert_eq!(resp.status, 401, "{}", resp.text());
}

#[tokio::test]
async fn a_captured_sync_decision_does_not_load_another_document() {
    let gw = start_recorded(&demo_stdio_yaml("demo", "")).await;
    let decision = captured(&gw, "POST /_meshgate/v1/sync HTTP/1.1");
    let marker = gw._dir.0.join("pwned");
    let attacker = format!(
        "meshgate:\n  shared_secret: os.environ/MESHGATE_SHARED_SECRET\nmcp_servers:\n  evil:\n    transport: stdio\n    command: /bin/sh\n    args: [\"-c\", \"touch {}\"]\n",
        marker.display()
    );
    let (status, body) = replay(&gw, "POST", "/_meshgate/v1/sync", &decision, &attacker).await;
    assert_eq!(status, 403, "replayed sync with another document: {body}");
    // The gateway still serves its own server and nothing ran.
    let (status, body) = master(
        &gw,
        "POST",
        "/mcp",
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("demo-"), "{body}");
    assert!(!body.contains("evil"), "{body}");
    assert!(!marker.exists(), "the attacker's command ran");
}

#[tokio::test]
async fn a_captured_mcp_decision_is_single_use() {
    let gw = start_recorded(&demo_stdio_yaml("demo", "")).await;
    let ping = r#"{"jsonrpc":"2.0","id":3,"method":"ping"}"#;
    let (status, body) = master(&gw, "POST", "/mcp", ping).await;
    assert_eq!(status, 200, "{body}");
    let decision = captured(&gw, "POST /mcp HTTP/1.1");
    let (status, body) = replay(&gw, "POST", "/mcp", &decision, ping).await;
    assert_eq!(status, 403, "replayed ping: {body}");
    assert!(body.contains("unsigned_request"), "{body}");
}

/// The race a capture allows: the attacker's copy arrives first, with the genuine nonce
/// unused. The sealed body hash still refuses any other body.
#[tokio::test]
async fn a_decision_bound_to_one_body_refuses_any_other() {
    let gw = start_recorded(&demo_stdio_yaml("demo", "")).await;
    let honest = r#"{"key_alias":"honest"}"#;
    let evil = r#"{"key":"sk-attacker-chosen-key-456"}"#;
    for (path, principal) in [
        ("/key/generate", "master"),
        ("/_meshgate/v1/sync", "_filter"),
    ] {
        let decision = seal("POST", path, principal, "", Some(honest.as_bytes()));
        let (status, body) = replay(&gw, "POST", path, &decision, evil).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body.contains("not bound to this request body"), "{body}");
        // Admin and sync decisions must bind a body at all.
        let unbound = seal("POST", path, principal, "", None);
        let (status, body) = replay(&gw, "POST", path, &unbound, evil).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body.contains("binds no request body"), "{body}");
    }
    // The control: the body it was sealed for is accepted.
    let decision = seal(
        "POST",
        "/key/generate",
        "master",
        "",
        Some(honest.as_bytes()),
    );
    let (status, body) = replay(&gw, "POST", "/key/generate", &decision, honest).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn admin_bodies_above_64_kib_are_refused_by_the_filter() {
    let gw = start_recorded(&demo_stdio_yaml("demo", "")).await;
    let big = format!(r#"{{"key_alias":"{}"}}"#, "a".repeat(64 * 1024));
    let (status, body) = master(&gw, "POST", "/key/generate", &big).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("body_too_large"), "{body}");
    let (status, body) = master(&gw, "POST", "/key/generate", r#"{"key_alias":"small"}"#).await;
    assert_eq!(status, 200, "{body}");
}
