//! The admin API is not a path to the host, secrets rest sealed, and LiteLLM clients read
//! the errors they expect — end to end through real Envoy with the built filter, the
//! sidecar and real upstreams, with the master key (issue 10 items 3, 9, 10, 12; issue 9
//! item 5).
//!
//! The harness lets servers registered through the API reach loopback (the test
//! upstreams live there) but never this gateway's Envoy ports; one test runs with no
//! range opened at all.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_e2e::http::{request, Resp};
use meshgate_e2e::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn send(gw: &Gateway, key: &str, method: &str, path: &str, body: &str) -> Resp {
    send_with(gw, key, method, path, &[], body).await
}

async fn send_with(
    gw: &Gateway,
    key: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Resp {
    let auth = format!("Bearer {key}");
    let mut all = vec![("x-litellm-api-key", auth.as_str())];
    all.extend_from_slice(headers);
    request(method, &format!("{}{path}", gw.base()), &all, body)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

async fn master(gw: &Gateway, method: &str, path: &str, body: Value) -> Value {
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let r = send(gw, MASTER_KEY, method, path, &text).await;
    assert_eq!(r.status, 200, "{method} {path}: {}", r.text());
    r.json()
}

async fn register(gw: &Gateway, body: Value) -> Resp {
    send(gw, MASTER_KEY, "POST", "/v1/mcp/server", &body.to_string()).await
}

/// A registration refused with 400 naming `field`; returns the message.
async fn refused(gw: &Gateway, body: Value, field: &str) -> String {
    let r = register(gw, body.clone()).await;
    assert_eq!(r.status, 400, "{body}: {}", r.text());
    let v = r.json();
    assert_eq!(v["field"], field, "{body}: {v}");
    assert_eq!(v["detail"]["error"], v["error"], "{v}");
    v["message"].as_str().unwrap_or_default().to_string()
}

async fn rpc(gw: &Gateway, key: &str, body: Value) -> Value {
    let r = send(gw, key, "POST", "/mcp", &body.to_string()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

async fn tool_names(gw: &Gateway, key: &str) -> Vec<String> {
    let v = rpc(
        gw,
        key,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    v["result"]["tools"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect()
}

async fn call_tool(gw: &Gateway, key: &str, name: &str, args: Value) -> Value {
    let v = rpc(
        gw,
        key,
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": name, "arguments": args}}),
    )
    .await;
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

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    loop {
        match check().await {
            Ok(()) => return,
            Err(last) if started.elapsed() > Duration::from_secs(10) => {
                panic!("{what}: not true after 10 s; last: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

async fn upstream_requests(addr: &str) -> Vec<Value> {
    let r = request("GET", &format!("http://{addr}/__requests"), &[], "")
        .await
        .expect("recorded requests");
    r.json().as_array().cloned().unwrap_or_default()
}

/// A real HTTP server on loopback that answers every request with a redirect to
/// `location`, counting the requests it got; stops with the test.
async fn redirector(location: String) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&hits);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let location = location.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let resp = format!(
                    "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    (addr, hits)
}

/// stdio commands, `os.environ/` names, spec files and outbound addresses of servers
/// registered through the API are the operator's to open; refusals name the field and
/// say the same whether a variable or file exists; what the operator opened works.
#[tokio::test]
async fn database_servers_get_only_what_the_operator_opened() {
    let (_a, alpha) = demo_http("alpha", &[]).await;
    let (_p, petstore) = demo_petstore("petstore").await;
    let specs = TempDir::new("specs");
    std::fs::write(
        specs.0.join("petstore.yaml"),
        "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /pet/{petId}:\n    get:\n      operationId: getPetById\n      parameters: [{name: petId, in: path, required: true, schema: {type: integer}}]\n      responses: {'200': {description: ok}}\n",
    )
    .unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("/etc/passwd", specs.0.join("passwd.yaml")).unwrap();
    let gw = Gateway::start_with(GatewayOptions {
        sidecar_env: vec![
            ("MESHGATE_ALLOWED_ENV_NAMES".into(), "MG_E2E_TOKEN".into()),
            ("MG_E2E_TOKEN".into(), "token-from-the-env".into()),
            ("MESHGATE_SPEC_DIR".into(), specs.0.display().to_string()),
        ],
        ..GatewayOptions::new("  {}\n")
    })
    .await;
    let url = format!("http://{alpha}/mcp");
    let marker = gw.dir.0.join("pwned");

    // stdio: only the operator's commands.
    for command in ["/bin/sh", "sh", "touch"] {
        let msg = refused(
            &gw,
            json!({"server_name": "shell", "command": command,
                   "args": ["-c", format!("touch {}", marker.display())]}),
            "command",
        )
        .await;
        assert!(msg.contains("--allow-stdio-command"), "{msg}");
    }
    assert!(!marker.exists(), "a refused command ran");
    // An allowed command cannot be turned into another one through its environment.
    refused(
        &gw,
        json!({"server_name": "inject", "command": bin("meshgate-demo-stdio").display().to_string(),
               "env": {"LD_PRELOAD": "/tmp/evil.so"}}),
        "env.LD_PRELOAD",
    )
    .await;

    // os.environ/: only listed names, never MESHGATE_*, no existence oracle.
    let env_refusal = |name: &str| {
        json!({"server_name": "envy", "url": url, "transport": "http",
               "auth_type": "bearer_token", "auth_value": format!("os.environ/{name}")})
    };
    let secret = refused(&gw, env_refusal("MESHGATE_SHARED_SECRET"), "auth_value").await;
    assert!(!secret.contains(SECRET), "{secret}");
    let set = refused(&gw, env_refusal("HOME"), "auth_value").await;
    let unset = refused(&gw, env_refusal("NO_SUCH_VARIABLE_E2E"), "auth_value").await;
    assert_eq!(
        set.replace("HOME", "X"),
        unset.replace("NO_SUCH_VARIABLE_E2E", "X"),
        "the answer tells whether a variable exists"
    );
    assert!(!set.contains("not set"), "{set}");
    refused(
        &gw,
        json!({"server_name": "envy", "command": bin("meshgate-demo-stdio").display().to_string(),
               "env": {"LEAK": "os.environ/MESHGATE_MASTER_KEY"}}),
        "env.LEAK",
    )
    .await;
    let r = register(
        &gw,
        json!({"server_name": "envok", "url": url, "transport": "http",
               "auth_type": "bearer_token", "auth_value": "os.environ/MG_E2E_TOKEN"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    eventually("the allowed server is served", || async {
        let names = tool_names(&gw, MASTER_KEY).await;
        names
            .iter()
            .any(|n| n == "envok-echo")
            .then_some(())
            .ok_or(format!("{names:?}"))
    })
    .await;
    let res = call_tool(&gw, MASTER_KEY, "envok-echo", json!({"text": "hi"})).await;
    assert_eq!(text_of(&res), "hi", "{res}");
    let seen = upstream_requests(&alpha).await;
    let call = seen
        .iter()
        .rev()
        .find(|r| r["rpc_method"] == "tools/call")
        .expect("the call reached alpha");
    assert_eq!(
        call["headers"]["authorization"],
        "Bearer token-from-the-env"
    );

    // spec_path: files under the spec directory only, the same answer for every other.
    let db_file = gw.dir.0.join("data").join("meshgate.db");
    let mut answers = Vec::new();
    for path in [
        "/etc/shadow".to_string(),
        "/proc/self/environ".to_string(),
        db_file.display().to_string(),
        specs.0.join("passwd.yaml").display().to_string(),
        specs.0.join("../../../../etc/passwd").display().to_string(),
        specs.0.join("missing.yaml").display().to_string(),
    ] {
        let msg = refused(
            &gw,
            json!({"server_name": "files", "spec_path": path, "url": format!("http://{petstore}/api/v3")}),
            "spec_path",
        )
        .await;
        assert!(!msg.contains("root") && !msg.contains("denied"), "{msg}");
        answers.push(msg);
    }
    answers.dedup();
    assert_eq!(answers.len(), 1, "answers differ by file: {answers:?}");
    let r = register(
        &gw,
        json!({"server_name": "specd", "spec_path": "petstore.yaml", "url": format!("http://{petstore}/api/v3")}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    eventually("the spec under the spec directory is served", || async {
        let names = tool_names(&gw, MASTER_KEY).await;
        names
            .iter()
            .any(|n| n.starts_with("specd-"))
            .then_some(())
            .ok_or(format!("{names:?}"))
    })
    .await;

    // Outbound: Envoy's ports, the sidecar's, metadata, unspecified and other loopback
    // forms are refused, by address or by name.
    let (port, admin, sidecar) = (gw.port, gw.admin_port, gw.sidecar_port);
    for target in [
        format!("http://127.0.0.1:{admin}/logging?level=trace"),
        format!("http://localhost:{admin}/logging?level=trace"),
        format!("http://127.0.0.1:{port}/mcp"),
        format!("http://127.0.0.1:{sidecar}/mcp"),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://[fd00:ec2::254]/latest/meta-data/".to_string(),
        format!("http://0.0.0.0:{}/mcp", alpha.rsplit(':').next().unwrap()),
        format!("http://[::1]:{admin}/mcp"),
        "http://10.0.0.1/mcp".to_string(),
    ] {
        let msg = refused(
            &gw,
            json!({"server_name": "ssrf", "url": target, "transport": "http"}),
            "url",
        )
        .await;
        assert!(msg.contains("refused"), "{target}: {msg}");
    }
    refused(
        &gw,
        json!({"server_name": "ssrf", "spec_path": format!("http://127.0.0.1:{admin}/config_dump"),
               "url": format!("http://{petstore}/api/v3")}),
        "spec_path",
    )
    .await;

    // A redirect to Envoy's admin port is checked again when the spec is fetched.
    let (redir, hits) = redirector(format!("http://127.0.0.1:{admin}/logging?level=trace")).await;
    let r = register(
        &gw,
        json!({"server_name": "redir", "spec_path": format!("http://{redir}/spec.yaml"),
               "url": format!("http://{petstore}/api/v3")}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    eventually("the redirected spec fetch is refused", || async {
        let res = call_tool(&gw, MASTER_KEY, "redir-getPetById", json!({})).await;
        let t = text_of(&res);
        (res["isError"] == true && t.contains("refused"))
            .then_some(())
            .ok_or(t)
    })
    .await;
    assert!(hits.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    let levels = request("GET", &format!("http://127.0.0.1:{admin}/logging"), &[], "")
        .await
        .unwrap()
        .text();
    assert!(
        !levels.contains("trace"),
        "Envoy's log level was changed: {levels}"
    );
}

/// With no range opened by the operator, loopback is refused too.
#[tokio::test]
async fn loopback_is_refused_unless_the_operator_opens_it() {
    let (_a, alpha) = demo_http("alpha", &[]).await;
    let gw = Gateway::start_with(GatewayOptions {
        sidecar_env: vec![("MESHGATE_ALLOWED_OUTBOUND_RANGES".into(), String::new())],
        ..GatewayOptions::new("  {}\n")
    })
    .await;
    let msg = refused(
        &gw,
        json!({"server_name": "local", "url": format!("http://{alpha}/mcp"), "transport": "http"}),
        "url",
    )
    .await;
    assert!(msg.contains("loopback"), "{msg}");
    let msg = refused(
        &gw,
        json!({"server_name": "local", "url": format!("http://localhost:{}/mcp", alpha.rsplit(':').next().unwrap()), "transport": "http"}),
        "url",
    )
    .await;
    assert!(msg.contains("refused"), "{msg}");
}

async fn count(gw: &Gateway) -> u64 {
    master(gw, "GET", "/key/list", Value::Null).await["total_count"]
        .as_u64()
        .unwrap_or(0)
}

/// Admin routes refuse pages of foreign origins and bodies not declared JSON (the
/// requests a browser sends cross-site without a preflight), before anything happens.
#[tokio::test]
async fn admin_routes_refuse_foreign_origins_and_non_json_bodies() {
    let gw = Gateway::start("  {}\n").await;
    let before = count(&gw).await;
    for (headers, status, code) in [
        (
            vec![("origin", "https://evil.example.com")],
            403,
            "forbidden_origin",
        ),
        (vec![("origin", "null")], 403, "forbidden_origin"),
        (
            vec![("content-type", "text/plain")],
            415,
            "unsupported_media_type",
        ),
        (
            vec![("content-type", "application/x-www-form-urlencoded")],
            415,
            "unsupported_media_type",
        ),
        (
            vec![("content-type", "multipart/form-data; boundary=x")],
            415,
            "unsupported_media_type",
        ),
    ] {
        let r = send_with(
            &gw,
            MASTER_KEY,
            "POST",
            "/key/generate",
            &headers,
            r#"{"key_alias": "csrf"}"#,
        )
        .await;
        assert_eq!(r.status, status, "{headers:?}: {}", r.text());
        assert_eq!(r.json()["error"], code, "{headers:?}");
        assert_eq!(r.json()["detail"]["error"], code, "{headers:?}");
    }
    let r = send_with(
        &gw,
        MASTER_KEY,
        "GET",
        "/key/list",
        &[("origin", "https://evil.example.com")],
        "",
    )
    .await;
    assert_eq!(r.status, 403, "reads too: {}", r.text());
    assert_eq!(count(&gw).await, before, "a refused request made a key");
    for headers in [
        vec![("origin", "http://localhost:3000")],
        vec![("content-type", "application/json; charset=utf-8")],
    ] {
        let r = send_with(
            &gw,
            MASTER_KEY,
            "POST",
            "/key/generate",
            &headers,
            &json!({"key_alias": headers[0].1}).to_string(),
        )
        .await;
        assert_eq!(r.status, 200, "{headers:?}: {}", r.text());
    }
}

/// LiteLLM's error shapes: `detail` beside `error`/`message`; `/mcp-rest/tools/list`
/// keeps its envelope on refusals (403 for an unknown or forbidden server, as LiteLLM);
/// `/mcp-rest/tools/call` 400/404/403, and an upstream that fails mid-way is a 200
/// `isError` result; `/mcp/enabled` answers.
#[tokio::test]
async fn litellm_error_shapes_and_rest_envelopes() {
    let (_a, alpha) = demo_http("alpha", &[]).await;
    let (beta_proc, beta) = demo_http("beta", &[]).await;
    let servers = format!(
        "  alpha:\n    url: http://{alpha}/mcp\n    transport: http\n  beta:\n    url: http://{beta}/mcp\n    transport: http\n"
    );
    let gw = Gateway::start(servers).await;
    let key = master(
        &gw,
        "POST",
        "/key/generate",
        json!({"object_permission": {"mcp_servers": ["alpha"]}}),
    )
    .await["key"]
        .as_str()
        .unwrap()
        .to_string();
    eventually("the key works", || async {
        let r = send(&gw, &key, "GET", "/mcp/enabled", "").await;
        (r.status == 200).then_some(()).ok_or(r.text())
    })
    .await;
    let r = send(&gw, &key, "GET", "/mcp/enabled", "").await;
    assert_eq!(r.json(), json!({"enabled": true}));
    let r = send(&gw, MASTER_KEY, "GET", "/mcp/enabled", "").await;
    assert_eq!(r.json(), json!({"enabled": true}));

    let r = send(&gw, MASTER_KEY, "GET", "/key/info?key=sk-nope", "").await;
    assert_eq!(r.status, 404, "{}", r.text());
    let v = r.json();
    assert_eq!(v["detail"]["error"], v["error"]);
    assert_eq!(v["detail"]["message"], v["message"]);

    for (who, query) in [
        (MASTER_KEY, "server_id=nosuch"),
        (key.as_str(), "server_id=nosuch"),
        (key.as_str(), "server_id=beta"),
    ] {
        let r = send(
            &gw,
            who,
            "GET",
            &format!("/mcp-rest/tools/list?{query}"),
            "",
        )
        .await;
        assert_eq!(r.status, 403, "{query}: {}", r.text());
        let v = r.json();
        assert_eq!(v["tools"], json!([]), "{v}");
        assert_eq!(v["error"], "access_denied", "{v}");
        assert_eq!(v["detail"]["error"], "access_denied", "{v}");
        assert!(
            v["message"].as_str().unwrap().contains("not allowed"),
            "{v}"
        );
    }

    let call = |who: &str, body: Value| {
        let (gw, who) = (&gw, who.to_string());
        async move { send(gw, &who, "POST", "/mcp-rest/tools/call", &body.to_string()).await }
    };
    for (body, status, code) in [
        (json!({"name": "echo"}), 400, "missing_parameter"),
        (json!({"server_id": "alpha"}), 400, "missing_parameter"),
        (
            json!({"server_id": "nosuch", "name": "echo"}),
            404,
            "server_not_found",
        ),
        (
            json!({"server_id": "beta", "name": "echo"}),
            403,
            "access_denied",
        ),
    ] {
        let r = call(&key, body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.text());
        let v = r.json();
        assert_eq!(v["error"], code, "{v}");
        assert_eq!(v["detail"]["error"], code, "{v}");
    }
    let r = call(
        MASTER_KEY,
        json!({"server_id": "beta", "name": "echo", "arguments": {"text": "up"}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // beta goes away after its tools are known: a transport failure, 200 isError.
    drop(beta_proc);
    eventually("beta is down", || async {
        match tokio::net::TcpStream::connect(&beta).await {
            Err(_) => Ok(()),
            Ok(_) => Err("still accepting".to_string()),
        }
    })
    .await;
    let r = call(
        MASTER_KEY,
        json!({"server_id": "beta", "name": "echo", "arguments": {"text": "down"}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["isError"], true, "{v}");
    assert!(text_of(&v).starts_with("Error: server 'beta'"), "{v}");
    assert!(
        !text_of(&v).contains(&beta),
        "the upstream's address leaked: {v}"
    );
}

/// Error texts a virtual key sees never carry a spec URL's host or path, on every path
/// that reports an upstream failure: MCP `tools/call`, `/mcp-rest/tools/list` (one server
/// and all), `/mcp-rest/tools/call`; nor an HTTP upstream's address.
#[tokio::test]
async fn error_texts_for_virtual_keys_carry_no_spec_url() {
    let (_p, petstore) = demo_petstore("petstore").await;
    let dead = free_port();
    let servers = format!(
        "  gone:\n    spec_path: \"http://{petstore}/spec/hidden-dir/nope.yaml?token=secret-in-url\"\n    url: http://{petstore}/api/v3\n    allow_all_keys: true\n  down:\n    url: http://127.0.0.1:{dead}/private-path/mcp\n    transport: http\n    allow_all_keys: true\n"
    );
    let gw = Gateway::start(servers).await;
    let key = master(&gw, "POST", "/key/generate", json!({})).await["key"]
        .as_str()
        .unwrap()
        .to_string();
    eventually("the key works", || async {
        let r = send(&gw, &key, "GET", "/mcp/enabled", "").await;
        (r.status == 200).then_some(()).ok_or(r.text())
    })
    .await;
    let leaks = |text: &str| {
        for s in [
            "hidden-dir",
            "nope.yaml",
            "secret-in-url",
            "private-path",
            "127.0.0.1",
            petstore.as_str(),
        ] {
            assert!(!text.contains(s), "`{s}` leaked: {text}");
        }
    };
    let mut seen = String::new();
    eventually("the spec failure is reported", || async {
        let res = call_tool(&gw, &key, "gone-getPetById", json!({})).await;
        let t = text_of(&res);
        if res["isError"] == true && t.contains("HTTP 4") {
            Ok(())
        } else {
            Err(t)
        }
    })
    .await;
    seen.push_str(&text_of(
        &call_tool(&gw, &key, "gone-getPetById", json!({})).await,
    ));
    seen.push_str(&text_of(
        &call_tool(&gw, &key, "down-echo", json!({})).await,
    ));
    for query in ["", "?server_id=gone", "?server_id=down"] {
        let r = send(
            &gw,
            &key,
            "GET",
            &format!("/mcp-rest/tools/list{query}"),
            "",
        )
        .await;
        assert_eq!(r.status, 200, "{query}: {}", r.text());
        assert!(r.json()["error"].is_string(), "{query}: {}", r.text());
        seen.push_str(&r.text());
    }
    for server in ["gone", "down"] {
        let r = send(
            &gw,
            &key,
            "POST",
            "/mcp-rest/tools/call",
            &json!({"server_id": server, "name": "x"}).to_string(),
        )
        .await;
        seen.push_str(&r.text());
    }
    assert!(seen.contains("gone") && seen.contains("down"), "{seen}");
    leaks(&seen);
}

/// Credentials of servers registered through the API are sealed in the database (the
/// raw bytes hold none of them) yet reach their upstream; SQLite files are 0600.
#[tokio::test]
async fn credentials_rest_sealed_on_both_databases() {
    for db in DATABASES {
        let (_a, alpha) = demo_http("alpha", &[]).await;
        let gw = Gateway::start_with(GatewayOptions {
            database: db.clone(),
            ..GatewayOptions::new("  {}\n")
        })
        .await;
        let secrets = [
            "rest-auth-value-1",
            "rest-static-value-2",
            "rest-env-value-3",
            "rest-client-secret-4",
        ];
        master(
            &gw,
            "POST",
            "/v1/mcp/server",
            json!({"server_name": "vault", "url": format!("http://{alpha}/mcp"), "transport": "http",
                   "auth_type": "bearer_token", "credentials": {"auth_value": secrets[0], "client_secret": secrets[3]},
                   "static_headers": {"X-Static": secrets[1]}, "env": {"E": secrets[2]}}),
        )
        .await;
        let bytes = gw.database_bytes();
        for s in secrets {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "{db:?}: {s} stored in the clear"
            );
        }
        eventually("the sealed server is served", || async {
            let names = tool_names(&gw, MASTER_KEY).await;
            names
                .iter()
                .any(|n| n == "vault-echo")
                .then_some(())
                .ok_or(format!("{names:?}"))
        })
        .await;
        call_tool(&gw, MASTER_KEY, "vault-echo", json!({"text": "x"})).await;
        let seen = upstream_requests(&alpha).await;
        let call = seen
            .iter()
            .rev()
            .find(|r| r["rpc_method"] == "tools/call")
            .expect("the call reached alpha");
        assert_eq!(
            call["headers"]["authorization"],
            format!("Bearer {}", secrets[0])
        );
        assert_eq!(call["headers"]["x-static"], secrets[1]);
        #[cfg(unix)]
        if db == Database::Sqlite {
            use std::os::unix::fs::PermissionsExt;
            let dir = gw.dir.0.join("data");
            let mode =
                |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir), 0o700);
            let mut files = 0;
            for entry in std::fs::read_dir(&dir).unwrap().flatten() {
                assert_eq!(mode(&entry.path()), 0o600, "{}", entry.path().display());
                files += 1;
            }
            assert!(files >= 2, "the database and its WAL");
        }
    }
}
