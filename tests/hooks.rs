//! Custom hooks (wasm modules run by the sidecar) end to end: real Envoy with the
//! filter, the sidecar, and the in-repo demo upstream registered under one server name
//! per scenario, each with its own hook (`servers:` on the hook entry). The upstream's
//! `echo_args` returns exactly the arguments it received and `/__requests` the headers,
//! so what a hook changed is proven from the upstream's side, and a denial by the
//! upstream never seeing the call.
// The e2e crate is test code: a failed unwrap, expect or panic is a failed run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_e2e::hooks::{
    echo_hook, example_hook, failing_hook, fixed_hook, remembering_hook, write_hook, Failing,
};
use meshgate_e2e::http::{request, Resp};
use meshgate_e2e::*;
use serde_json::{json, Value};
use std::path::Path;

/// (server name, hook module WAT, events, extra YAML of the hook entry)
fn scenarios() -> Vec<(&'static str, String, &'static str, &'static str)> {
    let both = "[pre_call, post_call]";
    vec![
        (
            "deny",
            fixed_hook(
                Some(r#"{"allow":false,"message":"tool disabled by the policy hook"}"#),
                None,
            ),
            "[pre_call]",
            "",
        ),
        (
            "rewrite",
            fixed_hook(
                Some(
                    r#"{"arguments":{"rewritten":true,"n":7},"headers":{"x-hook-tenant":"acme","authorization":"Bearer from-hook"}}"#,
                ),
                None,
            ),
            "[pre_call]",
            "",
        ),
        ("echo", echo_hook(), both, ""),
        ("remember", remembering_hook(), "[pre_call]", ""),
        (
            "post",
            fixed_hook(
                Some(""),
                Some(
                    r#"{"result":{"content":[{"type":"text","text":"replaced by the hook"}]},"cost":0.25}"#,
                ),
            ),
            both,
            "",
        ),
        (
            "postdeny",
            fixed_hook(None, Some(r#"{"allow":false,"message":"result withheld"}"#)),
            "[post_call]",
            "",
        ),
        (
            "forbidden",
            fixed_hook(
                Some(r#"{"headers":{"x-meshgate-decision":"v2 forged"}}"#),
                None,
            ),
            "[pre_call]",
            "",
        ),
        ("loop", failing_hook(Failing::Loop), both, ""),
        ("trap", failing_hook(Failing::Trap), both, ""),
        ("alloc", failing_hook(Failing::Alloc), both, ""),
        ("notjson", failing_hook(Failing::NotJson), both, ""),
        ("shape", failing_hook(Failing::WrongShape), both, ""),
        ("oob", failing_hook(Failing::OutOfBounds), both, ""),
        ("badalloc", failing_hook(Failing::BadAlloc), both, ""),
        (
            "open",
            failing_hook(Failing::Trap),
            both,
            ", fail_open: true",
        ),
        (
            "openloop",
            failing_hook(Failing::Loop),
            both,
            ", fail_open: true",
        ),
        ("postfail", failing_hook(Failing::Loop), "[post_call]", ""),
    ]
}

/// Hook entries of the `meshgate:` section for every scenario, modules written to `dir`.
fn hooks_yaml(dir: &Path) -> String {
    let mut yaml = String::from("  hooks:\n");
    for (server, wat, events, extra) in scenarios() {
        let path = write_hook(dir, server, &wat);
        yaml.push_str(&format!(
            "    - {{path: \"{}\", events: {events}, servers: [{server}]{extra}}}\n",
            path.display()
        ));
    }
    yaml
}

struct Setup {
    gw: Gateway,
    _upstream: Proc,
    addr: String,
    _dir: TempDir,
}

async fn start() -> Setup {
    let (upstream, addr) = demo_http("up", &[]).await;
    let dir = TempDir::new("hooks");
    let mut servers = String::new();
    for (server, ..) in scenarios() {
        servers.push_str(&format!(
            "  {server}:\n    url: http://{addr}/mcp\n    transport: http\n"
        ));
    }
    servers.push_str(&format!(
        "  plain:\n    url: http://{addr}/mcp\n    transport: http\n"
    ));
    let gw = Gateway::start_with(GatewayOptions {
        meshgate_yaml: hooks_yaml(&dir.0),
        sidecar_log: true,
        sidecar_env: vec![(
            "MESHGATE_LOG".into(),
            "warn,meshgate_sidecar::hooks=info".into(),
        )],
        ..GatewayOptions::new(servers)
    })
    .await;
    Setup {
        gw,
        _upstream: upstream,
        addr,
        _dir: dir,
    }
}

async fn send(gw: &Gateway, key: &str, path: &str, body: &str) -> Resp {
    let auth = format!("Bearer {key}");
    request(
        "POST",
        &format!("{}{path}", gw.base()),
        &[("x-litellm-api-key", auth.as_str())],
        body,
    )
    .await
    .unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

/// A `tools/call` of `{server}-echo_args` over MCP; returns the JSON-RPC result.
async fn call(gw: &Gateway, key: &str, server: &str, arguments: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
        "params": {"name": format!("{server}-echo_args"), "arguments": arguments}});
    let r = send(gw, key, "/mcp", &body.to_string()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    v.get("result")
        .cloned()
        .unwrap_or_else(|| panic!("no result: {v}"))
}

/// The same call through `/mcp-rest/tools/call`; returns (status, body).
async fn rest_call(gw: &Gateway, server: &str, arguments: Value) -> (u16, Value) {
    let body = json!({"server_id": server, "name": "echo_args", "arguments": arguments});
    let r = send(gw, MASTER_KEY, "/mcp-rest/tools/call", &body.to_string()).await;
    (r.status, r.json())
}

fn text_of(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// What the upstream received (its `echo_args` answer).
fn received(result: &Value) -> Value {
    assert_ne!(result["isError"], true, "{result}");
    serde_json::from_str(&text_of(result)).unwrap_or_else(|e| panic!("{e}: {result}"))
}

/// The upstream's record of the requests it got: (tools/call count, last call's headers).
async fn upstream_record(addr: &str) -> Vec<Value> {
    let r = request("GET", &format!("http://{addr}/__requests"), &[], "")
        .await
        .expect("recorded requests");
    r.json()
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r["rpc_method"] == "tools/call")
        .collect()
}

#[tokio::test]
async fn pre_call_denies_rewrites_and_adds_headers() {
    let s = start().await;
    let before = upstream_record(&s.addr).await.len();

    // Deny: an isError naming the hook's message; the upstream never sees the call.
    let r = call(&s.gw, MASTER_KEY, "deny", json!({"a": 1})).await;
    assert_eq!(r["isError"], true, "{r}");
    assert_eq!(
        text_of(&r),
        "Error: call refused by hook 'deny': tool disabled by the policy hook"
    );
    let (status, v) = rest_call(&s.gw, "deny", json!({"a": 1})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["isError"], true, "{v}");
    assert!(
        text_of(&v).contains("tool disabled by the policy hook"),
        "{v}"
    );
    assert_eq!(upstream_record(&s.addr).await.len(), before);

    // Rewrite: the upstream receives the hook's arguments and headers.
    let r = call(&s.gw, MASTER_KEY, "rewrite", json!({"secret": "x"})).await;
    assert_eq!(received(&r), json!({"rewritten": true, "n": 7}));
    let calls = upstream_record(&s.addr).await;
    let last = calls.last().expect("the call reached the upstream");
    assert_eq!(last["headers"]["x-hook-tenant"], "acme", "{last}");
    assert_eq!(
        last["headers"]["authorization"], "Bearer from-hook",
        "{last}"
    );
    let (status, v) = rest_call(&s.gw, "rewrite", json!({"secret": "x"})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(received(&v), json!({"rewritten": true, "n": 7}));

    // The headers went to that server only: a call to another server does not carry
    // them (the hook runs for `rewrite` alone).
    let r = call(&s.gw, MASTER_KEY, "plain", json!({"k": 1})).await;
    assert_eq!(received(&r), json!({"k": 1}));
    let calls = upstream_record(&s.addr).await;
    let last = calls.last().unwrap();
    assert!(last["headers"].get("x-hook-tenant").is_none(), "{last}");
    assert!(last["headers"].get("authorization").is_none(), "{last}");

    // A hook may not set the gateway's own headers: its answer is garbage and, failing
    // closed, the call is refused without reaching the upstream.
    let before = upstream_record(&s.addr).await.len();
    let r = call(&s.gw, MASTER_KEY, "forbidden", json!({})).await;
    assert_eq!(r["isError"], true, "{r}");
    assert_eq!(
        text_of(&r),
        "Error: call refused: hook 'forbidden' failed (garbage)"
    );
    assert_eq!(upstream_record(&s.addr).await.len(), before);
    let log = s.gw.sidecar_log();
    assert!(
        log.contains("x-meshgate-decision") && log.contains("may not set it"),
        "{log}"
    );
}

/// A hook instance's memory never reaches the next call (another principal's, maybe):
/// the hook marks its memory on every call and denies when it finds a mark.
#[tokio::test]
async fn no_call_sees_an_earlier_calls_hook_memory() {
    let s = start().await;
    let key = send(
        &s.gw,
        MASTER_KEY,
        "/key/generate",
        &json!({"key_alias": "other", "object_permission": {"mcp_servers": ["remember"]}})
            .to_string(),
    )
    .await
    .json()["key"]
        .as_str()
        .expect("key")
        .to_string();
    for (i, who) in [MASTER_KEY, key.as_str()]
        .iter()
        .cycle()
        .take(12)
        .enumerate()
    {
        let r = call(&s.gw, who, "remember", json!({"i": i})).await;
        assert_eq!(received(&r), json!({"i": i}), "call {i}");
    }
    // Concurrent calls take several pool slots; each is reset when released.
    let calls = (0..32).map(|i| call(&s.gw, MASTER_KEY, "remember", json!({"i": i})));
    for (i, r) in futures_util::future::join_all(calls)
        .await
        .iter()
        .enumerate()
    {
        assert_eq!(received(r), json!({"i": i}), "concurrent call {i}");
    }
}

#[tokio::test]
async fn hooks_see_the_call_the_principal_and_post_call_timing() {
    let s = start().await;
    let org = send(
        &s.gw,
        MASTER_KEY,
        "/organization/new",
        &json!({"organization_alias": "acme-org"}).to_string(),
    )
    .await
    .json()["organization_id"]
        .as_str()
        .expect("organization_id")
        .to_string();
    let team = send(
        &s.gw,
        MASTER_KEY,
        "/team/new",
        &json!({"team_alias": "search", "organization_id": org}).to_string(),
    )
    .await
    .json()["team_id"]
        .as_str()
        .expect("team_id")
        .to_string();
    let key = send(
        &s.gw,
        MASTER_KEY,
        "/key/generate",
        &json!({"key_alias": "ci-bot", "team_id": team, "object_permission": {"mcp_servers": ["echo"]}}).to_string(),
    )
    .await
    .json()["key"]
        .as_str()
        .expect("key")
        .to_string();

    // The echo hook: pre_call's input becomes the upstream's arguments, post_call's
    // input becomes the client's result.
    let r = call(&s.gw, &key, "echo", json!({"q": "weather"})).await;
    assert_eq!(r["abi"], 1, "{r}");
    assert_eq!(r["event"], "post_call");
    assert_eq!(r["server"], "echo");
    assert_eq!(r["tool"], "echo_args");
    assert_eq!(r["name"], "echo-echo_args");
    let who = &r["principal"];
    assert_eq!(who["kind"], "key", "{who}");
    assert_eq!(who["key_alias"], "ci-bot", "{who}");
    assert_eq!(who["team_id"], team.as_str(), "{who}");
    assert_eq!(who["organization_id"], org.as_str(), "{who}");
    assert!(r["timing"]["end_ms"].as_u64() >= r["timing"]["start_ms"].as_u64());
    assert!(r["timing"]["duration_us"].is_u64(), "{r}");
    // What the upstream got (pre_call's input as arguments) and answered.
    let upstream_got: Value = serde_json::from_str(
        r["result"]["content"][0]["text"]
            .as_str()
            .expect("the upstream's answer"),
    )
    .unwrap();
    assert_eq!(upstream_got["event"], "pre_call");
    assert_eq!(upstream_got["arguments"], json!({"q": "weather"}));
    assert_eq!(upstream_got["principal"]["key_alias"], "ci-bot");
    assert!(upstream_got.get("result").is_none(), "{upstream_got}");
    // post_call saw the arguments the upstream received.
    assert_eq!(r["arguments"]["event"], "pre_call");
}

#[tokio::test]
async fn post_call_replaces_the_result_and_sets_the_cost() {
    let s = start().await;
    let r = call(&s.gw, MASTER_KEY, "post", json!({"a": 1})).await;
    assert_eq!(
        r,
        json!({"content": [{"type": "text", "text": "replaced by the hook"}]})
    );
    let (status, v) = rest_call(&s.gw, "post", json!({"a": 1})).await;
    assert_eq!(status, 200);
    assert_eq!(text_of(&v), "replaced by the hook");
    let log = s.gw.sidecar_log();
    assert!(
        log.contains("hook set the call's cost") && log.contains("cost_override=0.25"),
        "{log}"
    );

    // A post_call denial withholds the result the upstream produced.
    let r = call(&s.gw, MASTER_KEY, "postdeny", json!({"secret": 1})).await;
    assert_eq!(r["isError"], true, "{r}");
    assert_eq!(
        text_of(&r),
        "Error: call refused by hook 'postdeny': result withheld"
    );
    assert!(!r.to_string().contains("secret"), "{r}");
}

/// Every way a hook can fail: the gateway stays up, the failure is logged naming the
/// hook and the kind, a fail-closed hook refuses the call (before the upstream for
/// pre_call), a fail-open one lets it through unchanged.
#[tokio::test]
async fn failing_hooks_neither_hang_nor_crash_the_gateway() {
    let s = start().await;
    let cases = [
        ("loop", "out_of_fuel", "ran out of fuel"),
        ("trap", "trap", "unreachable"),
        ("alloc", "out_of_memory", "exceeded its memory limit"),
        ("notjson", "garbage", "not ABI v1 JSON"),
        ("shape", "garbage", "not ABI v1 JSON"),
        ("oob", "garbage", "lies outside its memory"),
        ("badalloc", "garbage", "outside its memory"),
    ];
    for (server, kind, logged) in cases {
        let before = upstream_record(&s.addr).await.len();
        let r = call(&s.gw, MASTER_KEY, server, json!({"a": 1})).await;
        assert_eq!(r["isError"], true, "{server}: {r}");
        assert_eq!(
            text_of(&r),
            format!("Error: call refused: hook '{server}' failed ({kind})"),
            "{server}"
        );
        assert_eq!(
            upstream_record(&s.addr).await.len(),
            before,
            "{server}: a failing pre_call hook stops the call before the upstream"
        );
        let (status, v) = rest_call(&s.gw, server, json!({"a": 1})).await;
        assert_eq!(status, 200, "{server}: {v}");
        assert_eq!(v["isError"], true, "{server}: {v}");
        let log = s.gw.sidecar_log();
        let line = log
            .lines()
            .find(|l| l.contains(&format!("hook={server} ")) && l.contains("hook failed"))
            .unwrap_or_else(|| panic!("{server}: no log line in\n{log}"));
        assert!(line.contains(logged), "{server}: {line}");
        assert!(line.contains(&format!("kind={kind}")), "{server}: {line}");
    }
    // Fail open: the trapping hook is logged and skipped; the call goes through as sent.
    let r = call(&s.gw, MASTER_KEY, "open", json!({"kept": true})).await;
    assert_eq!(received(&r), json!({"kept": true}));
    assert!(s
        .gw
        .sidecar_log()
        .lines()
        .any(|l| l.contains("hook=open ") && l.contains("fail_open")));
    let r = call(&s.gw, MASTER_KEY, "openloop", json!({"kept": 2})).await;
    assert_eq!(received(&r), json!({"kept": 2}));
    assert!(s
        .gw
        .sidecar_log()
        .lines()
        .any(|l| l.contains("hook=openloop ") && l.contains("kind=out_of_fuel")));
    // A post_call hook that loops: the upstream ran, its result is withheld.
    let before = upstream_record(&s.addr).await.len();
    let r = call(&s.gw, MASTER_KEY, "postfail", json!({"a": 1})).await;
    assert_eq!(
        text_of(&r),
        "Error: call refused: hook 'postfail' failed (out_of_fuel)"
    );
    assert_eq!(upstream_record(&s.addr).await.len(), before + 1);
    // The gateway is still serving.
    let r = call(&s.gw, MASTER_KEY, "plain", json!({"still": "up"})).await;
    assert_eq!(received(&r), json!({"still": "up"}));
}

/// `--check-config` (what the sidecar runs on every document it loads) refuses a bad
/// hook entry naming the field.
#[tokio::test]
async fn bad_hook_config_is_refused_naming_the_field() {
    let dir = TempDir::new("hooks-config");
    let good = write_hook(&dir.0, "good", &fixed_hook(Some(""), None));
    let not_wasm = dir.0.join("not.wasm");
    std::fs::write(&not_wasm, b"hello, not a module").unwrap();
    let no_post = write_hook(&dir.0, "nopost", &fixed_hook(Some(""), None));
    let no_alloc = write_hook(
        &dir.0,
        "noalloc",
        "(module (memory (export \"memory\") 1) (func (export \"meshgate_hook_abi_version\") (result i32) (i32.const 1)))",
    );
    let abi2 = write_hook(
        &dir.0,
        "abi2",
        "(module (memory (export \"memory\") 1) (func (export \"meshgate_hook_abi_version\") (result i32) (i32.const 2)) (func (export \"alloc\") (param i32) (result i32) (i32.const 0)) (func (export \"pre_call\") (param i32 i32) (result i64) (i64.const 0)))",
    );
    let cases: Vec<(String, &str, &str)> = vec![
        (
            format!(
                "{{path: \"{}\", events: [pre_call]}}",
                dir.0.join("missing.wasm").display()
            ),
            "meshgate.hooks[0].path",
            "cannot read",
        ),
        (
            format!("{{path: \"{}\", events: [pre_call]}}", not_wasm.display()),
            "meshgate.hooks[0].path",
            "not a WebAssembly module",
        ),
        (
            format!(
                "{{path: \"{}\", events: [pre_call, post_call]}}",
                no_post.display()
            ),
            "meshgate.hooks[0].events",
            "post_call",
        ),
        (
            format!("{{path: \"{}\", events: [pre_call]}}", no_alloc.display()),
            "meshgate.hooks[0].path",
            "alloc",
        ),
        (
            format!("{{path: \"{}\", events: [pre_call]}}", abi2.display()),
            "meshgate.hooks[0].path",
            "ABI 2",
        ),
        (
            format!("{{path: \"{}\", events: [before_call]}}", good.display()),
            "meshgate.hooks[0].events[0]",
            "before_call",
        ),
    ];
    for (entry, field, words) in cases {
        let file = dir.0.join("config.yaml");
        std::fs::write(
            &file,
            format!("meshgate:\n  hooks:\n    - {entry}\nmcp_servers: {{}}\n"),
        )
        .unwrap();
        let out = std::process::Command::new(bin("meshgate-sidecar"))
            .arg("--check-config")
            .arg(&file)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{entry}: accepted");
        assert!(err.contains(field) && err.contains(words), "{entry}: {err}");
    }
    // A good entry passes.
    let file = dir.0.join("config.yaml");
    std::fs::write(
        &file,
        format!(
            "meshgate:\n  hooks:\n    - {{path: \"{}\", events: [pre_call]}}\nmcp_servers: {{}}\n",
            good.display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(bin("meshgate-sidecar"))
        .arg("--check-config")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The shipped examples (`make hooks`): the Rust hook redacts secret fields of the
/// result and sets the cost; the AssemblyScript hook refuses `DROP TABLE`.
#[tokio::test]
async fn example_hooks_redact_set_the_cost_and_guard_sql() {
    let (upstream, addr) = demo_http("up", &[]).await;
    let cost = example_hook("cost_redact.wasm");
    let sql = example_hook("sql_guard.wasm");
    let gw = Gateway::start_with(GatewayOptions {
        meshgate_yaml: format!(
            "  hooks:\n    - {{path: \"{}\", events: [post_call], servers: [cost]}}\n    - {{path: \"{}\", events: [pre_call], servers: [sql]}}\n",
            cost.display(),
            sql.display()
        ),
        sidecar_log: true,
        sidecar_env: vec![(
            "MESHGATE_LOG".into(),
            "warn,meshgate_sidecar::hooks=info".into(),
        )],
        ..GatewayOptions::new(format!(
            "  cost:\n    url: http://{addr}/mcp\n    transport: http\n  sql:\n    url: http://{addr}/mcp\n    transport: http\n"
        ))
    })
    .await;

    // Rust: the upstream answered the password; the client gets it redacted.
    let r = call(
        &gw,
        MASTER_KEY,
        "cost",
        json!({"user": "jane", "password": "hunter2"}),
    )
    .await;
    assert_eq!(
        received(&r),
        json!({"user": "jane", "password": "[REDACTED]"})
    );
    assert!(!r.to_string().contains("hunter2"), "{r}");
    let log = gw.sidecar_log();
    assert!(
        log.lines().any(|l| l.contains("hook set the call's cost")
            && l.contains("hook=cost_redact")
            && l.contains("cost_override=0.02")),
        "{log}"
    );
    // The hook's cost is the call's spend row's cost (the server configures none).
    let rows = meshgate_e2e::admin::await_spend_rows(&gw, "", 1).await;
    let row = &rows["data"][0];
    assert_eq!(row["model"], "MCP: cost-echo_args", "{row}");
    assert_eq!(row["spend"].as_f64(), Some(0.02), "{row}");

    // AssemblyScript: a destructive statement never reaches the upstream.
    let before = upstream_record(&addr).await.len();
    let r = call(&gw, MASTER_KEY, "sql", json!({"query": "DROP TABLE users"})).await;
    assert_eq!(r["isError"], true, "{r}");
    assert_eq!(
        text_of(&r),
        "Error: call refused by hook 'sql_guard': sql-guard: destructive SQL (DROP TABLE) is not allowed"
    );
    assert_eq!(upstream_record(&addr).await.len(), before);
    let r = call(&gw, MASTER_KEY, "sql", json!({"query": "SELECT 1"})).await;
    assert_eq!(received(&r), json!({"query": "SELECT 1"}));
    drop(upstream);
}

/// A hook's headers reach a REST API (an OpenAPI server) in the HTTP request the
/// sidecar builds for the call: after the configured credential and `static_headers`,
/// which they win over, to that server only; a header a hook may not set refuses the
/// call before the API is contacted.
#[tokio::test]
async fn hook_headers_reach_a_rest_api_after_its_credential_and_static_headers() {
    let (_api, api) = demo_petstore("petstore_hooks").await;
    let dir = TempDir::new("hooks-rest");
    let spec = shared_openapi().join("swagger-petstore-v3.yaml");
    let adds = write_hook(
        &dir.0,
        "adds",
        &fixed_hook(
            Some(
                r#"{"headers":{"x-hook-tenant":"acme","authorization":"Bearer from-hook","x-static":"from-hook"}}"#,
            ),
            None,
        ),
    );
    let forged = write_hook(
        &dir.0,
        "forged",
        &fixed_hook(
            Some(r#"{"headers":{"x-mcp-petplain-authorization":"x"}}"#),
            None,
        ),
    );
    let rest = |name: &str, extra: &str| {
        format!(
            "  {name}:\n    spec_path: \"{}\"\n    url: http://{api}/api/v3\n{extra}",
            spec.display()
        )
    };
    let credential =
        "    auth_type: bearer_token\n    auth_value: pet-token\n    static_headers:\n      X-Static: always\n      X-Only-Static: kept\n";
    let servers = format!(
        "{}{}{}",
        rest("pethook", credential),
        rest("petplain", credential),
        rest("petforged", "")
    );
    let gw = Gateway::start_with(GatewayOptions {
        meshgate_yaml: format!(
            "  hooks:\n    - {{path: \"{}\", events: [pre_call], servers: [pethook]}}\n    - {{path: \"{}\", events: [pre_call], servers: [petforged]}}\n",
            adds.display(),
            forged.display()
        ),
        ..GatewayOptions::new(servers)
    })
    .await;
    let api_calls = || async {
        let r = request("GET", &format!("http://{api}/__recorded"), &[], "")
            .await
            .expect("recorded requests");
        r.json()
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r["path"].as_str().is_some_and(|p| p.starts_with("/api/")))
            .collect::<Vec<_>>()
    };
    let get_pet = |server: &str| {
        json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
            "params": {"name": format!("{server}-getPetById"), "arguments": {"path": {"petId": 1}}}})
        .to_string()
    };

    // Over MCP: the hook's headers win over the credential and the static header; the
    // static header the hook leaves alone is still sent.
    let r = send(&gw, MASTER_KEY, "/mcp", &get_pet("pethook")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_ne!(r.json()["result"]["isError"], true, "{}", r.text());
    let h = api_calls().await.pop().expect("the API was called")["headers"].clone();
    assert_eq!(h["x-hook-tenant"], "acme", "{h}");
    assert_eq!(h["authorization"], "Bearer from-hook", "{h}");
    assert_eq!(h["x-static"], "from-hook", "{h}");
    assert_eq!(h["x-only-static"], "kept", "{h}");

    // Over LiteLLM's REST route too.
    let body =
        json!({"server_id": "pethook", "name": "getPetById", "arguments": {"path": {"petId": 1}}});
    let r = send(&gw, MASTER_KEY, "/mcp-rest/tools/call", &body.to_string()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let h = api_calls().await.pop().expect("the API was called")["headers"].clone();
    assert_eq!(h["x-hook-tenant"], "acme", "{h}");
    assert_eq!(h["authorization"], "Bearer from-hook", "{h}");

    // Another server on the same API gets its own credential and nothing of the hook's.
    let r = send(&gw, MASTER_KEY, "/mcp", &get_pet("petplain")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let h = api_calls().await.pop().expect("the API was called")["headers"].clone();
    assert_eq!(h["authorization"], "Bearer pet-token", "{h}");
    assert_eq!(h["x-static"], "always", "{h}");
    assert!(h.get("x-hook-tenant").is_none(), "{h}");

    // A header a hook may not set (another server's credential): garbage, refused, and
    // the API never sees the call.
    let before = api_calls().await.len();
    let r = send(&gw, MASTER_KEY, "/mcp", &get_pet("petforged")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let result = &r.json()["result"];
    assert_eq!(result["isError"], true, "{result}");
    assert_eq!(
        text_of(result),
        "Error: call refused: hook 'forged' failed (garbage)"
    );
    assert_eq!(api_calls().await.len(), before);
}
