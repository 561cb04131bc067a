//! Faults, through real Envoy + filter + sidecar: upstreams killed mid-call (stdio and
//! HTTP), hanging past `call_timeout_ms`, answering garbage; the sidecar killed and
//! restarted under load; PostgreSQL cut and back. For each: no client request hangs
//! (every request here has a bound, and exceeding it fails the test), the client gets a
//! clear error, the gateway recovers without a restart, and nothing stored is lost.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use meshgate_e2e::http::{post, request, Resp};
use meshgate_e2e::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;

/// No client request in this file may take longer than this: a hang fails the test.
const BOUND: Duration = Duration::from_secs(20);

fn auth() -> String {
    format!("Bearer {MASTER_KEY}")
}

/// One bounded JSON-RPC POST with the master key (or `key`).
async fn rpc_with(url: &str, key: &str, body: Value) -> Result<Resp, String> {
    let auth = format!("Bearer {key}");
    match tokio::time::timeout(
        BOUND,
        post(url, &[("authorization", auth.as_str())], &body.to_string()),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => panic!("HUNG: {body} got no answer within {BOUND:?}"),
    }
}

async fn call_tool(gw: &Gateway, name: &str, args: Value) -> Resp {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": name, "arguments": args}});
    rpc_with(&gw.url(), MASTER_KEY, body)
        .await
        .unwrap_or_else(|e| panic!("tools/call {name}: {e}"))
}

/// The text of a tool result or of a JSON-RPC error, and whether it is an error.
fn outcome(resp: &Resp) -> (bool, String) {
    let v = resp.json();
    if let Some(e) = v.get("error") {
        return (true, e.to_string());
    }
    let r = &v["result"];
    (
        r["isError"].as_bool().unwrap_or(false),
        r["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

/// A tool call that must fail with an error naming `server`.
async fn expect_clear_error(gw: &Gateway, tool: &str, args: Value, server: &str) -> String {
    let resp = call_tool(gw, tool, args).await;
    assert_eq!(resp.status, 200, "{tool}: {}", resp.text());
    let (is_error, text) = outcome(&resp);
    assert!(is_error, "{tool} should fail, got {}", resp.text());
    assert!(
        text.contains(server),
        "{tool}: the error should name server `{server}`: {text}"
    );
    text
}

/// Polls a tool until it answers `expected` (recovery), within 20 s.
async fn until_ok(gw: &Gateway, tool: &str, args: Value, expected: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(resp) = rpc_with(
            &gw.url(),
            MASTER_KEY,
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                   "params": {"name": tool, "arguments": args}}),
        )
        .await
        {
            if resp.status == 200 {
                let (is_error, text) = outcome(&resp);
                if !is_error && text.contains(expected) {
                    return;
                }
                last = text;
            } else {
                last = format!("{} {}", resp.status, resp.text());
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{tool} did not recover within 20 s; last answer: {last}");
}

fn kill_pid(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -9 {pid}");
}

/// The pid the demo server reports of itself (`whoami`: "<name> pid <n>").
async fn demo_pid(gw: &Gateway, tool: &str) -> u32 {
    let resp = call_tool(gw, tool, json!({})).await;
    let (_, text) = outcome(&resp);
    text.split_whitespace()
        .rev()
        .find_map(|w| w.trim_matches(|c: char| !c.is_ascii_digit()).parse().ok())
        .unwrap_or_else(|| panic!("no pid in {text}"))
}

/// Sends `tools/call name` in the background. The demo servers answer `sleep` only
/// after the delay, so a kill during it lands mid-call; nothing outside the sidecar shows
/// when the child has read the request, so the tests give it a moment — if the kill came
/// first the call would succeed after the full sleep and the test would fail, not pass.
fn call_in_background(
    gw: &Gateway,
    name: &str,
    args: Value,
) -> tokio::task::JoinHandle<Result<Resp, String>> {
    let url = gw.url();
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                      "params": {"name": name, "arguments": args}});
    tokio::spawn(async move { rpc_with(&url, MASTER_KEY, body).await })
}

// ─── upstream killed mid-call ────────────────────────────────────────────────

#[tokio::test]
async fn stdio_upstream_killed_mid_call_gets_a_clear_error_and_recovers() {
    let gw = Gateway::start(demo_stdio_yaml("local", "")).await;
    let pid = demo_pid(&gw, "local-whoami").await;
    let call = call_in_background(&gw, "local-sleep", json!({"ms": 15_000}));
    // The request reaches the child within milliseconds; kill it while it sleeps.
    tokio::time::sleep(Duration::from_millis(700)).await;
    kill_pid(pid);
    let resp = call.await.expect("task").expect("an answer");
    assert_eq!(resp.status, 200, "{}", resp.text());
    let (is_error, text) = outcome(&resp);
    assert!(is_error && text.contains("local"), "{}", resp.text());
    // The supervisor restarts the process; the server answers again, a new process.
    until_ok(&gw, "local-echo", json!({"text": "back"}), "back").await;
    assert_ne!(demo_pid(&gw, "local-whoami").await, pid);
}

#[tokio::test]
async fn http_upstream_killed_mid_call_gets_a_clear_error_and_recovers_when_it_returns() {
    let (mut web, addr) = demo_http("web", &[]).await;
    let gw = Gateway::start(format!(
        "  web:\n    url: http://{addr}/mcp\n    transport: http\n"
    ))
    .await;
    until_ok(&gw, "web-echo", json!({"text": "up"}), "up").await;
    let call = call_in_background(&gw, "web-sleep", json!({"ms": 15_000}));
    tokio::time::sleep(Duration::from_millis(700)).await;
    web.child.kill().await.expect("kill web");
    let resp = call.await.expect("task").expect("an answer");
    assert_eq!(resp.status, 200, "{}", resp.text());
    let (is_error, text) = outcome(&resp);
    assert!(is_error && text.contains("web"), "{}", resp.text());
    // While it is down: a clear error, fast.
    expect_clear_error(&gw, "web-echo", json!({"text": "x"}), "web").await;
    // Back on the same address: calls work again, without restarting the gateway.
    let (_web2, addr2) = demo_http("web", &["--listen", &addr]).await;
    assert_eq!(addr2, addr);
    until_ok(&gw, "web-echo", json!({"text": "again"}), "again").await;
}

// ─── upstream hanging past call_timeout_ms ───────────────────────────────────

#[tokio::test]
async fn upstreams_hanging_past_call_timeout_get_a_timeout_error_and_the_next_call_works() {
    let junk = JunkServer::start().await;
    let mut opts = GatewayOptions::new(format!(
        "{}  junk:\n    url: http://{}/mcp\n    transport: http\n",
        demo_stdio_yaml("local", ""),
        junk.addr
    ));
    opts.meshgate_yaml = "  call_timeout_ms: 1000\n".into();
    let gw = Gateway::start_with(opts).await;
    let text = expect_clear_error(&gw, "local-sleep", json!({"ms": 8_000}), "local").await;
    assert!(text.contains("did not answer within 1000 ms"), "{text}");
    let text = expect_clear_error(&gw, "junk-hang", json!({}), "junk").await;
    assert!(text.contains("did not answer within 1000 ms"), "{text}");
    // Neither upstream is stuck behind the abandoned call.
    until_ok(&gw, "local-echo", json!({"text": "next"}), "next").await;
    until_ok(&gw, "junk-ok", json!({}), "fine").await;
}

// ─── upstream returning garbage ──────────────────────────────────────────────

#[tokio::test]
async fn upstream_garbage_gets_a_clear_error_and_the_gateway_keeps_serving() {
    let junk = JunkServer::start().await;
    let mut opts = GatewayOptions::new(format!(
        "  junk:\n    url: http://{}/mcp\n    transport: http\n",
        junk.addr
    ));
    opts.meshgate_yaml = "  call_timeout_ms: 5000\n".into();
    let gw = Gateway::start_with(opts).await;
    until_ok(&gw, "junk-ok", json!({}), "fine").await;
    for tool in [
        "junk-bad_json",
        "junk-html",
        "junk-truncated_sse",
        "junk-status_500",
        "junk-empty_200",
    ] {
        expect_clear_error(&gw, tool, json!({}), "junk").await;
        until_ok(&gw, "junk-ok", json!({}), "fine").await;
    }
}

/// An HTTP upstream's JSON reply for another request id is not taken as this call's
/// result (it was, until the streamable-HTTP upstream compared the ids; now in
/// sidecar/src/upstream/streamable_http/wire.rs).
#[tokio::test]
async fn upstream_reply_for_another_id_is_an_error() {
    let junk = JunkServer::start().await;
    let gw = Gateway::start(format!(
        "  junk:\n    url: http://{}/mcp\n    transport: http\n",
        junk.addr
    ))
    .await;
    until_ok(&gw, "junk-ok", json!({}), "fine").await;
    expect_clear_error(&gw, "junk-wrong_id", json!({}), "junk").await;
}

// ─── sidecar killed and restarted under load ────────────────────────────────

#[tokio::test]
async fn sidecar_killed_under_load_fails_requests_cleanly_and_recovers_with_its_data() {
    let mut gw = Gateway::start(demo_stdio_yaml("local", "")).await;
    // Data written before the crash.
    let created = admin(&gw, "POST", "/key/generate", r#"{"key_alias":"survivor"}"#).await;
    assert_eq!(created.status, 200, "{}", created.text());
    let key = created.json()["key"].as_str().expect("key").to_string();
    until_key_ok(&gw, &key).await;

    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..8)
        .map(|i| {
            let (url, stop) = (gw.url(), stop.clone());
            let (answered, failed) = (answered.clone(), failed.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let body = json!({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                                      "params": {"name": "local-echo", "arguments": {"text": "l"}}});
                    // rpc_with panics on a hang: every request ends, one way or another.
                    match rpc_with(&url, MASTER_KEY, body).await {
                        Ok(r) if r.status == 200 => answered.fetch_add(1, Ordering::Relaxed),
                        Ok(r) => {
                            // Envoy's answer while the sidecar is gone: an error status,
                            // never a 200 with a broken body.
                            assert!(r.status >= 500, "{} {}", r.status, r.text());
                            failed.fetch_add(1, Ordering::Relaxed)
                        }
                        Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    wait_until("load is running", || answered.load(Ordering::Relaxed) > 50).await;
    gw.sidecar.child.kill().await.expect("kill sidecar");
    let before = failed.load(Ordering::Relaxed);
    wait_until("requests fail while the sidecar is down", || {
        failed.load(Ordering::Relaxed) > before
    })
    .await;
    gw.sidecar = start_sidecar(gw.sidecar_port, &gw.dir.0);
    let after = answered.load(Ordering::Relaxed);
    wait_until("requests succeed again after the restart", || {
        answered.load(Ordering::Relaxed) > after + 50
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for w in join_all(workers).await {
        w.expect("a load worker failed");
    }
    // Same Envoy, same filter: the key made before the crash still works.
    until_key_ok(&gw, &key).await;
    let list = admin(&gw, "GET", "/key/list", "").await;
    assert!(
        list.text().contains("survivor") || list.text().contains(&key_token(&created)),
        "key lost: {}",
        list.text()
    );
}

// ─── database unavailable, then back ─────────────────────────────────────────

#[tokio::test]
async fn postgres_cut_then_back_gives_clear_errors_then_works_with_nothing_lost() {
    let mut opts = GatewayOptions::new(demo_stdio_yaml("local", ""));
    opts.database = Database::Postgres;
    let mut gw = Gateway::start_with(opts).await;
    let schema = gw.pg_schema.clone().expect("schema");
    // Put a proxy we can cut between the sidecar and PostgreSQL.
    let proxy = CutProxy::start(5432).await;
    gw.sidecar
        .child
        .kill()
        .await
        .expect("stop the first sidecar");
    gw.sidecar = start_sidecar_at_db(
        gw.sidecar_port,
        &gw.dir.0,
        &format!("postgres://postgres@{}/test", proxy.addr),
        &schema,
    );
    wait_for_port(gw.sidecar_port, Duration::from_secs(20)).await;

    let first = admin(
        &gw,
        "POST",
        "/key/generate",
        r#"{"key_alias":"before-cut"}"#,
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.text());
    let key = first.json()["key"].as_str().expect("key").to_string();
    until_key_ok(&gw, &key).await;

    proxy.cut();
    // Writes fail with a clear error, within the bound.
    let during = admin(
        &gw,
        "POST",
        "/key/generate",
        r#"{"key_alias":"during-cut"}"#,
    )
    .await;
    // A JSON error the client can act on; the database's own words stay in the
    // sidecar's log (they may name hosts and users).
    assert!(during.status >= 500, "{} {}", during.status, during.text());
    assert!(during.json()["error"].is_string(), "{}", during.text());
    // MCP traffic of known keys goes on: the policy snapshot is in memory.
    let resp = rpc_with(
        &gw.url(),
        &key,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
               "params": {"name": "local-echo", "arguments": {"text": "still"}}}),
    )
    .await
    .expect("call during the cut");
    assert_eq!(resp.status, 200, "{}", resp.text());

    proxy.restore();
    // Back: writes work again without restarting anything, and nothing is lost.
    let deadline = Instant::now() + Duration::from_secs(30);
    let second = loop {
        let r = admin(&gw, "POST", "/key/generate", r#"{"key_alias":"after-cut"}"#).await;
        if r.status == 200 {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "no recovery: {} {}",
            r.status,
            r.text()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let key2 = second.json()["key"].as_str().expect("key").to_string();
    until_key_ok(&gw, &key2).await;
    until_key_ok(&gw, &key).await;
    let list = admin(&gw, "GET", "/key/list?return_full_object=true", "").await;
    let text = list.text();
    assert!(
        text.contains("before-cut") && text.contains("after-cut"),
        "{text}"
    );
    assert!(
        !text.contains("during-cut"),
        "a failed write half-landed: {text}"
    );
}

// ─── helpers ─────────────────────────────────────────────────────────────────

async fn admin(gw: &Gateway, method: &str, path: &str, body: &str) -> Resp {
    let auth = auth();
    match tokio::time::timeout(
        BOUND,
        request(
            method,
            &format!("{}{path}", gw.base()),
            &[("authorization", auth.as_str())],
            body,
        ),
    )
    .await
    {
        Ok(r) => r.unwrap_or_else(|e| panic!("{method} {path}: {e}")),
        Err(_) => panic!("HUNG: {method} {path} got no answer within {BOUND:?}"),
    }
}

fn key_token(created: &Resp) -> String {
    created.json()["token"].as_str().unwrap_or("-").to_string()
}

async fn until_key_ok(gw: &Gateway, key: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = rpc_with(
            &gw.url(),
            key,
            json!({"jsonrpc": "2.0", "id": 0, "method": "ping"}),
        )
        .await;
        if matches!(&r, Ok(r) if r.status == 200) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "key never worked: {:?}",
            r.map(|r| r.text())
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A sidecar on PostgreSQL at `url` (the cut proxy), in the gateway's schema.
fn start_sidecar_at_db(port: u16, dir: &std::path::Path, url: &str, schema: &str) -> Proc {
    let path = bin("meshgate-sidecar");
    require(&path, "run `cargo build -p meshgate-sidecar`");
    let mut cmd = Command::new(path);
    cmd.args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir.join("data"))
        .args(["--database-url", url, "--database-schema", schema])
        .env("MESHGATE_SHARED_SECRET", SECRET)
        .env("MESHGATE_MASTER_KEY", MASTER_KEY)
        .env("MESHGATE_LOG", "warn")
        .stdin(std::process::Stdio::null());
    Proc::spawn("sidecar", cmd)
}

/// A TCP proxy to 127.0.0.1:`to` that can be cut (open connections reset, new ones
/// closed at once) and restored. Stops with the test.
struct CutProxy {
    addr: String,
    cut: Arc<AtomicBool>,
    generation: Arc<AtomicUsize>,
    _task: tokio::task::JoinHandle<()>,
}

impl CutProxy {
    async fn start(to: u16) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr").to_string();
        let cut = Arc::new(AtomicBool::new(false));
        let generation = Arc::new(AtomicUsize::new(0));
        let (c, g) = (cut.clone(), generation.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if c.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let (c, g) = (c.clone(), g.clone());
                tokio::spawn(async move {
                    let born = g.load(Ordering::SeqCst);
                    let Ok(server) = TcpStream::connect(("127.0.0.1", to)).await else {
                        return;
                    };
                    pipe(client, server, c, g, born).await;
                });
            }
        });
        CutProxy {
            addr,
            cut,
            generation,
            _task: task,
        }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// Copies both ways until either side closes or the proxy is cut.
async fn pipe(
    mut a: TcpStream,
    mut b: TcpStream,
    cut: Arc<AtomicBool>,
    generation: Arc<AtomicUsize>,
    born: usize,
) {
    let (mut buf_a, mut buf_b) = (vec![0u8; 16 * 1024], vec![0u8; 16 * 1024]);
    let alive = || !cut.load(Ordering::SeqCst) && generation.load(Ordering::SeqCst) == born;
    loop {
        let tick = tokio::time::sleep(Duration::from_millis(100));
        tokio::select! {
            n = a.read(&mut buf_a) => match n {
                Ok(n) if n > 0 && alive() => if b.write_all(&buf_a[..n]).await.is_err() { return },
                _ => return,
            },
            n = b.read(&mut buf_b) => match n {
                Ok(n) if n > 0 && alive() => if a.write_all(&buf_b[..n]).await.is_err() { return },
                _ => return,
            },
            _ = tick => if !alive() { return },
        }
    }
}

/// A streamable-HTTP MCP server that initializes properly and then misbehaves per tool:
/// invalid JSON, HTML, a truncated SSE stream, a response for another id, 500, an empty
/// 200, a call that never answers. `ok` answers "fine". One request per connection.
struct JunkServer {
    addr: String,
    _task: tokio::task::JoinHandle<()>,
}

impl JunkServer {
    async fn start() -> JunkServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind junk");
        let addr = listener.local_addr().expect("addr").to_string();
        let task = tokio::spawn(async move {
            let started = Instant::now();
            while let Ok((conn, _)) = listener.accept().await {
                if started.elapsed() > Duration::from_secs(MAX_LIFETIME_SECS) {
                    return;
                }
                tokio::spawn(junk_connection(conn));
            }
        });
        JunkServer { addr, _task: task }
    }
}

async fn junk_connection(mut conn: TcpStream) {
    let Some((head, body)) = read_request(&mut conn).await else {
        return;
    };
    let first = head.lines().next().unwrap_or_default().to_string();
    if !first.starts_with("POST") {
        let _ = conn
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await;
        return;
    }
    let msg: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let id = msg.get("id").cloned().unwrap_or(Value::Null);
    let method = msg["method"].as_str().unwrap_or_default();
    let ok = |result: Value| json!({"jsonrpc": "2.0", "id": id, "result": result}).to_string();
    let (status, ctype, payload, extra) = match method {
        "initialize" => (
            200,
            "application/json",
            ok(
                json!({"protocolVersion": msg["params"]["protocolVersion"].as_str().unwrap_or("2025-06-18"),
                      "capabilities": {"tools": {}}, "serverInfo": {"name": "junk", "version": "1"}}),
            ),
            "mcp-session-id: junk-session\r\n",
        ),
        "tools/list" => {
            let tools: Vec<Value> = [
                "ok",
                "bad_json",
                "html",
                "truncated_sse",
                "wrong_id",
                "status_500",
                "empty_200",
                "hang",
            ]
            .iter()
            .map(|n| json!({"name": n, "inputSchema": {"type": "object"}}))
            .collect();
            (200, "application/json", ok(json!({"tools": tools})), "")
        }
        "tools/call" => match msg["params"]["name"].as_str().unwrap_or_default() {
            "ok" => (
                200,
                "application/json",
                ok(json!({"content": [{"type": "text", "text": "fine"}]})),
                "",
            ),
            "bad_json" => (
                200,
                "application/json",
                r#"{"jsonrpc":"2.0","id":"#.to_string(),
                "",
            ),
            "html" => (
                200,
                "text/html",
                "<html><body>502 Bad Gateway</body></html>".into(),
                "",
            ),
            "truncated_sse" => {
                let _ = conn
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":",
                    )
                    .await;
                return;
            }
            "wrong_id" => (
                200,
                "application/json",
                json!({"jsonrpc": "2.0", "id": "not-yours", "result": {"content": []}}).to_string(),
                "",
            ),
            "status_500" => (500, "text/plain", "internal error".into(), ""),
            "empty_200" => (200, "application/json", String::new(), ""),
            "hang" => {
                // Hold the connection, never answer (until the test ends).
                tokio::time::sleep(Duration::from_secs(MAX_LIFETIME_SECS)).await;
                return;
            }
            _ => (200, "application/json", ok(json!({"content": []})), ""),
        },
        _ if msg.get("id").is_none() => (202, "application/json", String::new(), ""),
        _ => (200, "application/json", ok(json!({})), ""),
    };
    let reply = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\n{extra}connection: close\r\n\r\n{payload}",
        payload.len()
    );
    let _ = conn.write_all(reply.as_bytes()).await;
}

async fn read_request(conn: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 1 << 20 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((head, body))
}
