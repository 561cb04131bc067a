//! The audit trail end to end, on SQLite and on PostgreSQL: real Envoy with the built
//! filter streams every request's access-log entry (the filter's audit record in its
//! filter state) over gRPC to the sidecar's AccessLogService, which writes rows the admin
//! route `GET /audit/logs` reads. Refusals the sidecar never saw (401, 403) are there with
//! their reason; an allowed `tools/call` with its server and tool; a guardrail block with
//! its guardrail. A forged access-log stream (no token, wrong token) is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use meshgate_e2e::http::{request, Resp};
use meshgate_e2e::mcp::RawMcp;
use meshgate_e2e::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

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
    refusals_of_the_filter_reach_the_trail_with_their_reason,
    an_allowed_call_and_a_guardrail_block_are_recorded,
    the_admin_route_filters_and_pages,
    a_forged_access_log_stream_is_refused,
    every_request_of_a_burst_is_in_the_trail,
    arguments_are_recorded_only_when_configured,
    a_legacy_sse_call_is_recorded_with_its_server_and_tool,
    the_calls_of_a_batch_are_recorded_with_their_arguments,
);

const CARDS: &str = "guardrails:\n  - guardrail_name: no-cards\n    litellm_params: {guardrail: meshgate, mode: pre_mcp_call, default_on: true, pii_entities_config: {CREDIT_CARD: BLOCK}}\n";

async fn start(db: Database) -> Gateway {
    start_with(db, "").await
}

async fn start_with(db: Database, meshgate_yaml: &str) -> Gateway {
    let servers = format!(
        "{}{}{CARDS}",
        demo_stdio_yaml("alpha", ""),
        demo_stdio_yaml("beta", "")
    );
    Gateway::start_with(GatewayOptions {
        database: db,
        meshgate_yaml: meshgate_yaml.to_string(),
        ..GatewayOptions::new(servers)
    })
    .await
}

async fn send(
    gw: &Gateway,
    auth: Option<&str>,
    path: &str,
    extra: &[(&str, &str)],
    body: &str,
) -> Resp {
    let bearer = auth.map(|k| format!("Bearer {k}"));
    let mut headers: Vec<(&str, &str)> = bearer
        .as_deref()
        .map(|b| vec![("authorization", b)])
        .unwrap_or_default();
    headers.extend_from_slice(extra);
    let method = if body.is_empty() { "GET" } else { "POST" };
    request(method, &format!("{}{path}", gw.base()), &headers, body)
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;

/// `GET /audit/logs?{query}` with the master key.
async fn audit(gw: &Gateway, query: &str) -> Resp {
    send(
        gw,
        Some(MASTER_KEY),
        &format!("/audit/logs?{query}"),
        &[],
        "",
    )
    .await
}

/// Rows arrive asynchronously (Envoy flushes its access-log buffer, the sidecar writes in
/// batches): waits until the query returns `n` rows in all, then returns the answer.
async fn rows(gw: &Gateway, query: &str, n: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let resp = audit(gw, query).await;
        assert_eq!(resp.status, 200, "{query}: {}", resp.text());
        let v = resp.json();
        if v["total"] == json!(n) || Instant::now() > deadline {
            assert_eq!(v["total"], json!(n), "{query}: {v:#}");
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn hash16(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))[..16].to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn new_key(gw: &Gateway, body: Value) -> String {
    let resp = send(
        gw,
        Some(MASTER_KEY),
        "/key/generate",
        &[],
        &body.to_string(),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.json()["key"].as_str().unwrap().to_string()
}

async fn refusals_of_the_filter_reach_the_trail_with_their_reason(db: Database) {
    let gw = start(db).await;
    // 401 without a key, 401 with a key nobody issued.
    assert_eq!(send(&gw, None, "/mcp", &[], PING).await.status, 401);
    let guessed = "sk-guessed-audit-key";
    assert_eq!(
        send(&gw, Some(guessed), "/mcp", &[], PING).await.status,
        401
    );

    let v = rows(&gw, "reason=authentication_required", 1).await;
    let row = &v["data"][0];
    assert_eq!(row["decision"], "refused");
    assert_eq!(row["http_status"], 401);
    assert_eq!(row["path"], "/mcp");
    assert_eq!(row["http_method"], "POST");
    assert!(row["principal"].is_null());
    assert!(!row["request_id"].as_str().unwrap_or_default().is_empty());
    assert!(row["time"].as_str().unwrap().ends_with('Z'));

    let v = rows(&gw, "reason=invalid_key", 1).await;
    let row = &v["data"][0];
    assert_eq!(row["principal"], format!("unknown:{}", hash16(guessed)));
    assert_eq!(row["http_status"], 401);

    // 403: a key of team `red` (alias `audit-key`) allowed only alpha asks for beta, by
    // the narrowing header and by a 2026-07-28 `Mcp-Name`.
    let team = send(
        &gw,
        Some(MASTER_KEY),
        "/team/new",
        &[],
        &json!({"team_alias": "red"}).to_string(),
    )
    .await
    .json()["team_id"]
        .as_str()
        .unwrap()
        .to_string();
    let key = new_key(
        &gw,
        json!({"key_alias": "audit-key", "team_id": team, "object_permission": {"mcp_servers": ["alpha"]}}),
    )
    .await;
    let narrowed = send(&gw, Some(&key), "/mcp", &[("x-mcp-servers", "beta")], PING).await;
    assert_eq!(narrowed.status, 403, "{}", narrowed.text());
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "beta-add", "arguments": {"a": 1, "b": 2}}})
    .to_string();
    let named = send(
        &gw,
        Some(&key),
        "/mcp",
        &[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "beta-add"),
        ],
        &call,
    )
    .await;
    assert_eq!(named.status, 403, "{}", named.text());

    let principal = format!("key:{}", hash16(&key));
    let v = rows(&gw, "reason=no_matching_servers", 1).await;
    let row = &v["data"][0];
    assert_eq!(row["principal"], principal);
    assert_eq!(row["key_alias"], "audit-key");
    assert_eq!(row["team_id"], team);
    assert_eq!(row["http_status"], 403);
    let v = rows(&gw, "reason=server_not_allowed", 1).await;
    let row = &v["data"][0];
    assert_eq!(row["principal"], principal);
    assert_eq!(row["mcp_method"], "tools/call");
    assert_eq!(row["server"], "beta");
    assert_eq!(row["tool"], "add");
    // Nothing secret in any row: neither key nor argument values.
    // (The harness's first pings may add a 503 `gateway_not_ready` row.)
    let all = audit(&gw, "decision=refused").await.text();
    for secret in [guessed, key.as_str(), MASTER_KEY] {
        assert!(!all.contains(secret), "{secret} in {all}");
    }
}

async fn an_allowed_call_and_a_guardrail_block_are_recorded(db: Database) {
    let gw = start(db).await;
    let mcp = RawMcp::connect(&gw.url(), MASTER_KEY, json!({})).await;
    let session = mcp.session.clone().expect("a session");
    let headers = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let add = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "alpha-add", "arguments": {"a": 20, "b": 22}}});
    let resp = send(&gw, Some(MASTER_KEY), "/mcp", &headers, &add.to_string()).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(resp.text().contains("42"), "{}", resp.text());
    // The sidecar's note to the filter never reaches the client.
    assert!(resp.header(meshgate_policy::audit::CALL_HEADER).is_none());

    let card = json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call",
        "params": {"name": "beta-echo", "arguments": {"text": "4111 1111 1111 1111"}}});
    let resp = send(&gw, Some(MASTER_KEY), "/mcp", &headers, &card.to_string()).await;
    assert_eq!(resp.status, 200);
    assert!(resp.text().contains("isError"), "{}", resp.text());

    let v = rows(&gw, "decision=allowed&server=alpha", 1).await;
    let row = &v["data"][0];
    assert_eq!(row["principal"], "master");
    assert_eq!(row["reason"], "ok");
    assert_eq!(row["mcp_method"], "tools/call");
    assert_eq!(row["tool"], "add");
    assert_eq!(row["http_status"], 200);
    // Argument values only when configured (they are not here).
    assert!(row.get("arguments").is_none(), "{row}");

    let v = rows(&gw, "reason=guardrail_blocked", 1).await;
    let row = &v["data"][0];
    assert_eq!(row["decision"], "refused");
    assert_eq!(row["guardrail"], "no-cards");
    assert_eq!(row["server"], "beta");
    assert!(!v.to_string().contains("4111"));
}

/// `meshgate.audit_arguments: true`: a call's arguments are in its row (ASCII JSON, long
/// ones cut and marked); the header carrying them never reaches the client.
async fn arguments_are_recorded_only_when_configured(db: Database) {
    let gw = start_with(db, "  audit_arguments: true\n").await;
    let mcp = RawMcp::connect(&gw.url(), MASTER_KEY, json!({})).await;
    let session = mcp.session.clone().expect("a session");
    let headers = [
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];
    let echo = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "alpha-echo", "arguments": {"text": "héllo wörld"}}});
    let resp = send(&gw, Some(MASTER_KEY), "/mcp", &headers, &echo.to_string()).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(resp.text().contains("héllo wörld"), "{}", resp.text());
    assert!(resp
        .header(meshgate_policy::audit::ARGUMENTS_HEADER)
        .is_none());
    let v = rows(&gw, "decision=allowed&server=alpha", 1).await;
    let row = &v["data"][0];
    assert_eq!(row["tool"], "echo");
    assert_eq!(
        row["arguments"], r#"{"text":"h\u00e9llo w\u00f6rld"}"#,
        "{row}"
    );
    let back: Value = serde_json::from_str(row["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(back, json!({"text": "héllo wörld"}));

    let long = "x".repeat(10_000);
    let echo = json!({"jsonrpc": "2.0", "id": 8, "method": "tools/call",
        "params": {"name": "beta-echo", "arguments": {"text": long}}});
    let resp = send(&gw, Some(MASTER_KEY), "/mcp", &headers, &echo.to_string()).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let v = rows(&gw, "decision=allowed&server=beta", 1).await;
    let kept = v["data"][0]["arguments"].as_str().unwrap().to_string();
    assert!(kept.starts_with(r#"{"text":"xxx"#), "{kept}");
    assert!(kept.ends_with("...[truncated, 10011 bytes]"), "{kept}");
    assert!(kept.len() <= meshgate_policy::audit::MAX_ARGUMENTS + 40);
}

/// A tool call over LiteLLM's REST route is recorded like one over `/mcp`: its server,
/// tool and (when configured) arguments, none of the sidecar's notes reaching the client.
#[tokio::test]
async fn a_rest_tool_call_is_recorded_with_its_server_and_tool() {
    let gw = start_with(Database::Sqlite, "  audit_arguments: true\n").await;
    let call = json!({"server_id": "alpha", "name": "add", "arguments": {"a": 2, "b": 3}});
    let resp = send(
        &gw,
        Some(MASTER_KEY),
        "/mcp-rest/tools/call",
        &[("content-type", "application/json")],
        &call.to_string(),
    )
    .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(resp.text().contains('5'), "{}", resp.text());
    assert!(resp.header(meshgate_policy::audit::CALL_HEADER).is_none());
    assert!(resp
        .header(meshgate_policy::audit::ARGUMENTS_HEADER)
        .is_none());
    let v = rows(&gw, "decision=allowed&server=alpha", 1).await;
    let row = &v["data"][0];
    assert_eq!(row["path"], "/mcp-rest/tools/call", "{row}");
    assert_eq!(row["mcp_method"], "tools/call", "{row}");
    assert_eq!(row["tool"], "add", "{row}");
    assert_eq!(row["arguments"], r#"{"a":2,"b":3}"#, "{row}");
}

/// The legacy HTTP+SSE transport answers each POSTed message 202 and the call on the
/// stream: the 202 still names the call (and, when configured, its arguments) for the
/// trail, and the notes never reach the client.
async fn a_legacy_sse_call_is_recorded_with_its_server_and_tool(db: Database) {
    let gw = start_with(db, "  audit_arguments: true\n").await;
    let key = new_key(
        &gw,
        json!({"key_alias": "legacy", "object_permission": {"mcp_servers": ["alpha", "beta"]}}),
    )
    .await;
    let auth = format!("Bearer {key}");
    let (mut stream, endpoint) =
        meshgate_e2e::mcp::legacy_sse(&gw.base(), &[("authorization", auth.as_str())]).await;
    assert!(endpoint.contains("/messages?sessionId="), "{endpoint}");
    let post_message = |body: Value| {
        let (endpoint, auth) = (endpoint.clone(), auth.clone());
        async move {
            let headers = [
                ("authorization", auth.as_str()),
                ("content-type", "application/json"),
            ];
            let resp = request("POST", &endpoint, &headers, &body.to_string())
                .await
                .expect("message POST");
            assert_eq!(resp.status, 202, "{}", resp.text());
            for note in [
                meshgate_policy::audit::CALL_HEADER,
                meshgate_policy::audit::ARGUMENTS_HEADER,
            ] {
                assert!(resp.header(note).is_none(), "{note} reached the client");
            }
        }
    };
    post_message(
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2024-11-05", "capabilities": {},
        "clientInfo": {"name": "legacy-audit", "version": "1"}}}),
    )
    .await;
    assert!(reply_to(&mut stream, 0).await["result"]["protocolVersion"].is_string());
    post_message(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
    post_message(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "alpha-echo", "arguments": {"text": "héllo legacy"}}}))
    .await;
    let reply = reply_to(&mut stream, 1).await;
    assert!(reply.to_string().contains("héllo legacy"), "{reply}");
    // A call of a server this key may use as well, by another tool, to tell rows apart.
    post_message(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "beta-add", "arguments": {"a": 40, "b": 2}}}))
    .await;
    assert!(reply_to(&mut stream, 2).await.to_string().contains("42"));

    let principal = format!("key:{}", hash16(&key));
    let v = rows(&gw, "decision=allowed&server=alpha", 1).await;
    let row = &v["data"][0];
    assert_eq!(row["principal"], principal, "{row}");
    assert_eq!(row["path"], "/messages", "{row}");
    assert_eq!(row["http_status"], 202, "{row}");
    assert_eq!(row["mcp_method"], "tools/call", "{row}");
    assert_eq!(row["tool"], "echo", "{row}");
    assert_eq!(row["arguments"], r#"{"text":"h\u00e9llo legacy"}"#, "{row}");
    let v = rows(&gw, "decision=allowed&server=beta", 1).await;
    let row = &v["data"][0];
    assert_eq!(row["tool"], "add", "{row}");
    assert_eq!(row["arguments"], r#"{"a":40,"b":2}"#, "{row}");
    // The key's other messages name their method and nothing more.
    // (`GET /sse` gets its row when the stream ends.)
    let v = rows(&gw, &format!("key={principal}&decision=allowed"), 4).await;
    let methods: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["mcp_method"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(
        methods,
        [
            "tools/call",
            "tools/call",
            "notifications/initialized",
            "initialize"
        ],
        "{v:#}"
    );
    drop(stream);
}

/// The reply to request `id` on a legacy stream (notifications in between are skipped).
async fn reply_to(stream: &mut meshgate_e2e::mcp::Events, id: i64) -> Value {
    loop {
        let m = stream.next().await.expect("the stream is open");
        if m["id"] == json!(id) {
            return m;
        }
    }
}

/// A JSON-RPC batch (2025-03-26) with `audit_arguments`: its row's arguments are one
/// JSON list of its `tools/call`s (`{"name", "arguments"}` in batch order), cut as one
/// text at the bound. A batch a guardrail blocked in the filter was never run: refused,
/// with no arguments at all (not even the clean element's).
async fn the_calls_of_a_batch_are_recorded_with_their_arguments(db: Database) {
    let gw = start_with(db, "  audit_arguments: true\n").await;
    let key = new_key(
        &gw,
        json!({"key_alias": "batcher", "object_permission": {"mcp_servers": ["alpha"]}}),
    )
    .await;
    let principal = format!("key:{}", hash16(&key));
    let send_batch = |items: Vec<Value>| {
        let (gw, key) = (&gw, key.clone());
        async move {
            let headers = [
                ("mcp-protocol-version", "2025-03-26"),
                ("content-type", "application/json"),
                ("accept", "application/json, text/event-stream"),
            ];
            let body = Value::Array(items).to_string();
            let resp = send(gw, Some(&key), "/mcp", &headers, &body).await;
            assert_eq!(resp.status, 200, "{}", resp.text());
            for note in [
                meshgate_policy::audit::CALL_HEADER,
                meshgate_policy::audit::ARGUMENTS_HEADER,
            ] {
                assert!(resp.header(note).is_none(), "{note} reached the client");
            }
            resp.json()
        }
    };
    let call = |id: i64, name: &str, arguments: Value| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": name, "arguments": arguments}})
    };
    let arguments_of = |row: &Value| -> Value {
        serde_json::from_str(row["arguments"].as_str().unwrap_or_else(|| panic!("{row}")))
            .unwrap_or_else(|e| panic!("{e}: {row}"))
    };

    // Two calls and a ping; the second is to a server the key may not use (the sidecar
    // answers it with an isError, as it does a single call): both are listed, in order.
    let answers = send_batch(vec![
        call(1, "alpha-echo", json!({"text": "é one"})),
        json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}),
        call(3, "beta-add", json!({"a": 1, "b": 2})),
    ])
    .await;
    assert_eq!(answers.as_array().map(Vec::len), Some(3), "{answers}");
    assert!(answers.to_string().contains("é one"), "{answers}");
    let v = rows(&gw, &format!("key={principal}"), 1).await;
    let row = &v["data"][0];
    assert_eq!(row["decision"], "allowed", "{row}");
    assert!(row["arguments"].as_str().unwrap().is_ascii(), "{row}");
    assert_eq!(
        arguments_of(row),
        json!([
            {"name": "alpha-echo", "arguments": {"text": "é one"}},
            {"name": "beta-add", "arguments": {"a": 1, "b": 2}},
        ]),
        "{row}"
    );

    // One element a guardrail blocks in the filter, one clean: the filter answers the
    // whole batch (the clean call is not run), so nothing reaches the sidecar and no
    // argument is recorded.
    let answers = send_batch(vec![
        call(4, "alpha-echo", json!({"text": "4111 1111 1111 1111"})),
        call(5, "alpha-echo", json!({"text": "clean words"})),
    ])
    .await;
    assert!(answers.to_string().contains("not run"), "{answers}");
    let v = rows(&gw, &format!("key={principal}&decision=refused"), 1).await;
    let row = &v["data"][0];
    assert_eq!(row["reason"], "guardrail_blocked", "{row}");
    assert_eq!(row["guardrail"], "no-cards", "{row}");
    assert!(row.get("arguments").is_none(), "{row}");
    assert!(!v.to_string().contains("4111"), "{v}");
    assert!(!v.to_string().contains("clean words"), "{v}");

    // The bound holds for the list as a whole.
    let long = "x".repeat(1500);
    send_batch(vec![
        call(6, "alpha-echo", json!({"text": long})),
        call(7, "alpha-echo", json!({"text": long})),
    ])
    .await;
    let v = rows(&gw, &format!("key={principal}&decision=allowed"), 2).await;
    let kept = v["data"][0]["arguments"].as_str().unwrap().to_string();
    assert!(kept.starts_with("[{"), "{kept}");
    assert!(kept.ends_with(" bytes]"), "{kept}");
    assert!(
        kept.len() <= meshgate_policy::audit::MAX_ARGUMENTS + 40,
        "{}",
        kept.len()
    );
}

async fn the_admin_route_filters_and_pages(db: Database) {
    let gw = start(db).await;
    for i in 0..5 {
        let key = if i < 3 {
            "sk-first-wrong"
        } else {
            "sk-second-wrong"
        };
        assert_eq!(send(&gw, Some(key), "/mcp", &[], PING).await.status, 401);
    }
    let first = format!("unknown:{}", hash16("sk-first-wrong"));
    let v = rows(&gw, &format!("key={first}&page_size=2"), 3).await;
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        (v["page"].clone(), v["total_pages"].clone()),
        (json!(1), json!(2))
    );
    let page2 = audit(&gw, &format!("key={first}&page_size=2&page=2"))
        .await
        .json();
    assert_eq!(page2["data"].as_array().unwrap().len(), 1);
    // Newest first, no row on two pages.
    let ids: Vec<i64> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2["data"].as_array().unwrap())
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    rows(&gw, "reason=invalid_key", 5).await;
    rows(&gw, "reason=invalid_key&decision=allowed", 0).await;
    // Time range: everything is before a day from now and after a day ago.
    let now = now_ms() as i64;
    let day = 86_400_000;
    rows(
        &gw,
        &format!("reason=invalid_key&start_date={}", now - day),
        5,
    )
    .await;
    rows(
        &gw,
        &format!("reason=invalid_key&start_date={}", now + day),
        0,
    )
    .await;
    rows(
        &gw,
        &format!("reason=invalid_key&end_date={}", now - day),
        0,
    )
    .await;
    rows(
        &gw,
        "reason=invalid_key&start_date=2000-01-01&end_date=2999-01-01T00:00:00Z",
        5,
    )
    .await;
    // Hostile and malformed input: a clear 400 naming the parameter.
    for (query, field) in [
        ("page_size=0", "page_size"),
        ("page_size=100000", "page_size"),
        ("page=0", "page"),
        ("page=x", "page"),
        ("decision=maybe", "decision"),
        ("start_date=yesterday", "start_date"),
        ("key=%27%20OR%201%3D1%20--", ""),
    ] {
        let resp = audit(&gw, query).await;
        if field.is_empty() {
            // Bound as a parameter: matches nothing, breaks nothing.
            assert_eq!(resp.status, 200, "{query}");
            assert_eq!(resp.json()["total"], 0, "{query}");
        } else {
            assert_eq!(resp.status, 400, "{query}: {}", resp.text());
            assert!(resp.text().contains(field), "{query}: {}", resp.text());
        }
    }
    // Only the master key reads the trail.
    let key = new_key(&gw, json!({})).await;
    let resp = send(&gw, Some(&key), "/audit/logs", &[], "").await;
    assert_eq!(resp.status, 403, "{}", resp.text());
}

async fn a_forged_access_log_stream_is_refused(db: Database) {
    use envoy_types::pb::envoy::data::accesslog::v3::{HttpAccessLogEntry, HttpRequestProperties};
    use envoy_types::pb::envoy::service::accesslog::v3::access_log_service_client::AccessLogServiceClient;
    use envoy_types::pb::envoy::service::accesslog::v3::stream_access_logs_message::{
        HttpAccessLogEntries, LogEntries,
    };
    use envoy_types::pb::envoy::service::accesslog::v3::StreamAccessLogsMessage;

    let gw = start(db).await;
    let forged = |path: &str| StreamAccessLogsMessage {
        identifier: None,
        log_entries: Some(LogEntries::HttpLogs(HttpAccessLogEntries {
            log_entry: vec![HttpAccessLogEntry {
                request: Some(HttpRequestProperties {
                    path: path.into(),
                    request_id: "forged".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }],
        })),
    };
    let url = format!("http://127.0.0.1:{}", gw.als_port);
    for token in [None, Some("not-the-token-at-all-0000")] {
        let mut client = AccessLogServiceClient::connect(url.clone()).await.unwrap();
        let mut req = tonic::Request::new(futures_util::stream::iter(vec![forged("/forged")]));
        if let Some(t) = token {
            req.metadata_mut()
                .insert("x-meshgate-als-token", t.parse().unwrap());
        }
        let status = client.stream_access_logs(req).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    }
    // The same stream with Envoy's token is taken (so the refusal above is the token's).
    let mut client = AccessLogServiceClient::connect(url).await.unwrap();
    let mut req = tonic::Request::new(futures_util::stream::iter(vec![forged("/with-token")]));
    req.metadata_mut()
        .insert("x-meshgate-als-token", ALS_TOKEN.parse().unwrap());
    client.stream_access_logs(req).await.unwrap();
    let v = rows(&gw, "request_id=forged", 1).await;
    assert_eq!(v["data"][0]["path"], "/with-token");
    assert_eq!(v["data"][0]["decision"], "unrecorded");
}

/// 416 requests from 32 concurrent clients, half refused by the filter (an unknown key),
/// half allowed: every one of them is a row, none twice (request ids are unique).
async fn every_request_of_a_burst_is_in_the_trail(db: Database) {
    let gw = start(db).await;
    let base = gw.base();
    let allowed_key = new_key(&gw, json!({})).await;
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let url = format!("{base}/mcp");
            let good = allowed_key.clone();
            tokio::spawn(async move {
                for i in 0..(400 / 32 + 1) {
                    let key = if i % 2 == 0 {
                        "sk-burst-wrong"
                    } else {
                        good.as_str()
                    };
                    let auth = format!("Bearer {key}");
                    let r = request(
                        "POST",
                        &url,
                        &[("authorization", &auth), ("x-burst", "1")],
                        PING,
                    )
                    .await
                    .unwrap();
                    assert!(r.status == 401 || r.status == 200, "{}", r.status);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let per_client: usize = 400 / 32 + 1;
    let refused = 32 * per_client.div_ceil(2);
    let allowed = 32 * (per_client / 2);
    let unknown = format!("unknown:{}", hash16("sk-burst-wrong"));
    let v = rows(
        &gw,
        &format!("key={unknown}&page_size=1000"),
        refused as i64,
    )
    .await;
    let ids: std::collections::BTreeSet<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), refused, "request ids repeat");
    let v = rows(
        &gw,
        &format!("key=key:{}&page_size=1000", hash16(&allowed_key)),
        allowed as i64,
    )
    .await;
    assert!(v["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["decision"] == "allowed" && r["mcp_method"] == "ping"));
    let m = metrics(&gw).await;
    assert!(
        m["audit_rows_written"].as_u64().unwrap() >= (refused + allowed) as u64,
        "{m}"
    );
    assert_eq!(m["audit_rows_dropped"], 0, "{m}");
    assert!(m["audit_rows_received"].as_u64() >= m["audit_rows_written"].as_u64());
    // The counts are the master key's, as the trail itself.
    let by_key = send(&gw, Some(&allowed_key), "/audit/metrics", &[], "").await;
    assert_eq!(by_key.status, 403, "{}", by_key.text());
    assert!(!by_key.text().contains("audit_rows"), "{}", by_key.text());
    assert_eq!(send(&gw, None, "/audit/metrics", &[], "").await.status, 401);
    let forged = send(
        &gw,
        Some("sk-not-a-key"),
        "/audit/metrics",
        &[("x-meshgate-decision", "v2 forged")],
        "",
    )
    .await;
    assert_eq!(forged.status, 401, "{}", forged.text());
}

/// `GET /audit/metrics` with the master key.
async fn metrics(gw: &Gateway) -> Value {
    let resp = send(gw, Some(MASTER_KEY), "/audit/metrics", &[], "").await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    resp.json()
}

fn psql(sql: &str) {
    let status = std::process::Command::new("psql")
        .args([POSTGRES_URL, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .status()
        .unwrap();
    assert!(status.success(), "{sql}");
}

/// Rows whose batch the database refuses (twice) are lost, and counted in
/// `audit_rows_dropped`; once the database takes rows again, they are written. The
/// table is renamed away under the running sidecar to make PostgreSQL refuse them.
#[tokio::test]
async fn rows_the_database_refuses_are_counted_as_dropped() {
    let gw = start(Database::Postgres).await;
    let schema = gw.pg_schema.clone().unwrap();
    // One row written first: the trail works, and the counters start from it.
    assert_eq!(
        send(&gw, None, "/mcp", &[("x-first", "1")], PING)
            .await
            .status,
        401
    );
    rows(&gw, "reason=authentication_required", 1).await;
    psql(&format!(
        "ALTER TABLE \"{schema}\".audit_log RENAME TO audit_log_away"
    ));
    for _ in 0..5 {
        assert_eq!(send(&gw, None, "/mcp", &[], PING).await.status, 401);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let m = loop {
        let m = metrics(&gw).await;
        if m["audit_rows_dropped"].as_u64().unwrap() >= 5 || Instant::now() > deadline {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(m["audit_rows_dropped"].as_u64().unwrap() >= 5, "{m}");
    let written_before = m["audit_rows_written"].as_u64().unwrap();
    assert!(written_before >= 1, "{m}");
    psql(&format!(
        "ALTER TABLE \"{schema}\".audit_log_away RENAME TO audit_log"
    ));
    assert_eq!(send(&gw, None, "/mcp", &[], PING).await.status, 401);
    rows(&gw, "reason=authentication_required", 2).await;
    let m = metrics(&gw).await;
    assert!(
        m["audit_rows_written"].as_u64().unwrap() > written_before,
        "{m}"
    );
}

/// The shipped Envoy config (what `make run` renders and users copy) streams its access
/// log to the sidecar with the filter's record and the token, over HTTP/2, and routes the
/// admin route to the sidecar; `tests/filter_safety.rs` validates it in real Envoy.
#[test]
fn the_shipped_envoy_config_carries_the_access_log() {
    let text = std::fs::read_to_string(repo_root().join("envoy/envoy.yaml")).unwrap();
    for needle in [
        "envoy.access_loggers.http_grpc",
        "transport_api_version: V3",
        &format!(
            "filter_state_objects_to_log: [{}]",
            meshgate_policy::audit::FILTER_STATE_KEY
        ),
        "{key: x-meshgate-als-token, value: \"@MESHGATE_ALS_TOKEN@\"}",
        "envoy_grpc: {cluster_name: meshgate_als}",
        "explicit_http_config: {http2_protocol_options: {}}",
        "- match: {prefix: \"/audit/\"}",
    ] {
        assert!(text.contains(needle), "envoy/envoy.yaml lacks `{needle}`");
    }
    let run = std::fs::read_to_string(repo_root().join("scripts/run.sh")).unwrap();
    assert!(run.contains("--als-listen") && run.contains("@MESHGATE_ALS_TOKEN@"));
}
