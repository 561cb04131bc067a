//! Secret scan: a gateway configured with known secrets (master key, shared secret, a
//! server's `auth_value` inline and through `os.environ/`, a client's
//! `x-mcp-<alias>-authorization`, credentials in a spec URL, a virtual key) runs every
//! error path a client, an admin or a mesh peer can reach; then every response (status
//! line aside: headers and body) and every line the sidecar (at debug level) and Envoy
//! (at info level, the filter's logs included) wrote is searched for each secret.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use meshgate_e2e::http::{request, Resp};
use meshgate_e2e::*;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::process::Command;

const SERVER_AUTH: &str = "sv-auth-SECRET-1-web";
const CLIENT_AUTH: &str = "xc-client-SECRET-2-web";
const ENV_SECRET: &str = "env-SECRET-3-locked";
const DOWN_AUTH: &str = "sv-down-SECRET-4";
const URL_PASSWORD: &str = "urlpw-SECRET-5";
const WRONG_KEY: &str = "sk-wrong-SECRET-6";
const SYNC_SECRET: &str = "sv-sync-SECRET-7";
const ADMIN_SECRET: &str = "adm-SECRET-8";

/// Every response seen, as text (headers and body), with what produced it.
#[derive(Default)]
struct Seen(Vec<(String, String)>);

impl Seen {
    fn add(&mut self, what: &str, r: &Resp) {
        let mut text = String::new();
        for (k, v) in &r.headers {
            text.push_str(&format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())));
        }
        text.push_str(&r.text());
        self.0.push((what.to_string(), text));
    }
}

async fn send(url: &str, method: &str, headers: &[(&str, &str)], body: &str) -> Resp {
    match tokio::time::timeout(Duration::from_secs(30), request(method, url, headers, body)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => panic!("{method} {url}: {e}"),
        Err(_) => panic!("{method} {url} hung"),
    }
}

/// An HTTP server that refuses everything with 401 (an upstream whose credential is wrong).
async fn refusing_upstream() -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let task = tokio::spawn(async move {
        let started = Instant::now();
        while let Ok((mut conn, _)) = listener.accept().await {
            if started.elapsed() > Duration::from_secs(MAX_LIFETIME_SECS) {
                return;
            }
            tokio::spawn(async move {
                let mut buf = [0u8; 16 * 1024];
                let _ = tokio::io::AsyncReadExt::read(&mut conn, &mut buf).await;
                let body = r#"{"error":"invalid_token"}"#;
                let _ = conn
                    .write_all(
                        format!(
                            "HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer error=\"invalid_token\"\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .await;
            });
        }
    });
    (addr, task)
}

fn closed_port() -> u16 {
    // Bound then dropped: nothing listens there during the test.
    free_port()
}

#[tokio::test]
async fn no_secret_reaches_a_response_or_a_log_line() {
    let (_web, web_addr) = demo_http("web", &[]).await;
    let (locked_addr, _locked) = refusing_upstream().await;
    let down = closed_port();
    let spec_port = closed_port();
    let servers = format!(
        "{local}  web:\n    url: http://{web_addr}/mcp\n    transport: http\n    auth_type: bearer_token\n    auth_value: {SERVER_AUTH}\n  locked:\n    url: http://{locked_addr}/mcp\n    transport: http\n    auth_type: bearer_token\n    auth_value: os.environ/SCAN_UPSTREAM_TOKEN\n  down:\n    url: http://127.0.0.1:{down}/mcp\n    transport: http\n    auth_type: api_key\n    auth_value: {DOWN_AUTH}\n  rest:\n    spec_path: \"http://scan:{URL_PASSWORD}@127.0.0.1:{spec_port}/openapi.json\"\n    url: \"http://127.0.0.1:{spec_port}\"\n",
        local = demo_stdio_yaml("local", ""),
    );

    // The gateway, with both logs captured to files.
    let dir = TempDir::new("secrets");
    let (port, sidecar_port, admin_port) = (free_port(), free_port(), free_port());
    let document = gateway_document(&GatewayOptions::new(servers));
    let envoy_file = dir.0.join("envoy.yaml");
    std::fs::write(
        &envoy_file,
        envoy_config(port, admin_port, sidecar_port, &document),
    )
    .expect("write envoy.yaml");
    let sidecar_log = dir.0.join("sidecar.log");
    let _sidecar = spawn_sidecar(sidecar_port, &dir.0, &sidecar_log);
    wait_for_port(sidecar_port, Duration::from_secs(20)).await;
    let envoy_log = dir.0.join("envoy.log");
    let _envoy = spawn_envoy(&envoy_file, &envoy_log);
    let base = format!("http://127.0.0.1:{port}");
    let mcp = format!("{base}/mcp");
    let master = format!("Bearer {MASTER_KEY}");
    wait_ready(&mcp, &master).await;

    let mut seen = Seen::default();
    let rpc = |id: u64, method: &str, params: Value| {
        json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()
    };
    let call = |tool: &str| rpc(3, "tools/call", json!({"name": tool, "arguments": {}}));

    // A virtual key that may use `local` only (its plaintext is a secret too).
    let made = send(
        &format!("{base}/key/generate"),
        "POST",
        &[("authorization", &master)],
        r#"{"key_alias":"scan","models":[],"object_permission":{"mcp_servers":["local"]}}"#,
    )
    .await;
    assert_eq!(made.status, 200, "{}", made.text());
    let vkey = made.json()["key"].as_str().expect("key").to_string();
    let vauth = format!("Bearer {vkey}");
    // (This one response carries the key by design; it is not scanned.)
    wait_key(&mcp, &vauth).await;

    let client_cred = format!("Bearer {CLIENT_AUTH}");
    let with_client = [
        ("authorization", master.as_str()),
        ("x-mcp-web-authorization", client_cred.as_str()),
    ];
    // Client errors.
    for (what, headers, body) in [
        (
            "bad key",
            vec![("authorization", format!("Bearer {WRONG_KEY}"))],
            rpc(1, "ping", json!({})),
        ),
        (
            "bad key in x-litellm-api-key",
            vec![("x-litellm-api-key", WRONG_KEY.to_string())],
            rpc(1, "ping", json!({})),
        ),
        ("no key", vec![], rpc(1, "ping", json!({}))),
        (
            "forbidden server",
            vec![("authorization", vauth.clone())],
            call("web-echo"),
        ),
        (
            "forbidden server by path",
            vec![("authorization", vauth.clone())],
            rpc(2, "tools/list", json!({})),
        ),
        (
            "unknown tool",
            vec![("authorization", master.clone())],
            call("nope-echo"),
        ),
        (
            "upstream down",
            vec![("authorization", master.clone())],
            call("down-echo"),
        ),
        (
            "upstream 401",
            vec![("authorization", master.clone())],
            call("locked-echo"),
        ),
        (
            "spec does not load",
            vec![("authorization", master.clone())],
            call("rest-anything"),
        ),
        (
            "list with failing upstreams",
            vec![("authorization", master.clone())],
            rpc(4, "tools/list", json!({})),
        ),
        (
            "client credential, unknown tool",
            with_client
                .iter()
                .map(|(a, b)| (*a, b.to_string()))
                .collect(),
            call("web-nope"),
        ),
        (
            "client credential, good call",
            with_client
                .iter()
                .map(|(a, b)| (*a, b.to_string()))
                .collect(),
            rpc(
                5,
                "tools/call",
                json!({"name": "web-echo", "arguments": {"text": "hi"}}),
            ),
        ),
        (
            "client credential, other server down",
            with_client
                .iter()
                .map(|(a, b)| (*a, b.to_string()))
                .collect(),
            call("down-echo"),
        ),
        (
            "parse error",
            vec![("authorization", master.clone())],
            "{not json".to_string(),
        ),
        (
            "bad params",
            vec![("authorization", master.clone())],
            rpc(6, "tools/call", json!({"name": 5})),
        ),
    ] {
        let h: Vec<(&str, &str)> = headers.iter().map(|(a, b)| (*a, b.as_str())).collect();
        let r = send(&mcp, "POST", &h, &body).await;
        seen.add(what, &r);
        let named = send(&format!("{base}/web/mcp"), "POST", &h, &body).await;
        seen.add(&format!("{what} at /web/mcp"), &named);
    }
    // Admin errors.
    for (what, key, method, path, body) in [
        ("admin: bad JSON", &master, "POST", "/key/generate", "{oops"),
        (
            "admin: virtual key writes",
            &vauth,
            "POST",
            "/key/generate",
            "{}",
        ),
        (
            "admin: unknown key",
            &master,
            "GET",
            "/key/info?key=sk-unknown",
            "",
        ),
        (
            "admin: list servers (redacted)",
            &master,
            "GET",
            "/v1/mcp/server",
            "",
        ),
        (
            "admin: bad server",
            &master,
            "POST",
            "/v1/mcp/server",
            &format!(
                r#"{{"server_name":"bad name!","url":"http://127.0.0.1:1/mcp","transport":"http","auth_type":"bearer_token","credentials":{{"auth_value":"{ADMIN_SECRET}"}}}}"#
            ),
        ),
        (
            "admin: bad server field",
            &master,
            "POST",
            "/v1/mcp/server",
            &format!(r#"{{"server_name":"ok","url":5,"auth_value":"{ADMIN_SECRET}"}}"#),
        ),
        (
            "admin: unknown env name",
            &master,
            "POST",
            "/v1/mcp/server",
            r#"{"server_name":"envy","url":"http://127.0.0.1:1/mcp","transport":"http","auth_type":"bearer_token","auth_value":"os.environ/MESHGATE_SHARED_SECRET"}"#,
        ),
        ("admin: unknown route", &master, "GET", "/key/nope", ""),
        (
            "admin: update missing key",
            &master,
            "POST",
            "/key/update",
            &format!(r#"{{"key":"{WRONG_KEY}","blocked":true}}"#),
        ),
    ] {
        let r = send(
            &format!("{base}{path}"),
            method,
            &[("authorization", key)],
            body,
        )
        .await;
        seen.add(what, &r);
    }
    // A mesh peer straight at the sidecar: unsigned, badly signed, and a signed sync
    // with an invalid document carrying secrets.
    let side = format!("http://127.0.0.1:{sidecar_port}");
    let r = send(
        &format!("{side}/mcp"),
        "POST",
        &[("authorization", &master)],
        &rpc(1, "ping", json!({})),
    )
    .await;
    seen.add("sidecar: unsigned", &r);
    let r = send(
        &format!("{side}/_meshgate/v1/sync"),
        "POST",
        &[("x-meshgate-decision", "v1 1 _filter * deadbeef")],
        "x: 1",
    )
    .await;
    seen.add("sidecar: bad signature", &r);
    let bad_doc = format!(
        "general_settings: {{master_key: {MASTER_KEY}}}\nmcp_servers:\n  x: {{url: \"http://127.0.0.1:1/mcp\", transport: http, auth_value: {SYNC_SECRET}, bogus: {SYNC_SECRET}}}\n"
    );
    let decision = meshgate_e2e::seal(
        "POST",
        "/_meshgate/v1/sync",
        "_filter",
        "*",
        Some(bad_doc.as_bytes()),
    );
    let r = send(
        &format!("{side}/_meshgate/v1/sync"),
        "POST",
        &[("x-meshgate-decision", &decision)],
        &bad_doc,
    )
    .await;
    assert!(
        r.status >= 400,
        "an invalid document was accepted: {}",
        r.text()
    );
    seen.add("sidecar: invalid config sync", &r);
    // (A variable's name is named in the error; its value would be the secret.)
    let bad_doc2 = format!("general_settings: {{master_key: {MASTER_KEY}}}\nmcp_servers:\n  y: {{url: \"http://127.0.0.1:1/mcp\", transport: http, auth_value: os.environ/MESHGATE_SCAN_UNSET}}\n");
    let r = send(
        &format!("{side}/_meshgate/v1/sync"),
        "POST",
        &[("x-meshgate-decision", &decision)],
        &bad_doc2,
    )
    .await;
    seen.add("sidecar: sync with an unset env name", &r);
    // One more good call, so anything buffered in the logs is flushed behind it.
    let r = send(
        &mcp,
        "POST",
        &[("authorization", &master)],
        &rpc(9, "ping", json!({})),
    )
    .await;
    assert_eq!(r.status, 200);

    let secrets = [
        ("master key", MASTER_KEY),
        ("shared secret", SECRET),
        ("server auth_value", SERVER_AUTH),
        ("client x-mcp-web-authorization", CLIENT_AUTH),
        ("os.environ/ secret", ENV_SECRET),
        ("down server auth_value", DOWN_AUTH),
        ("password in spec URL", URL_PASSWORD),
        ("presented wrong key", WRONG_KEY),
        ("secret in a synced document", SYNC_SECRET),
        ("secret in an admin body", ADMIN_SECRET),
        ("virtual key", vkey.as_str()),
    ];
    let logs = [
        (
            "sidecar log",
            std::fs::read_to_string(&sidecar_log).unwrap_or_default(),
        ),
        (
            "envoy log",
            std::fs::read_to_string(&envoy_log).unwrap_or_default(),
        ),
    ];
    assert!(
        !logs[0].1.is_empty(),
        "the sidecar wrote no log at debug level"
    );
    let mut leaks = Vec::new();
    for (name, secret) in secrets {
        for (what, text) in &seen.0 {
            if text.contains(secret) {
                leaks.push(format!("{name} in the response to `{what}`:\n{text}"));
            }
        }
        for (log, text) in &logs {
            for line in text.lines().filter(|l| l.contains(secret)) {
                leaks.push(format!("{name} in the {log}: {line}"));
            }
        }
    }
    assert!(
        seen.0.len() > 30,
        "too few error paths ran: {}",
        seen.0.len()
    );
    assert!(
        leaks.is_empty(),
        "{} leak(s):\n{}",
        leaks.len(),
        leaks.join("\n\n")
    );
}

fn spawn_sidecar(port: u16, dir: &Path, log: &Path) -> Proc {
    let path = bin("meshgate-sidecar");
    require(&path, "run `cargo build -p meshgate-sidecar`");
    let out = std::fs::File::create(log).expect("sidecar log");
    let err = out.try_clone().expect("sidecar log");
    let mut cmd = Command::new(path);
    cmd.args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir.join("data"))
        .env("MESHGATE_SHARED_SECRET", SECRET)
        .env("MESHGATE_MASTER_KEY", MASTER_KEY)
        .env("SCAN_UPSTREAM_TOKEN", ENV_SECRET)
        .env("MESHGATE_LOG", "debug")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    Proc::spawn("sidecar", cmd)
}

fn spawn_envoy(config: &Path, log: &Path) -> Proc {
    let envoy = envoy_path();
    require(&envoy, "run scripts/install-envoy.sh");
    let file = std::fs::File::create(log).expect("envoy log");
    let mut cmd = Command::new(envoy);
    cmd.arg("-c")
        .arg(config)
        .args(["--concurrency", "1", "-l", "info", "--base-id"])
        .arg(free_port().to_string())
        .env("MESHGATE_SHARED_SECRET", SECRET)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file);
    Proc::spawn("envoy", cmd)
}

async fn wait_ready(mcp: &str, auth: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = request(
            "POST",
            mcp,
            &[("authorization", auth)],
            r#"{"jsonrpc":"2.0","id":0,"method":"ping"}"#,
        )
        .await
        {
            if r.status == 200 {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("gateway not ready after 30 s");
}

async fn wait_key(mcp: &str, auth: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = send(
            mcp,
            "POST",
            &[("authorization", auth)],
            r#"{"jsonrpc":"2.0","id":0,"method":"ping"}"#,
        )
        .await;
        if r.status == 200 {
            return;
        }
        assert!(Instant::now() < deadline, "key never worked: {}", r.text());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
