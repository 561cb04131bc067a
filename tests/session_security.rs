//! Client sessions belong to the key that opened them, end when deleted (on every
//! replica, through the store: SQLite and PostgreSQL), expire, cannot be used to exhaust
//! the gateway with streams, and survive their HTTP upstream restarting — all through
//! real Envoy + the filter + the sidecar, with virtual keys made by the admin API.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use meshgate_e2e::http::{request, Resp};
use meshgate_e2e::mcp::{post_events, RawMcp};
use meshgate_e2e::*;
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Command;

/// How long a condition that must come true may take at most.
const WITHIN: Duration = Duration::from_secs(10);

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    loop {
        match check().await {
            Ok(()) => return,
            Err(last) if started.elapsed() > WITHIN => {
                panic!("{what}: not true after {WITHIN:?}; last: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn web_yaml(addr: &str) -> String {
    format!("  web:\n    url: http://{addr}/mcp\n    transport: http\n")
}

async fn start(db: Database, servers: String, meshgate_yaml: &str) -> Gateway {
    Gateway::start_with(GatewayOptions {
        database: db,
        meshgate_yaml: meshgate_yaml.to_string(),
        ..GatewayOptions::new(servers)
    })
    .await
}

/// A virtual key allowed `web`, already enforced by the filter.
async fn web_key(gw: &Gateway) -> String {
    let resp = send(
        gw,
        MASTER_KEY,
        "POST",
        "/key/generate",
        &[],
        &json!({"object_permission": {"mcp_servers": ["web"]}}).to_string(),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let key = resp.json()["key"].as_str().expect("key").to_string();
    eventually("the new key reaches the filter", || async {
        let r = rpc(gw, &key, None, "ping", json!({})).await;
        (r.status == 200).then_some(()).ok_or(r.text())
    })
    .await;
    key
}

async fn send(
    gw: &Gateway,
    key: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Resp {
    let auth = format!("Bearer {key}");
    let mut all = vec![("authorization", auth.as_str())];
    all.extend_from_slice(headers);
    request(method, &format!("{}{path}", gw.base()), &all, body)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// One JSON-RPC request through Envoy with `key`, on `session` when given.
async fn rpc(gw: &Gateway, key: &str, session: Option<&str>, method: &str, params: Value) -> Resp {
    let mut headers = vec![
        ("mcp-protocol-version", "2025-11-25"),
        ("accept", "application/json, text/event-stream"),
    ];
    if let Some(s) = session {
        headers.push(("mcp-session-id", s));
    }
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    send(gw, key, "POST", "/mcp", &headers, &body.to_string()).await
}

async fn echo(gw: &Gateway, key: &str, session: &str, text: &str) -> Resp {
    rpc(
        gw,
        key,
        Some(session),
        "tools/call",
        json!({"name": "web-echo", "arguments": {"text": text}}),
    )
    .await
}

fn echoed(resp: &Resp) -> String {
    resp.json()["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Opens a GET stream and returns the response with its body still open.
async fn open_get(url: &str, key: &str, session: &str) -> hyper::Response<Incoming> {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let req = ::http::Request::builder()
        .method("GET")
        .uri(url)
        .header("authorization", format!("Bearer {key}"))
        .header("mcp-protocol-version", "2025-11-25")
        .header("accept", "text/event-stream")
        .header("mcp-session-id", session)
        .body(Full::new(Bytes::new()))
        .expect("request");
    client.request(req).await.expect("gateway reachable")
}

async fn refused_body(resp: hyper::Response<Incoming>) -> (u16, Value) {
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        serde_json::from_slice(&body)
            .unwrap_or(Value::String(String::from_utf8_lossy(&body).into_owned())),
    )
}

// ---------------------------------------------------------------- binding

/// A session id works only with the key that opened it: another key with access to the
/// same server (and the master key) gets 404 for POST, GET and DELETE, as for a
/// foreign id, and cannot end the session either.
#[tokio::test]
async fn a_session_belongs_to_the_key_that_opened_it() {
    let (_upstream, addr) = demo_http("web", &[]).await;
    let gw = start(Database::Sqlite, web_yaml(&addr), "").await;
    let alice = web_key(&gw).await;
    let mallory = web_key(&gw).await;
    let session = RawMcp::connect(&gw.url(), &alice, json!({}))
        .await
        .session
        .expect("session id");

    assert_eq!(echo(&gw, &alice, &session, "mine").await.status, 200);
    for key in [mallory.as_str(), MASTER_KEY] {
        let r = echo(&gw, key, &session, "not mine").await;
        assert_eq!(r.status, 404, "POST with another key: {}", r.text());
        assert_eq!(r.json()["error"]["code"], -32001, "{}", r.text());
        let (status, body) = refused_body(open_get(&gw.url(), key, &session).await).await;
        assert_eq!(status, 404, "GET with another key: {body}");
        let r = send(
            &gw,
            key,
            "DELETE",
            "/mcp",
            &[("mcp-session-id", &session)],
            "",
        )
        .await;
        assert_eq!(r.status, 404, "DELETE with another key: {}", r.text());
    }
    // Nothing the other keys did touched the owner's session.
    let r = echo(&gw, &alice, &session, "still mine").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(echoed(&r), "still mine");
    let get = open_get(&gw.url(), &alice, &session).await;
    assert_eq!(get.status(), 200);
}

/// The legacy HTTP+SSE transport: a message for another key's stream is a 404 too.
#[tokio::test]
async fn a_legacy_sse_session_belongs_to_its_key() {
    let (_upstream, addr) = demo_http("web", &[]).await;
    let gw = start(Database::Sqlite, web_yaml(&addr), "").await;
    let alice = web_key(&gw).await;
    let mallory = web_key(&gw).await;
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let req = ::http::Request::builder()
        .method("GET")
        .uri(format!("{}/sse", gw.base()))
        .header("authorization", format!("Bearer {alice}"))
        .header("accept", "text/event-stream")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let resp = client.request(req).await.expect("gateway reachable");
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    let mut seen = Vec::new();
    let endpoint = loop {
        let frame = tokio::time::timeout(WITHIN, body.frame())
            .await
            .expect("endpoint event in time")
            .expect("stream open")
            .expect("frame");
        if let Some(d) = frame.data_ref() {
            seen.extend_from_slice(d);
        }
        let text = String::from_utf8_lossy(&seen).into_owned();
        if let Some(line) = text.lines().find_map(|l| l.strip_prefix("data: ")) {
            break line.trim().to_string();
        }
    };
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}).to_string();
    let r = send(&gw, &mallory, "POST", &endpoint, &[], &ping).await;
    assert_eq!(r.status, 404, "{}", r.text());
    let r = send(&gw, &alice, "POST", &endpoint, &[], &ping).await;
    assert_eq!(r.status, 202, "{}", r.text());
}

// ---------------------------------------------------------------- termination

/// DELETE ends a session: the id is a 404 afterwards for every method, on this replica
/// at once and on a second replica sharing the database as soon as it polls the store.
async fn delete_ends_the_session_on_every_replica(db: Database) {
    let (_upstream, addr) = demo_http("web", &[]).await;
    let servers = web_yaml(&addr);
    let gw = start(db.clone(), servers.clone(), "").await;
    let config = gw.dir.0.join("replica.yaml");
    std::fs::write(&config, gateway_document(&GatewayOptions::new(servers))).expect("write");
    let port = free_port();
    let _replica = start_replica_sharing(port, &gw.dir.0, gw.pg_schema.as_deref(), &config);
    wait_for_port(port, Duration::from_secs(20)).await;

    let session = RawMcp::connect(&gw.url(), MASTER_KEY, json!({}))
        .await
        .session
        .expect("session id");
    let on_replica = |session: String| async move {
        let decision = meshgate_e2e::seal("POST", "/mcp", "master", "*", None);
        let body = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
        meshgate_e2e::http::post(
            &format!("http://127.0.0.1:{port}/mcp"),
            &[
                ("x-meshgate-decision", decision.as_str()),
                ("mcp-session-id", session.as_str()),
                ("mcp-protocol-version", "2025-11-25"),
                ("accept", "application/json, text/event-stream"),
            ],
            &body.to_string(),
        )
        .await
        .expect("replica reachable")
    };
    let r = on_replica(session.clone()).await;
    assert_eq!(
        r.status,
        200,
        "the replica continues the session: {}",
        r.text()
    );
    let get = open_get(&gw.url(), MASTER_KEY, &session).await;
    assert_eq!(get.status(), 200);

    let r = send(
        &gw,
        MASTER_KEY,
        "DELETE",
        "/mcp",
        &[("mcp-session-id", &session)],
        "",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let deleted_at = Instant::now();
    // The open GET stream of the session ends.
    let mut body = get.into_body();
    let ended = tokio::time::timeout(WITHIN, async {
        while let Some(Ok(_)) = body.frame().await {}
    })
    .await;
    assert!(ended.is_ok(), "the GET stream stayed open after DELETE");

    let r = rpc(&gw, MASTER_KEY, Some(&session), "tools/list", json!({})).await;
    assert_eq!(r.status, 404, "POST after DELETE: {}", r.text());
    let (status, body) = refused_body(open_get(&gw.url(), MASTER_KEY, &session).await).await;
    assert_eq!(status, 404, "GET after DELETE: {body}");
    let r = send(
        &gw,
        MASTER_KEY,
        "DELETE",
        "/mcp",
        &[("mcp-session-id", &session)],
        "",
    )
    .await;
    assert_eq!(r.status, 404, "DELETE again: {}", r.text());
    eventually("the other replica refuses the ended session", || {
        let session = session.clone();
        async move {
            let r = on_replica(session).await;
            (r.status == 404).then_some(()).ok_or(r.text())
        }
    })
    .await;
    eprintln!(
        "{db:?}: the other replica refused the ended session {:?} after the DELETE",
        deleted_at.elapsed()
    );
    // A new session is unaffected.
    let fresh = RawMcp::connect(&gw.url(), MASTER_KEY, json!({})).await;
    let r = rpc(
        &gw,
        MASTER_KEY,
        fresh.session.as_deref(),
        "tools/list",
        json!({}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn delete_ends_the_session_on_every_replica_sqlite() {
    delete_ends_the_session_on_every_replica(Database::Sqlite).await
}

#[tokio::test]
async fn delete_ends_the_session_on_every_replica_postgres() {
    delete_ends_the_session_on_every_replica(Database::Postgres).await
}

// ---------------------------------------------------------------- expiry

/// `meshgate.session_max_lifetime_ms`: an id is refused once that long has passed since
/// initialize, however busy the session was.
#[tokio::test]
async fn a_session_expires_after_its_maximum_lifetime() {
    let (_upstream, addr) = demo_http("web", &[]).await;
    let gw = start(
        Database::Sqlite,
        web_yaml(&addr),
        "  session_max_lifetime_ms: 3000\n",
    )
    .await;
    let session = RawMcp::connect(&gw.url(), MASTER_KEY, json!({}))
        .await
        .session
        .expect("session id");
    let began = Instant::now();
    let r = echo(&gw, MASTER_KEY, &session, "young").await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Busy all along: every request answered until the lifetime is over, then 404.
    let last = loop {
        let r = echo(&gw, MASTER_KEY, &session, "busy").await;
        if r.status != 200 || began.elapsed() > WITHIN {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(last.status, 404, "{}", last.text());
    assert!(
        began.elapsed() >= Duration::from_millis(2500),
        "refused before its lifetime was over"
    );
}

/// `meshgate.session_idle_timeout_ms`: a session in use stays; one left alone for
/// longer is refused.
#[tokio::test]
async fn an_idle_session_expires_and_a_busy_one_does_not() {
    let (_upstream, addr) = demo_http("web", &[]).await;
    let gw = start(
        Database::Sqlite,
        web_yaml(&addr),
        "  session_idle_timeout_ms: 2000\n",
    )
    .await;
    let session = RawMcp::connect(&gw.url(), MASTER_KEY, json!({}))
        .await
        .session
        .expect("session id");
    let began = Instant::now();
    while began.elapsed() < Duration::from_secs(5) {
        let r = echo(&gw, MASTER_KEY, &session, "busy").await;
        assert_eq!(r.status, 200, "a busy session expired: {}", r.text());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Left alone past the idle timeout (time itself is what this waits for).
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let r = echo(&gw, MASTER_KEY, &session, "too late").await;
    assert_eq!(r.status, 404, "{}", r.text());
}

// ---------------------------------------------------------------- stream limits

/// GET streams are limited per session and per key (GET, legacy SSE and 2026 listen
/// streams count together for a key); beyond, 429 naming the setting; other keys and
/// the master key are unaffected; closing a stream frees its slot.
#[tokio::test]
async fn streams_are_limited_per_session_and_per_key() {
    let (_upstream, addr) = demo_http("web", &[]).await;
    let gw = start(
        Database::Sqlite,
        web_yaml(&addr),
        "  max_streams_per_session: 2\n  max_streams_per_key: 3\n",
    )
    .await;
    let alice = web_key(&gw).await;
    let bob = web_key(&gw).await;
    let first = RawMcp::connect(&gw.url(), &alice, json!({}))
        .await
        .session
        .expect("session");
    let second = RawMcp::connect(&gw.url(), &alice, json!({}))
        .await
        .session
        .expect("session");

    let a1 = open_get(&gw.url(), &alice, &first).await;
    let a2 = open_get(&gw.url(), &alice, &first).await;
    assert_eq!((a1.status().as_u16(), a2.status().as_u16()), (200, 200));
    let (status, body) = refused_body(open_get(&gw.url(), &alice, &first).await).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"], "too_many_streams", "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("meshgate.max_streams_per_session")),
        "{body}"
    );

    let a3 = open_get(&gw.url(), &alice, &second).await;
    assert_eq!(a3.status(), 200);
    let (status, body) = refused_body(open_get(&gw.url(), &alice, &second).await).await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("meshgate.max_streams_per_key")),
        "{body}"
    );
    // The legacy transport and 2026 listen streams count towards the key too.
    let auth = format!("Bearer {alice}");
    let r = request(
        "GET",
        &format!("{}/sse", gw.base()),
        &[
            ("authorization", auth.as_str()),
            ("accept", "text/event-stream"),
        ],
        "",
    )
    .await
    .expect("gateway reachable");
    assert_eq!(r.status, 429, "legacy SSE: {}", r.text());
    let listen = json!({"jsonrpc": "2.0", "id": 7, "method": "subscriptions/listen",
        "params": {"notifications": {"toolsListChanged": true}, "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "limits-test", "version": "1"}}}});
    let (status, _) = post_events(
        &gw.url(),
        &[
            ("authorization", auth.as_str()),
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "subscriptions/listen"),
        ],
        &listen,
    )
    .await;
    assert_eq!(status, 429, "2026 listen");

    // Another key and the master key are not locked out.
    let theirs = RawMcp::connect(&gw.url(), &bob, json!({}))
        .await
        .session
        .expect("session");
    let b1 = open_get(&gw.url(), &bob, &theirs).await;
    assert_eq!(b1.status(), 200);
    let r = rpc(&gw, MASTER_KEY, None, "ping", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text());

    // Closing one of alice's streams frees a slot for her.
    drop(a1);
    eventually("a closed stream frees its slot", || {
        let (url, alice, second) = (gw.url(), alice.clone(), second.clone());
        async move {
            let resp = open_get(&url, &alice, &second).await;
            if resp.status() == 200 {
                // Held open by leaking it into a task that ends with the test.
                tokio::spawn(async move {
                    let mut body = resp.into_body();
                    while let Some(Ok(_)) = body.frame().await {}
                });
                Ok(())
            } else {
                Err(format!("{}", resp.status()))
            }
        }
    })
    .await;
    drop((a2, a3, b1));
}

// ---------------------------------------------------------------- upstream restart

/// The demo HTTP server on a fixed port (so it can come back at the same address).
async fn demo_http_at(name: &str, port: u16) -> Proc {
    let mut cmd = Command::new(bin("meshgate-demo-http"));
    cmd.args([
        "--name",
        name,
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--exit-with-stdin",
        "--max-lifetime-secs",
    ])
    .arg(MAX_LIFETIME_SECS.to_string())
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    let mut proc = Proc::spawn(name, cmd);
    read_listening(&mut proc).await;
    proc
}

/// When an HTTP upstream restarts (and forgets its sessions), every client session
/// riding on the lost upstream session keeps working: the gateway opens a new upstream
/// session and maps the stale one its clients' ids carry to it.
#[tokio::test]
async fn sessions_survive_their_http_upstream_restarting() {
    let port = free_port();
    let mut upstream = demo_http_at("web", port).await;
    let gw = start(Database::Sqlite, web_yaml(&format!("127.0.0.1:{port}")), "").await;
    let one = RawMcp::connect(&gw.url(), MASTER_KEY, json!({}))
        .await
        .session
        .expect("session");
    let two = RawMcp::connect(&gw.url(), MASTER_KEY, json!({}))
        .await
        .session
        .expect("session");
    for s in [&one, &two] {
        let r = echo(&gw, MASTER_KEY, s, "before").await;
        assert_eq!(echoed(&r), "before", "{}", r.text());
    }

    upstream.child.kill().await.expect("kill the upstream");
    let _ = upstream.child.wait().await;
    let _restarted = demo_http_at("web", port).await;

    for s in [&one, &two, &one, &two] {
        let r = echo(&gw, MASTER_KEY, s, "after").await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.json()["error"].is_null(), "{}", r.text());
        assert_eq!(echoed(&r), "after", "{}", r.text());
    }
}
