//! Budgets (issue 13) end to end through real Envoy, on SQLite and PostgreSQL: a key,
//! team or organization whose spend reached `max_budget` has its `tools/call`s refused
//! by the filter (LiteLLM's 400 `budget_exceeded`, no hop to the sidecar), other methods
//! pass, and the budget comes back when its `budget_duration` window resets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_e2e::admin::{master, rpc, send};
use meshgate_e2e::http::Resp;
use meshgate_e2e::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const BUDGET_WAIT: Duration = Duration::from_secs(20);

async fn call(gw: &Gateway, key: &str, headers: &[(&str, &str)]) -> Resp {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "web-add", "arguments": {"a": 1, "b": 2}}});
    rpc(gw, key, headers, &body).await
}

fn refused(r: &Resp) -> bool {
    r.status == 400 && r.text().contains("budget_exceeded")
}

/// Calls until the filter refuses (each answered call costs 0.5); returns the refusal
/// and how many calls were answered after the spend had reached the budget.
async fn spend_until_refused(gw: &Gateway, key: &str, max: f64) -> (Resp, usize) {
    let deadline = Instant::now() + BUDGET_WAIT;
    let mut spent = 0.0;
    let mut over = 0;
    loop {
        let r = call(gw, key, &[]).await;
        if refused(&r) {
            return (r, over);
        }
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.json()["result"]["isError"] != true, "{}", r.text());
        if spent >= max {
            over += 1;
        }
        spent += 0.5;
        assert!(Instant::now() < deadline, "never refused; spent {spent}");
    }
}

/// Waits until the `spend` at `pointer` of an info route reaches `at_least`.
async fn await_spend(gw: &Gateway, path: &str, pointer: &str, at_least: f64) {
    let deadline = Instant::now() + BUDGET_WAIT;
    loop {
        let v = master(gw, "GET", path, Value::Null).await;
        if v.pointer(pointer).and_then(Value::as_f64).unwrap_or(0.0) >= at_least {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{path}: spend stayed below {at_least}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn gateway(db: Database) -> (Gateway, Proc) {
    let (gw, web, _) = gateway_with_servers(db).await;
    (gw, web)
}

/// The gateway, its upstream, and its `mcp_servers` YAML (for a second replica).
async fn gateway_with_servers(db: Database) -> (Gateway, Proc, String) {
    let (web, addr) = demo_http("web", &[]).await;
    let servers = format!(
        "  web:\n    url: http://{addr}/mcp\n    transport: http\n    mcp_info:\n      mcp_server_cost_info: {{default_cost_per_query: 0.5}}\n"
    );
    let mut opts = GatewayOptions::new(servers.clone());
    opts.database = db;
    (Gateway::start_with(opts).await, web, servers)
}

async fn new_key(gw: &Gateway, body: Value) -> String {
    let mut body = body;
    body["object_permission"] = json!({"mcp_servers": ["web"]});
    master(gw, "POST", "/key/generate", body).await["key"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn budgets_are_enforced_by_the_filter(db: Database) {
    let (gw, _web) = gateway(db).await;
    let key = new_key(&gw, json!({"max_budget": 1.0})).await;
    let info = send(&gw, &key, "GET", "/key/info", &[], "").await.json();
    assert_eq!(info["info"]["max_budget"], 1.0, "{info}");

    let (refusal, overshoot) = spend_until_refused(&gw, &key, 1.0).await;
    eprintln!("budget overshoot (calls answered after the budget was reached): {overshoot}");
    let body = refusal.json();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Budget has been exceeded! Current cost: ")
            && message.ends_with(", Max budget: 1.0"),
        "{body}"
    );
    assert_eq!(body["error"]["type"], "budget_exceeded");
    assert_eq!(body["error"]["code"], "400");
    assert!(body["error"]["param"].is_null());
    // The filter answered: the sidecar never saw the refused call (no row for it).
    let rows = master(&gw, "GET", "/spend/logs?page_size=1000", Value::Null).await;
    assert!(
        rows["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "ok"),
        "{rows}"
    );

    // Only tool calls are refused: listing still works.
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    assert_eq!(rpc(&gw, &key, &[], &list).await.status, 200);
    // A batch carrying one tool call is refused whole.
    let batch = json!([{"jsonrpc": "2.0", "id": 3, "method": "ping"},
                       {"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                        "params": {"name": "web-add", "arguments": {"a": 1, "b": 1}}}]);
    assert!(refused(
        &rpc(&gw, &key, &[("mcp-protocol-version", "2025-03-26")], &batch).await
    ));
    // A 2026-07-28 client names the method in a header: refused before the body, as a
    // JSON-RPC error.
    let r = call(
        &gw,
        &key,
        &[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "web-add"),
        ],
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let v = r.json();
    assert_eq!(v["error"]["code"], -32600, "{v}");
    assert_eq!(v["error"]["data"]["error"], "budget_exceeded", "{v}");
    // LiteLLM's REST call too.
    let rest = send(
        &gw,
        &key,
        "POST",
        "/mcp-rest/tools/call",
        &[],
        &json!({"name": "web-add", "arguments": {"a": 1, "b": 2}}).to_string(),
    )
    .await;
    assert!(refused(&rest), "{}", rest.text());

    // Raising the budget lifts the refusal.
    let info = send(&gw, &key, "GET", "/key/info", &[], "").await.json();
    let token = info["key"].as_str().unwrap().to_string();
    master(
        &gw,
        "POST",
        "/key/update",
        json!({"key": token, "max_budget": 1.0e9}),
    )
    .await;
    let deadline = Instant::now() + BUDGET_WAIT;
    while call(&gw, &key, &[]).await.status != 200 {
        assert!(
            Instant::now() < deadline,
            "the raised budget was never applied"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A team's budget holds for its keys; an organization's for its teams' keys.
    master(
        &gw,
        "POST",
        "/organization/new",
        json!({"organization_id": "o1", "organization_alias": "O1", "max_budget": 0.5}),
    )
    .await;
    master(
        &gw,
        "POST",
        "/team/new",
        json!({"team_id": "t1", "max_budget": 0.5}),
    )
    .await;
    master(
        &gw,
        "POST",
        "/team/new",
        json!({"team_id": "t2", "organization_id": "o1"}),
    )
    .await;
    let in_team = new_key(&gw, json!({"team_id": "t1"})).await;
    let (r, _) = spend_until_refused(&gw, &in_team, 0.5).await;
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Team=t1"),
        "{}",
        r.text()
    );
    let in_org = new_key(&gw, json!({"team_id": "t2", "organization_id": "o1"})).await;
    let (r, _) = spend_until_refused(&gw, &in_org, 0.5).await;
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Organization=o1"),
        "{}",
        r.text()
    );
    // Rows reach the store within the writer's batch time: the totals follow.
    await_spend(&gw, "/team/info?team_id=t1", "/team_info/spend", 0.5).await;
    await_spend(&gw, "/organization/info?organization_id=o1", "/spend", 0.5).await;

    // Bad budgets name the field.
    let bad = send(
        &gw,
        MASTER_KEY,
        "POST",
        "/key/generate",
        &[],
        r#"{"max_budget": -1}"#,
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.text().contains("max_budget"), "{}", bad.text());
    let bad = send(
        &gw,
        MASTER_KEY,
        "POST",
        "/team/new",
        &[],
        r#"{"budget_duration": "soon"}"#,
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.text().contains("budget_duration"), "{}", bad.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn budgets_are_enforced_by_the_filter_sqlite() {
    budgets_are_enforced_by_the_filter(Database::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn budgets_are_enforced_by_the_filter_postgres() {
    budgets_are_enforced_by_the_filter(Database::Postgres).await;
}

/// A `budget_duration` window: used up, refused, then — at `budget_reset_at` — spend
/// back to 0, calls answered again and the reset time moved on.
async fn budgets_reset_at_the_window(db: Database) {
    let (gw, _web) = gateway(db).await;
    let key = new_key(&gw, json!({"max_budget": 0.5, "budget_duration": "2s"})).await;
    let before = send(&gw, &key, "GET", "/key/info", &[], "").await.json();
    let reset_at = before["info"]["budget_reset_at"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(before["info"]["budget_duration"], "2s");
    spend_until_refused(&gw, &key, 0.5).await;
    let deadline = Instant::now() + BUDGET_WAIT;
    loop {
        let r = call(&gw, &key, &[]).await;
        if r.status == 200 {
            break;
        }
        assert!(refused(&r), "{}", r.text());
        assert!(Instant::now() < deadline, "the window never reset");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = send(&gw, &key, "GET", "/key/info", &[], "").await.json();
    let moved = after["info"]["budget_reset_at"].as_str().unwrap();
    assert!(moved > reset_at.as_str(), "{reset_at} → {moved}");
    // The window's spend starts again from 0: what this window's one call cost, or
    // nothing if the window moved on again since.
    assert!(after["info"]["spend"].as_f64().unwrap() <= 0.5, "{after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn budgets_reset_at_the_window_sqlite() {
    budgets_reset_at_the_window(Database::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn budgets_reset_at_the_window_postgres() {
    budgets_reset_at_the_window(Database::Postgres).await;
}

/// Two sidecars (each behind its own Envoy) on one PostgreSQL, one key calling through
/// both at once: both refuse once the shared spend reaches the budget, and the spend
/// past the budget (the overshoot) is what the calls within about one budget poll cost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_budget_holds_across_two_replicas_on_postgres() {
    let (gw, _web, servers) = gateway_with_servers(Database::Postgres).await;
    let max = 10.0;
    let key = new_key(&gw, json!({"max_budget": max})).await;

    // Replica B: a second sidecar on the same schema, and an Envoy of its own.
    let dir = TempDir::new("replica-b");
    let config = dir.0.join("replica.yaml");
    let doc = gateway_document(&GatewayOptions::new(servers));
    std::fs::write(&config, &doc).unwrap();
    let sidecar_port = free_port();
    let _sidecar_b = start_replica_sharing(sidecar_port, &dir.0, gw.pg_schema.as_deref(), &config);
    wait_for_port(sidecar_port, Duration::from_secs(20)).await;
    let (port, admin_port) = (free_port(), free_port());
    let envoy_file = dir.0.join("envoy.yaml");
    std::fs::write(
        &envoy_file,
        envoy_config(port, admin_port, sidecar_port, &doc),
    )
    .unwrap();
    let _envoy_b = start_envoy(&envoy_file, 1, &dir.0.join("envoy.log"));
    let b_url = format!("http://127.0.0.1:{port}/mcp");
    // B serves the key once it has polled the store (tools/list costs nothing).
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let deadline = Instant::now() + BUDGET_WAIT;
    loop {
        let r = meshgate_e2e::http::post(
            &b_url,
            &[("authorization", &format!("Bearer {key}"))],
            &list.to_string(),
        )
        .await;
        if r.as_ref().is_ok_and(|r| r.status == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "replica B never served the key");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "web-add", "arguments": {"a": 1, "b": 2}}})
    .to_string();
    let auth = format!("Bearer {key}");
    let run = |url: String| {
        let (body, auth) = (body.clone(), auth.clone());
        async move {
            let deadline = Instant::now() + BUDGET_WAIT;
            let mut answered = 0u32;
            loop {
                let r = meshgate_e2e::http::post(&url, &[("authorization", &auth)], &body)
                    .await
                    .unwrap();
                if refused(&r) {
                    return answered;
                }
                assert_eq!(r.status, 200, "{}", r.text());
                answered += 1;
                assert!(Instant::now() < deadline, "never refused");
            }
        }
    };
    let (a, b) = tokio::join!(run(gw.url()), run(b_url));
    // Let both writers store what they hold, then read the shared spend.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let info = send(&gw, &key, "GET", "/key/info", &[], "").await.json();
    let spend = info["info"]["spend"].as_f64().unwrap();
    eprintln!(
        "two replicas: {a} + {b} calls answered, spend {spend} for a budget of {max} (overshoot {:.1} = {} calls)",
        spend - max,
        ((spend - max) / 0.5).round()
    );
    assert!(
        (spend - 0.5 * f64::from(a + b)).abs() < 1e-9,
        "every answered call is charged once"
    );
    assert!(spend >= max);
}
