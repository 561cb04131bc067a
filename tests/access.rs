//! Access control end to end, on SQLite and on PostgreSQL: keys, teams and organizations
//! made through the admin API, enforced by real Envoy + the filter + the sidecar in front
//! of real upstreams (in-repo streamable-HTTP servers that record what reaches them, and
//! the in-repo stdio server).
//!
//! Every scenario runs once per database (`sqlite::…` and `postgres::…`). An admin write
//! answers only once the filter enforces it: tests check the new behaviour right after
//! the call returns, without polling.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_e2e::http::{request, Resp};
use meshgate_e2e::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                super::$name(meshgate_e2e::Database::Sqlite).await
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                super::$name(meshgate_e2e::Database::Postgres).await
            })*
        }
    };
}

on_both_databases!(
    key_lifecycle_block_unblock_delete_expiry_and_rate_limit,
    server_grants_follow_keys_teams_orgs_and_allow_all_keys,
    narrowing_by_path_and_header_never_grants,
    tool_permissions_hide_and_refuse_without_contacting_the_upstream,
    admin_api_refuses_bad_requests_and_non_master_keys,
    mcp_servers_created_through_the_api_are_served_and_redacted,
    mcp_rest_lists_and_calls_within_the_key_scope,
);

// ---------------------------------------------------------------- helpers

async fn start(db: Database, servers: String) -> Gateway {
    Gateway::start_with(GatewayOptions {
        database: db,
        ..GatewayOptions::new(servers)
    })
    .await
}

fn http_server_yaml(name: &str, addr: &str, extra: &str) -> String {
    format!("  {name}:\n    url: http://{addr}/mcp\n    transport: http\n{extra}")
}

/// One admin (or any) request through Envoy with a gateway key.
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

/// A master-key admin call that must succeed; returns its JSON.
async fn master(gw: &Gateway, method: &str, path: &str, body: Value) -> Value {
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    let resp = send(gw, MASTER_KEY, method, path, &text).await;
    assert_eq!(resp.status, 200, "{method} {path}: {}", resp.text());
    resp.json()
}

/// `/key/generate` with the master key; returns (plaintext key, token).
async fn new_key(gw: &Gateway, body: Value) -> (String, String) {
    let v = master(gw, "POST", "/key/generate", body).await;
    let key = v["key"].as_str().expect("key").to_string();
    let token = v["token"].as_str().expect("token").to_string();
    (key, token)
}

async fn new_team(gw: &Gateway, body: Value) -> String {
    master(gw, "POST", "/team/new", body).await["team_id"]
        .as_str()
        .expect("team_id")
        .to_string()
}

async fn rpc_at(
    gw: &Gateway,
    key: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> Resp {
    send_with(gw, key, "POST", path, headers, &body.to_string()).await
}

async fn ping_status(gw: &Gateway, key: &str) -> Resp {
    rpc_at(
        gw,
        key,
        "/mcp",
        &[],
        json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
    )
    .await
}

/// Checks once that `check` holds: an admin write returns only after every filter
/// enforces it, so there is nothing to wait for.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    if let Err(last) = check().await {
        panic!("{what}: not true right after the admin call returned; got: {last}")
    }
}

/// Waits until the filter answers a key with `status` (and `error` code when given).
async fn await_key(gw: &Gateway, key: &str, status: u16, error: Option<&str>) {
    eventually(&format!("key answered with {status} {error:?}"), || async {
        let r = ping_status(gw, key).await;
        let code = (r.status != 200).then(|| r.json()["error"].as_str().unwrap_or("").to_string());
        if r.status == status && (error.is_none() || code.as_deref() == error) {
            Ok(())
        } else {
            Err(format!("{} {}", r.status, r.text()))
        }
    })
    .await
}

async fn tools_at(gw: &Gateway, key: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
    rpc_at(
        gw,
        key,
        path,
        headers,
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    )
    .await
}

/// Tool names a key sees at `/mcp`.
async fn tool_names(gw: &Gateway, key: &str) -> BTreeSet<String> {
    names_of(&tools_at(gw, key, "/mcp", &[]).await)
}

fn names_of(resp: &Resp) -> BTreeSet<String> {
    assert_eq!(resp.status, 200, "{}", resp.text());
    let v = resp.json();
    v["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools: {v}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The server prefixes among tool names (`alpha-echo` → `alpha`).
fn prefixes(names: &BTreeSet<String>) -> BTreeSet<String> {
    names
        .iter()
        .filter_map(|n| n.split_once('-').map(|(p, _)| p.to_string()))
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

async fn call_tool(gw: &Gateway, key: &str, name: &str, args: Value) -> Value {
    let r = rpc_at(
        gw,
        key,
        "/mcp",
        &[],
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": name, "arguments": args}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
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

fn is_error(result: &Value) -> bool {
    result["isError"].as_bool() == Some(true)
}

/// The JSON-RPC requests a demo HTTP server received: (rpc method, tool name, headers).
async fn upstream_requests(addr: &str) -> Vec<Value> {
    let r = request("GET", &format!("http://{addr}/__requests"), &[], "")
        .await
        .expect("recorded requests");
    r.json().as_array().cloned().unwrap_or_default()
}

async fn upstream_called(addr: &str, tool: &str) -> bool {
    upstream_requests(addr)
        .await
        .iter()
        .any(|r| r["rpc_method"] == "tools/call" && r["tool"] == tool)
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

// ---------------------------------------------------------------- scenarios

/// A key from `/key/generate` works through Envoy, is stored only as its hash, is never
/// shown again, and blocking, unblocking, deleting and expiry are enforced by the filter
/// as soon as the admin call returns; `rpm_limit` is enforced with 429 + Retry-After.
async fn key_lifecycle_block_unblock_delete_expiry_and_rate_limit(db: Database) {
    let gw = start(db, demo_stdio_yaml("local", "")).await;

    // Generated before the others so that once they work, this one is loaded too.
    let (limited, _) = new_key(&gw, json!({"rpm_limit": 3, "key_alias": "limited"})).await;
    let (expired, _) = new_key(&gw, json!({"expires": "2001-01-01T00:00:00Z"})).await;
    let generated = master(
        &gw,
        "POST",
        "/key/generate",
        json!({"key_alias": "ci", "duration": "1h", "metadata": {"owner": "ci"},
               "object_permission": {"mcp_servers": ["local"]}}),
    )
    .await;
    let key = generated["key"]
        .as_str()
        .expect("plaintext key")
        .to_string();
    let token = generated["token"].as_str().expect("token").to_string();
    assert!(key.starts_with("sk-") && key.len() > 20, "{key}");
    assert_eq!(token, sha256_hex(&key), "the id is the key's SHA-256");
    assert_eq!(generated["key_alias"], "ci");
    assert!(generated["expires"].is_string());

    // Usable through Envoy as soon as /key/generate returns, and sees its server.
    await_key(&gw, &key, 200, None).await;
    assert_eq!(prefixes(&tool_names(&gw, &key).await), set(&["local"]));
    let r = call_tool(&gw, &key, "local-echo", json!({"text": "hello"})).await;
    assert_eq!(text_of(&r), "hello");

    // The database holds the hash, never the plaintext.
    let stored = gw.database_bytes();
    assert!(contains(&stored, &token), "the token is stored");
    assert!(
        !contains(&stored, &key),
        "the plaintext key is in the database"
    );
    assert!(
        !contains(&stored, &key[3..]),
        "part of the plaintext key is in the database"
    );

    // Shown again nowhere: info (master and self), list.
    let info = send(
        &gw,
        MASTER_KEY,
        "GET",
        &format!("/key/info?key={token}"),
        "",
    )
    .await;
    assert_eq!(info.status, 200, "{}", info.text());
    assert!(!info.text().contains(&key));
    assert_eq!(info.json()["info"]["token"], token.as_str());
    let by_plaintext = send(&gw, MASTER_KEY, "GET", &format!("/key/info?key={key}"), "").await;
    assert_eq!(by_plaintext.status, 200);
    assert!(
        !by_plaintext.text().contains(&key),
        "{}",
        by_plaintext.text()
    );
    let own = send(&gw, &key, "GET", "/key/info", "").await;
    assert_eq!(own.status, 200, "{}", own.text());
    assert_eq!(own.json()["info"]["token"], token.as_str());
    assert!(!own.text().contains(&key));
    let list = send(
        &gw,
        MASTER_KEY,
        "GET",
        "/key/list?return_full_object=true",
        "",
    )
    .await;
    assert_eq!(list.status, 200);
    assert!(!list.text().contains(&key));
    assert_eq!(list.json()["total_count"], 3);

    // Rate limit: three requests pass, the fourth gets 429 with Retry-After.
    for i in 0..3 {
        let r = ping_status(&gw, &limited).await;
        assert_eq!(r.status, 200, "request {} of 3: {}", i + 1, r.text());
    }
    let r = ping_status(&gw, &limited).await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.json()["error"], "rate_limited");
    let wait: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&wait), "{wait}");

    // An expiry in the past, and a one-second duration.
    await_key(&gw, &expired, 401, Some("key_expired")).await;
    let (short, _) = new_key(&gw, json!({"duration": "1s"})).await;
    // Expiry is a clock event, not a write to propagate: poll for it (bounded).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let r = ping_status(&gw, &short).await;
        if r.status == 401 && r.json()["error"] == "key_expired" {
            break;
        }
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(
            std::time::Instant::now() < deadline,
            "a 1 s key still works after 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // Block → 401 key_blocked; unblock → works again; delete → 401.
    let blocked = master(&gw, "POST", "/key/block", json!({"key": token})).await;
    assert_eq!(blocked["blocked"], true);
    assert!(!blocked.to_string().contains(&key));
    await_key(&gw, &key, 401, Some("key_blocked")).await;
    master(&gw, "POST", "/key/unblock", json!({"key": key})).await;
    await_key(&gw, &key, 200, None).await;
    let deleted = master(&gw, "POST", "/key/delete", json!({"keys": [key]})).await;
    assert_eq!(deleted["deleted_keys"], json!([token]));
    assert!(!deleted.to_string().contains(&key));
    await_key(&gw, &key, 401, Some("invalid_key")).await;
    let gone = send(
        &gw,
        MASTER_KEY,
        "GET",
        &format!("/key/info?key={token}"),
        "",
    )
    .await;
    assert_eq!(gone.status, 404);
}

/// LiteLLM's server rule: key grants by name, alias and access group; team ∩ key; a
/// key without grants inherits its team's; an organization narrows (or decides when
/// nothing below is set); no grants → no servers (list empty, calls refused with
/// isError); `allow_all_keys` servers are added for every key; master sees everything.
async fn server_grants_follow_keys_teams_orgs_and_allow_all_keys(db: Database) {
    let (_a, alpha) = demo_http("alpha", &[]).await;
    let (_b, beta) = demo_http("beta", &[]).await;
    let servers = http_server_yaml("alpha", &alpha, "    access_groups: [dev]\n")
        + &http_server_yaml(
            "beta",
            &beta,
            "    alias: bee\n    access_groups: [dev, ops]\n",
        )
        + &demo_stdio_yaml("gamma", "    access_groups: [ops]\n");
    let gw = start(db, servers).await;

    let org = master(
        &gw,
        "POST",
        "/organization/new",
        json!({"organization_alias": "narrow", "object_permission": {"mcp_servers": ["alpha"]}}),
    )
    .await["organization_id"]
        .as_str()
        .expect("organization_id")
        .to_string();
    let dev = new_team(
        &gw,
        json!({"team_alias": "dev", "object_permission": {"mcp_access_groups": ["dev"]}}),
    )
    .await;
    let org_team = new_team(
        &gw,
        json!({"team_alias": "org_dev", "organization_id": org, "object_permission": {"mcp_access_groups": ["dev"]}}),
    )
    .await;
    let perm = |p: Value| json!({"object_permission": p});
    let cases: Vec<(&str, Value, &[&str])> = vec![
        (
            "by name",
            perm(json!({"mcp_servers": ["alpha"]})),
            &["alpha"],
        ),
        ("by alias", perm(json!({"mcp_servers": ["BEE"]})), &["bee"]),
        (
            "by group",
            perm(json!({"mcp_access_groups": ["OPS"]})),
            &["bee", "gamma"],
        ),
        (
            "name ∪ group",
            perm(json!({"mcp_servers": ["alpha"], "mcp_access_groups": ["ops"]})),
            &["alpha", "bee", "gamma"],
        ),
        (
            "team ∩ key",
            json!({"team_id": dev, "object_permission": {"mcp_servers": ["beta", "gamma"]}}),
            &["bee"],
        ),
        ("inherits team", json!({"team_id": dev}), &["alpha", "bee"]),
        ("org narrows team", json!({"team_id": org_team}), &["alpha"]),
        (
            "org narrows key",
            json!({"organization_id": org, "object_permission": {"mcp_access_groups": ["dev"]}}),
            &["alpha"],
        ),
        ("org decides", json!({"organization_id": org}), &["alpha"]),
        ("empty grant list", perm(json!({"mcp_servers": []})), &[]),
        ("no grants", json!({}), &[]),
    ];
    let mut keys = Vec::new();
    for (what, body, expected) in &cases {
        let (key, _) = new_key(&gw, body.clone()).await;
        keys.push((*what, key, *expected));
    }
    let last = &keys[keys.len() - 1].1;
    await_key(&gw, last, 200, None).await;

    for (what, key, expected) in &keys {
        assert_eq!(
            prefixes(&tool_names(&gw, key).await),
            set(expected),
            "{what}"
        );
    }
    assert_eq!(
        prefixes(&tool_names(&gw, MASTER_KEY).await),
        set(&["alpha", "bee", "gamma"]),
        "master sees every server"
    );

    // No grants: nothing listed, calls refused with an isError naming the tool.
    let (_, none, _) = &keys[keys.len() - 1];
    assert!(tool_names(&gw, none).await.is_empty());
    let r = call_tool(&gw, none, "alpha-echo", json!({"text": "x"})).await;
    assert!(is_error(&r), "{r}");
    assert!(text_of(&r).contains("alpha-echo"), "{r}");
    // A key granted alpha cannot call bee's tools either.
    let (_, by_name, _) = &keys[0];
    let r = call_tool(&gw, by_name, "bee-echo", json!({"text": "x"})).await;
    assert!(is_error(&r), "{r}");
    assert!(!upstream_called(&beta, "echo").await, "beta was contacted");
    let r = call_tool(&gw, by_name, "alpha-echo", json!({"text": "granted"})).await;
    assert_eq!(text_of(&r), "granted");

    // An allow_all_keys server (added through the API) reaches every key, even one
    // without grants, and does not widen the others beyond it.
    let stdio = bin("meshgate-demo-stdio");
    master(
        &gw,
        "POST",
        "/v1/mcp/server",
        json!({"server_name": "public", "command": stdio.display().to_string(),
               "args": ["--name", "public"], "allow_all_keys": true}),
    )
    .await;
    eventually(
        "the allow_all_keys server reaches a key without grants",
        || async {
            let seen = prefixes(&tool_names(&gw, none).await);
            if seen == set(&["public"]) {
                Ok(())
            } else {
                Err(format!("{seen:?}"))
            }
        },
    )
    .await;
    let r = call_tool(&gw, none, "public-echo", json!({"text": "for everyone"})).await;
    assert_eq!(text_of(&r), "for everyone", "{r}");
    for (what, key, expected) in &keys {
        let mut want = set(expected);
        want.insert("public".into());
        assert_eq!(
            prefixes(&tool_names(&gw, key).await),
            want,
            "{what} + public"
        );
    }
}

/// `/mcp/<a,b>`, `/<name>/mcp` and `x-mcp-servers` (names, aliases, groups, any case)
/// only narrow what a key may use: naming a server the key may not use never grants it.
async fn narrowing_by_path_and_header_never_grants(db: Database) {
    let (_a, alpha) = demo_http("alpha", &[]).await;
    let (_b, beta) = demo_http("beta", &[]).await;
    let servers = http_server_yaml("alpha", &alpha, "    access_groups: [dev]\n")
        + &http_server_yaml(
            "beta",
            &beta,
            "    alias: bee\n    access_groups: [dev, ops]\n",
        )
        + &demo_stdio_yaml("gamma", "    access_groups: [ops]\n");
    let gw = start(db, servers).await;
    let (key, _) = new_key(
        &gw,
        json!({"object_permission": {"mcp_access_groups": ["ops"]}}),
    )
    .await;
    await_key(&gw, &key, 200, None).await;
    assert_eq!(
        prefixes(&tool_names(&gw, &key).await),
        set(&["bee", "gamma"])
    );

    let at = |path: &'static str| {
        let gw = &gw;
        let key = key.clone();
        async move { tools_at(gw, &key, path, &[]).await }
    };
    assert_eq!(
        prefixes(&names_of(&at("/mcp/gamma").await)),
        set(&["gamma"])
    );
    assert_eq!(
        prefixes(&names_of(&at("/mcp/GAMMA,bee").await)),
        set(&["bee", "gamma"])
    );
    assert_eq!(
        prefixes(&names_of(&at("/mcp/bee,alpha").await)),
        set(&["bee"]),
        "alpha is not granted by naming it"
    );
    assert_eq!(
        prefixes(&names_of(&at("/mcp/dev").await)),
        set(&["bee"]),
        "a group only narrows"
    );
    assert_eq!(prefixes(&names_of(&at("/Bee/mcp").await)), set(&["bee"]));
    for path in ["/mcp/alpha", "/alpha/mcp", "/nosuch/mcp", "/mcp/nosuch"] {
        let r = at(path).await;
        assert_eq!(r.status, 404, "{path}: {}", r.text());
    }

    let with = |value: &'static str| {
        let gw = &gw;
        let key = key.clone();
        async move { tools_at(gw, &key, "/mcp", &[("x-mcp-servers", value)]).await }
    };
    assert_eq!(prefixes(&names_of(&with("GAMMA").await)), set(&["gamma"]));
    assert_eq!(
        prefixes(&names_of(&with("nosuch, Bee").await)),
        set(&["bee"])
    );
    assert_eq!(prefixes(&names_of(&with("DEV").await)), set(&["bee"]));
    assert_eq!(
        prefixes(&names_of(&with("ops").await)),
        set(&["bee", "gamma"])
    );
    for value in ["alpha", "nosuch", "alpha,nosuch"] {
        let r = with(value).await;
        assert_eq!(r.status, 403, "x-mcp-servers: {value}: {}", r.text());
        assert_eq!(r.json()["error"], "no_matching_servers");
    }
    // Calls follow the narrowed scope; the header never opens alpha.
    let r = rpc_at(
        &gw,
        &key,
        "/mcp",
        &[("x-mcp-servers", "gamma")],
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "bee-echo", "arguments": {"text": "x"}}}),
    )
    .await;
    assert!(is_error(&r.json()["result"]), "{}", r.text());
    let r = call_tool(&gw, &key, "alpha-echo", json!({"text": "x"})).await;
    assert!(is_error(&r), "{r}");
    assert!(!upstream_called(&alpha, "echo").await);
    assert!(!upstream_called(&beta, "echo").await);

    // The master key narrows the same way.
    let r = tools_at(&gw, MASTER_KEY, "/mcp/dev", &[]).await;
    assert_eq!(prefixes(&names_of(&r)), set(&["alpha", "bee"]));
    let r = tools_at(&gw, MASTER_KEY, "/mcp", &[("x-mcp-servers", "ALPHA")]).await;
    assert_eq!(prefixes(&names_of(&r)), set(&["alpha"]));
}

/// `mcp_tool_permissions` of key and team (intersected) hide tools from tools/list and
/// refuse calls with an isError saying why, without the upstream seeing the call; they
/// never grant a server.
async fn tool_permissions_hide_and_refuse_without_contacting_the_upstream(db: Database) {
    let (_a, alpha) = demo_http("alpha", &[]).await;
    let (_b, beta) = demo_http("beta", &[]).await;
    let servers = http_server_yaml("alpha", &alpha, "")
        + &http_server_yaml("beta", &beta, "    alias: bee\n");
    let gw = start(db, servers).await;
    let team = new_team(
        &gw,
        json!({"team_alias": "t", "object_permission": {"mcp_servers": ["alpha", "bee"],
               "mcp_tool_permissions": {"alpha": ["echo", "add"]}}}),
    )
    .await;
    // key ∩ team on alpha = echo; bee unrestricted.
    let (both, _) = new_key(
        &gw,
        json!({"team_id": team, "object_permission": {"mcp_tool_permissions": {"alpha": ["echo", "whoami"]}}}),
    )
    .await;
    // team only: echo, add.
    let (team_only, _) = new_key(&gw, json!({"team_id": team})).await;
    // key only; naming bee in tool permissions does not grant bee.
    let (key_only, _) = new_key(
        &gw,
        json!({"object_permission": {"mcp_servers": ["alpha"],
               "mcp_tool_permissions": {"ALPHA": ["Add"], "bee": ["echo"]}}}),
    )
    .await;
    await_key(&gw, &key_only, 200, None).await;

    let alpha_tools = |names: BTreeSet<String>| -> BTreeSet<String> {
        names
            .into_iter()
            .filter(|n| n.starts_with("alpha-"))
            .collect()
    };
    let seen = tool_names(&gw, &both).await;
    assert_eq!(alpha_tools(seen.clone()), set(&["alpha-echo"]));
    assert!(
        seen.contains("bee-add") && seen.contains("bee-whoami"),
        "{seen:?}"
    );
    assert_eq!(
        alpha_tools(tool_names(&gw, &team_only).await),
        set(&["alpha-add", "alpha-echo"])
    );
    assert_eq!(tool_names(&gw, &key_only).await, set(&["alpha-add"]));

    // Refused calls say why and never reach the upstream.
    for (key, tool) in [
        (&both, "add"),
        (&both, "whoami"),
        (&team_only, "whoami"),
        (&key_only, "echo"),
    ] {
        let r = call_tool(
            &gw,
            key,
            &format!("alpha-{tool}"),
            json!({"text": "x", "a": 1, "b": 2}),
        )
        .await;
        assert!(is_error(&r), "{tool}: {r}");
        assert!(text_of(&r).contains("not allowed"), "{tool}: {r}");
        assert!(
            !upstream_called(&alpha, tool).await,
            "alpha received a refused {tool}"
        );
    }
    let r = call_tool(&gw, &key_only, "bee-echo", json!({"text": "x"})).await;
    assert!(is_error(&r), "{r}");
    assert!(
        !upstream_called(&beta, "echo").await,
        "tool permissions granted bee"
    );

    // Permitted calls go through.
    let r = call_tool(&gw, &both, "alpha-echo", json!({"text": "allowed"})).await;
    assert_eq!(text_of(&r), "allowed");
    let r = call_tool(&gw, &key_only, "alpha-add", json!({"a": 2, "b": 3})).await;
    assert_eq!(r["structuredContent"]["sum"], 5.0);
    let r = call_tool(&gw, &both, "bee-whoami", json!({})).await;
    assert!(!is_error(&r), "{r}");
}

/// Writes need the master key (403 otherwise, even with forged internal headers);
/// malformed JSON, bad fields and unknown references get 4xx naming the field; a blocked
/// team blocks its keys; a team that keys reference cannot be deleted (409) and a
/// refused multi-team delete deletes nothing; unknown routes 404, wrong methods 405.
async fn admin_api_refuses_bad_requests_and_non_master_keys(db: Database) {
    let gw = start(db, demo_stdio_yaml("local", "")).await;
    let (other, other_token) = new_key(
        &gw,
        json!({"object_permission": {"mcp_servers": ["local"]}}),
    )
    .await;
    let (key, token) = new_key(&gw, json!({"key_alias": "plain"})).await;
    await_key(&gw, &key, 200, None).await;

    // A virtual key: no writes, no other keys' data; its own info is fine.
    for (method, path, body) in [
        ("POST", "/key/generate", "{}"),
        ("POST", "/key/update", r#"{"key": "x", "blocked": true}"#),
        (
            "POST",
            "/key/block",
            &format!(r#"{{"key": "{other_token}"}}"#),
        ),
        ("POST", "/team/new", "{}"),
        (
            "POST",
            "/organization/new",
            r#"{"organization_alias": "o"}"#,
        ),
        (
            "POST",
            "/v1/mcp/server",
            r#"{"server_name": "x", "command": "true"}"#,
        ),
        ("GET", "/key/list", ""),
        ("GET", "/team/list", ""),
        ("GET", &format!("/key/info?key={other_token}"), ""),
        ("GET", &format!("/key/info?key={other}"), ""),
    ] {
        let r = send(&gw, &key, method, path, body).await;
        assert_eq!(r.status, 403, "{method} {path}: {}", r.text());
        assert_eq!(r.json()["error"], "forbidden", "{method} {path}");
        assert!(!r.text().contains(&other), "{path} echoed a key");
    }
    let own = send(&gw, &key, "GET", "/key/info", "").await;
    assert_eq!(own.status, 200, "{}", own.text());
    assert_eq!(own.json()["key"], token.as_str());
    let own = send(&gw, &key, "GET", &format!("/key/info?key={key}"), "").await;
    assert_eq!(own.status, 200, "{}", own.text());
    assert!(!own.text().contains(&key));

    // Forged internal headers do not make a virtual key master.
    let forged: &[(&str, &str)] = &[
        ("x-meshgate-principal", "master"),
        ("x-meshgate-servers", "*"),
        ("x-meshgate-ts", "0"),
        ("x-meshgate-signature", "00"),
    ];
    let r = send_with(&gw, &key, "POST", "/key/generate", forged, "{}").await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = send_with(&gw, &key, "GET", "/key/list", forged, "").await;
    assert_eq!(r.status, 403, "{}", r.text());
    let r = rpc_at(
        &gw,
        &key,
        "/mcp",
        forged,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    assert!(
        names_of(&r).is_empty(),
        "forged servers header widened the scope"
    );

    // Bad bodies.
    let r = send(&gw, MASTER_KEY, "POST", "/key/generate", "{not json").await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"], "invalid_json");
    let r = send(&gw, MASTER_KEY, "POST", "/key/generate", "[1, 2]").await;
    assert_eq!(r.status, 400, "{}", r.text());
    let bad_field = |path: &'static str, body: Value, field: &'static str| {
        let gw = &gw;
        async move {
            let r = send(gw, MASTER_KEY, "POST", path, &body.to_string()).await;
            assert!(
                (400..500).contains(&r.status),
                "{path} {body}: {} {}",
                r.status,
                r.text()
            );
            assert_eq!(r.json()["field"], field, "{path} {body}: {}", r.text());
            assert!(
                r.json()["message"].as_str().unwrap_or("").contains(field),
                "{}",
                r.text()
            );
        }
    };
    bad_field(
        "/team/new",
        json!({"organization_id": "no_such_org"}),
        "organization_id",
    )
    .await;
    bad_field(
        "/key/generate",
        json!({"team_id": "no_such_team"}),
        "team_id",
    )
    .await;
    bad_field("/key/generate", json!({"rpm_limit": "many"}), "rpm_limit").await;
    bad_field("/key/generate", json!({"duration": "soon"}), "duration").await;
    bad_field(
        "/key/generate",
        json!({"object_permission": {"mcp_servers": "local"}}),
        "object_permission.mcp_servers",
    )
    .await;
    bad_field("/key/update", json!({"blocked": true}), "key").await;
    bad_field("/organization/new", json!({}), "organization_alias").await;
    bad_field("/team/member_add", json!({"team_id": "x"}), "member").await;
    let r = send(
        &gw,
        MASTER_KEY,
        "POST",
        "/key/update",
        &json!({"key": "sk-unknown-key-0123456789", "blocked": true}).to_string(),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(
        !r.text().contains("sk-unknown-key-0123456789"),
        "{}",
        r.text()
    );

    // Referenced teams are not deleted; nothing is half-done.
    let team = new_team(&gw, json!({"team_alias": "busy"})).await;
    let spare = new_team(&gw, json!({"team_alias": "spare"})).await;
    let (member, member_token) = new_key(&gw, json!({"team_id": team})).await;
    // A blocked team blocks its keys.
    await_key(&gw, &member, 200, None).await;
    master(&gw, "POST", "/team/block", json!({"team_id": team})).await;
    await_key(&gw, &member, 401, Some("key_blocked")).await;
    master(&gw, "POST", "/team/unblock", json!({"team_id": team})).await;
    await_key(&gw, &member, 200, None).await;
    let r = send(
        &gw,
        MASTER_KEY,
        "POST",
        "/team/delete",
        &json!({"team_ids": [spare, team]}).to_string(),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(r.json()["error"], "conflict");
    let teams = master(&gw, "GET", "/team/list", Value::Null).await;
    assert_eq!(
        teams.as_array().map(Vec::len),
        Some(2),
        "a team was deleted: {teams}"
    );
    master(&gw, "POST", "/key/delete", json!({"keys": [member_token]})).await;
    let done = master(
        &gw,
        "POST",
        "/team/delete",
        json!({"team_ids": [spare, team]}),
    )
    .await;
    assert_eq!(done["deleted_teams"].as_array().map(Vec::len), Some(2));
    assert!(!done.to_string().contains(&member));

    // Members, organizations and info round-trip.
    let org = master(
        &gw,
        "POST",
        "/organization/new",
        json!({"organization_alias": "acme"}),
    )
    .await;
    let org_id = org["organization_id"].as_str().expect("id").to_string();
    let t = new_team(
        &gw,
        json!({"team_alias": "acme_team", "organization_id": org_id}),
    )
    .await;
    let added = master(
        &gw,
        "POST",
        "/team/member_add",
        json!({"team_id": t, "member": {"user_id": "ann", "role": "admin"}}),
    )
    .await;
    assert_eq!(
        added["members_with_roles"],
        json!([{"user_id": "ann", "role": "admin"}])
    );
    let r = send(
        &gw,
        MASTER_KEY,
        "POST",
        "/team/member_add",
        &json!({"team_id": t, "member": {"user_id": "ann"}}).to_string(),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text());
    let info = master(&gw, "GET", &format!("/team/info?team_id={t}"), Value::Null).await;
    assert_eq!(info["team_info"]["organization_id"], org_id.as_str());
    let r = send(
        &gw,
        MASTER_KEY,
        "POST",
        "/organization/delete",
        &json!({"organization_ids": [org_id]}).to_string(),
    )
    .await;
    assert_eq!(
        r.status,
        409,
        "an organization with teams is not deleted: {}",
        r.text()
    );
    master(
        &gw,
        "POST",
        "/team/member_delete",
        json!({"team_id": t, "user_id": "ann"}),
    )
    .await;
    master(&gw, "POST", "/team/delete", json!({"team_ids": [t]})).await;
    master(
        &gw,
        "POST",
        "/organization/delete",
        json!({"organization_ids": [org_id]}),
    )
    .await;
    let r = send(
        &gw,
        MASTER_KEY,
        "GET",
        &format!("/organization/info?organization_id={org_id}"),
        "",
    )
    .await;
    assert_eq!(r.status, 404);

    // Routes and methods.
    let r = send(&gw, MASTER_KEY, "GET", "/key/nope", "").await;
    assert_eq!(r.status, 404, "{}", r.text());
    let r = send(&gw, MASTER_KEY, "GET", "/key/generate", "").await;
    assert_eq!(r.status, 405, "{}", r.text());
    assert_eq!(r.header("allow"), Some("POST"));
    let r = send(&gw, MASTER_KEY, "DELETE", "/v1/mcp/server", "").await;
    assert_eq!(r.status, 405, "{}", r.text());
}

/// `POST /v1/mcp/server` creates a database server (a demo HTTP server) that a key
/// granted by name can list and call through Envoy as soon as the write returns, with its configured
/// credentials; GET merges file and database servers and never shows a secret; names
/// of file servers are refused (409), bad configs name the field (400); PUT keeps the
/// secrets a client sends back redacted; DELETE takes the server away.
async fn mcp_servers_created_through_the_api_are_served_and_redacted(db: Database) {
    let (_a, alpha) = demo_http("alpha", &[]).await;
    let (_d, dynamic) = demo_http("dynamic", &[]).await;
    let servers = http_server_yaml(
        "alpha",
        &alpha,
        "    auth_type: bearer_token\n    auth_value: file-auth-secret\n    static_headers: {X-Static: file-static-secret}\n    access_groups: [file_group]\n",
    ) + &demo_stdio_yaml("local", "    env: {LOCAL_TOKEN: file-env-secret}\n");
    let gw = start(db, servers).await;
    let (key, _) = new_key(&gw, json!({"object_permission": {"mcp_servers": ["dyn"]}})).await;
    await_key(&gw, &key, 200, None).await;
    assert!(
        tool_names(&gw, &key).await.is_empty(),
        "`dyn` does not exist yet"
    );

    let created = master(
        &gw,
        "POST",
        "/v1/mcp/server",
        json!({"server_name": "dyn", "alias": "dynamo", "description": "made via API",
               "url": format!("http://{dynamic}/mcp"), "transport": "http",
               "auth_type": "bearer_token", "credentials": {"auth_value": "db-auth-secret"},
               "static_headers": {"X-Db": "db-static-secret"},
               "mcp_access_groups": ["dyn_group"]}),
    )
    .await;
    assert_eq!(created["source"], "database");
    assert_eq!(created["server_name"], "dyn");
    let id = created["server_id"]
        .as_str()
        .expect("server_id")
        .to_string();
    let secrets = [
        "file-auth-secret",
        "file-static-secret",
        "file-env-secret",
        "db-auth-secret",
        "db-static-secret",
    ];
    let no_secret = |text: &str, what: &str| {
        for s in secrets {
            assert!(!text.contains(s), "{what} shows {s}: {text}");
        }
    };
    no_secret(&created.to_string(), "POST response");

    // Served through Envoy: listed and called by the key granted by name.
    eventually("the new server is listed for the key", || async {
        let seen = tool_names(&gw, &key).await;
        if seen.contains("dynamo-add") {
            Ok(())
        } else {
            Err(format!("{seen:?}"))
        }
    })
    .await;
    assert_eq!(prefixes(&tool_names(&gw, &key).await), set(&["dynamo"]));
    let r = call_tool(&gw, &key, "dynamo-add", json!({"a": 40, "b": 2})).await;
    assert_eq!(r["structuredContent"]["sum"], 42.0, "{r}");
    let last = upstream_requests(&dynamic).await;
    let call = last
        .iter()
        .rev()
        .find(|r| r["rpc_method"] == "tools/call")
        .expect("the call reached the new server");
    assert_eq!(call["headers"]["authorization"], "Bearer db-auth-secret");
    assert_eq!(call["headers"]["x-db"], "db-static-secret");

    // Listing merges both sources, redacted; keys see only their scope.
    let all = send(&gw, MASTER_KEY, "GET", "/v1/mcp/server", "").await;
    assert_eq!(all.status, 200, "{}", all.text());
    no_secret(&all.text(), "GET /v1/mcp/server");
    let listed = all.json();
    let source_of = |name: &str| {
        listed
            .as_array()
            .and_then(|a| a.iter().find(|s| s["server_name"] == name))
            .map(|s| s["source"].clone())
    };
    assert_eq!(source_of("alpha"), Some(json!("config")));
    assert_eq!(source_of("local"), Some(json!("config")));
    assert_eq!(source_of("dyn"), Some(json!("database")));
    for path in [
        format!("/v1/mcp/server/{id}"),
        "/v1/mcp/server/dynamo".into(),
        "/v1/mcp/server/alpha".into(),
    ] {
        let one = send(&gw, MASTER_KEY, "GET", &path, "").await;
        assert_eq!(one.status, 200, "{path}: {}", one.text());
        no_secret(&one.text(), &path);
    }
    let mine = send(&gw, &key, "GET", "/v1/mcp/server", "").await;
    assert_eq!(mine.status, 200, "{}", mine.text());
    let names: Vec<Value> = mine
        .json()
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|s| s["server_name"].clone())
        .collect();
    assert_eq!(names, vec![json!("dyn")]);
    let groups = master(&gw, "GET", "/v1/mcp/access_groups", Value::Null).await;
    assert_eq!(groups["access_groups"], json!(["dyn_group", "file_group"]));

    // Refusals.
    let refused = |body: Value, status: u16, field: Option<&'static str>| {
        let gw = &gw;
        async move {
            let r = send(gw, MASTER_KEY, "POST", "/v1/mcp/server", &body.to_string()).await;
            assert_eq!(r.status, status, "{body}: {}", r.text());
            if let Some(f) = field {
                assert_eq!(r.json()["field"], f, "{body}: {}", r.text());
            }
        }
    };
    let url = format!("http://{dynamic}/mcp");
    refused(
        json!({"server_name": "alpha", "url": url, "transport": "http"}),
        409,
        None,
    )
    .await;
    refused(
        json!({"server_name": "other", "alias": "LOCAL", "url": url, "transport": "http"}),
        409,
        None,
    )
    .await;
    refused(
        json!({"server_name": "DYN", "url": url, "transport": "http"}),
        409,
        None,
    )
    .await;
    refused(
        json!({"server_name": "other", "url": url, "transport": "pigeon"}),
        400,
        Some("transport"),
    )
    .await;
    refused(
        json!({"server_name": "other", "url": url, "trasport": "http"}),
        400,
        Some("trasport"),
    )
    .await;
    refused(
        json!({"server_name": "bad-name", "url": url, "transport": "http"}),
        400,
        Some("server_name"),
    )
    .await;
    refused(
        json!({"url": url, "transport": "http"}),
        400,
        Some("server_name"),
    )
    .await;
    let r = send(&gw, MASTER_KEY, "DELETE", "/v1/mcp/server/alpha", "").await;
    assert_eq!(
        r.status,
        409,
        "file servers are changed in the file: {}",
        r.text()
    );

    // PUT with the redacted view sent back keeps the stored credentials.
    let mut view = master(&gw, "GET", "/v1/mcp/server/dyn", Value::Null).await;
    view["description"] = json!("changed");
    let updated = master(&gw, "PUT", "/v1/mcp/server", view).await;
    assert_eq!(updated["description"], "changed");
    no_secret(&updated.to_string(), "PUT response");
    let r = call_tool(&gw, &key, "dynamo-echo", json!({"text": "after put"})).await;
    assert_eq!(text_of(&r), "after put", "{r}");
    let last = upstream_requests(&dynamic).await;
    let call = last
        .iter()
        .rev()
        .find(|r| r["rpc_method"] == "tools/call")
        .expect("call");
    assert_eq!(call["headers"]["authorization"], "Bearer db-auth-secret");

    // DELETE: the server disappears for the key.
    let deleted = master(&gw, "DELETE", &format!("/v1/mcp/server/{id}"), Value::Null).await;
    assert_eq!(deleted["server_name"], "dyn");
    eventually("the deleted server is gone", || async {
        let seen = tool_names(&gw, &key).await;
        if seen.is_empty() {
            Ok(())
        } else {
            Err(format!("{seen:?}"))
        }
    })
    .await;
    let r = send(&gw, MASTER_KEY, "GET", &format!("/v1/mcp/server/{id}"), "").await;
    assert_eq!(r.status, 404, "{}", r.text());
}

/// `/mcp-rest/tools/list` and `/mcp-rest/tools/call` with a virtual key: bare names with
/// `mcp_info`, only servers and tools the key may use, LiteLLM's error shapes, and the
/// same tool rules as MCP calls, checked before the upstream is contacted.
async fn mcp_rest_lists_and_calls_within_the_key_scope(db: Database) {
    let (_a, alpha) = demo_http("alpha", &[]).await;
    let (_b, beta) = demo_http("beta", &[]).await;
    let servers = http_server_yaml("alpha", &alpha, "    allowed_params: {add: [a, b]}\n")
        + &http_server_yaml(
            "beta",
            &beta,
            "    alias: bee\n    disallowed_tools: [fail]\n",
        );
    let gw = start(db, servers).await;
    let (nothing, _) = new_key(&gw, json!({})).await;
    let (key, _) = new_key(
        &gw,
        json!({"object_permission": {"mcp_servers": ["alpha"], "mcp_tool_permissions": {"alpha": ["echo", "add"]}}}),
    )
    .await;
    await_key(&gw, &key, 200, None).await;

    let list = |who: &'static str, query: &'static str| {
        let gw = &gw;
        let k = if who == "master" {
            MASTER_KEY.to_string()
        } else {
            key.clone()
        };
        async move { send(gw, &k, "GET", &format!("/mcp-rest/tools/list{query}"), "").await }
    };
    let bare = |r: &Resp| -> BTreeSet<String> {
        r.json()["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("{}", r.text()))
            .iter()
            .map(|t| t["name"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let r = list("key", "").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(bare(&r), set(&["add", "echo"]));
    let v = r.json();
    assert_eq!(v["error"], Value::Null);
    let first = &v["tools"][0];
    assert_eq!(first["mcp_info"]["server_name"], "alpha");
    assert!(
        first["inputSchema"].is_object() && first["description"].is_string(),
        "{first}"
    );
    let r = list("key", "?server_id=ALPHA").await;
    assert_eq!(bare(&r), set(&["add", "echo"]));
    let r = list("key", "?server_id=bee").await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["error"], "access_denied");
    // As LiteLLM: an unknown server on tools/list is refused like a forbidden one.
    let r = list("key", "?server_id=nosuch").await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["error"], "access_denied");
    let r = list("master", "?server_id=bee").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let names = bare(&r);
    assert!(
        names.contains("echo") && !names.contains("fail"),
        "{names:?}"
    );
    assert_eq!(r.json()["tools"][0]["mcp_info"]["alias"], "bee");
    let r = send(&gw, &nothing, "GET", "/mcp-rest/tools/list", "").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["tools"], json!([]));
    assert_eq!(r.json()["error"], "access_denied");

    let call = |who: &'static str, body: Value| {
        let gw = &gw;
        let k = if who == "master" {
            MASTER_KEY.to_string()
        } else {
            key.clone()
        };
        async move { send(gw, &k, "POST", "/mcp-rest/tools/call", &body.to_string()).await }
    };
    let r = call(
        "key",
        json!({"server_id": "alpha", "name": "add", "arguments": {"a": 1, "b": 2}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["structuredContent"]["sum"], 3.0);
    let r = call(
        "key",
        json!({"server_id": "alpha", "name": "alpha-echo", "arguments": {"text": "prefixed"}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["content"][0]["text"], "prefixed");

    for (body, field) in [
        (json!({"name": "add"}), "server_id"),
        (json!({"server_id": "alpha"}), "name"),
    ] {
        let r = call("key", body).await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(r.json()["error"], "missing_parameter");
        assert_eq!(
            r.json()["message"],
            format!("{field} is required in request body")
        );
    }
    let refusals = [
        (
            json!({"server_id": "bee", "name": "echo"}),
            403,
            "access_denied",
        ),
        (
            json!({"server_id": "nosuch", "name": "echo"}),
            404,
            "server_not_found",
        ),
        (
            json!({"server_id": "alpha", "name": "whoami"}),
            403,
            "tool_not_allowed",
        ),
        (
            json!({"server_id": "alpha", "name": "add", "arguments": {"a": 1, "c": 2}}),
            403,
            "parameters_not_allowed",
        ),
    ];
    for (body, status, code) in refusals {
        let r = call("key", body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert_eq!(r.json()["error"], code, "{body}");
    }
    let r = call("master", json!({"server_id": "bee", "name": "fail"})).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["error"], "tool_not_allowed");
    assert!(!upstream_called(&alpha, "whoami").await);
    let add_calls = upstream_requests(&alpha)
        .await
        .iter()
        .filter(|r| r["rpc_method"] == "tools/call" && r["tool"] == "add")
        .count();
    assert_eq!(add_calls, 1, "only the permitted add reached alpha");
    assert!(!upstream_called(&beta, "echo").await && !upstream_called(&beta, "fail").await);
}
