//! Spend (issue 13) end to end through real Envoy, on SQLite and PostgreSQL: LiteLLM's
//! cost config on file and database servers, one row per `tools/call` and per
//! aggregated `tools/list`, spend on keys / teams / organizations, `/spend/logs`
//! filters and pages, `/spend/summary`, and no row lost on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_e2e::admin::{await_spend_rows, call_tool, master, rpc, send, spend_logs};
use meshgate_e2e::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

type Headers<'a> = &'a [(&'a str, &'a str)];

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn row_for<'a>(rows: &'a [Value], model: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["model"] == model)
        .unwrap_or_else(|| panic!("no row for {model} in {rows:?}"))
}

async fn costs_rows_and_totals(db: Database) {
    let (_web, web_addr) = demo_http("web", &[]).await;
    let (_dyn, dyn_addr) = demo_http("dyn", &[]).await;
    let servers = format!(
        "  web:\n    url: http://{web_addr}/mcp\n    transport: http\n    mcp_info:\n      mcp_server_cost_info:\n        default_cost_per_query: 0.01\n        tool_name_to_cost_per_query: {{add: 0.5}}\n"
    );
    let mut opts = GatewayOptions::new(servers);
    opts.database = db.clone();
    let gw = Gateway::start_with(opts).await;

    // A database server with its own costs: accepted and returned by /v1/mcp/server.
    let created = master(
        &gw,
        "POST",
        "/v1/mcp/server",
        json!({"server_name": "dyn", "url": format!("http://{dyn_addr}/mcp"), "transport": "http",
               "mcp_info": {"mcp_server_cost_info": {"default_cost_per_query": 0.2,
                                                     "tool_name_to_cost_per_query": {"echo": 1.25}}}}),
    )
    .await;
    let id = created["server_id"].as_str().unwrap().to_string();
    let got = master(&gw, "GET", &format!("/v1/mcp/server/{id}"), Value::Null).await;
    assert_eq!(
        got["mcp_info"]["mcp_server_cost_info"],
        json!({"default_cost_per_query": 0.2, "tool_name_to_cost_per_query": {"echo": 1.25}}),
        "{got}"
    );
    // A negative cost is refused, naming the field.
    let bad = send(
        &gw,
        MASTER_KEY,
        "POST",
        "/v1/mcp/server",
        &[],
        &json!({"server_name": "neg", "url": format!("http://{dyn_addr}/mcp"), "transport": "http",
                "mcp_info": {"mcp_server_cost_info": {"default_cost_per_query": -1}}})
        .to_string(),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(
        bad.text().contains("default_cost_per_query"),
        "{}",
        bad.text()
    );

    master(
        &gw,
        "POST",
        "/organization/new",
        json!({"organization_id": "org1", "organization_alias": "Org One"}),
    )
    .await;
    master(
        &gw,
        "POST",
        "/team/new",
        json!({"team_id": "team1", "organization_id": "org1"}),
    )
    .await;
    let generated = master(
        &gw,
        "POST",
        "/key/generate",
        json!({"key_alias": "agent-a", "team_id": "team1", "organization_id": "org1", "user_id": "u1",
               "object_permission": {"mcp_servers": ["web", "dyn"]}}),
    )
    .await;
    let key = generated["key"].as_str().unwrap().to_string();
    let other = master(
        &gw,
        "POST",
        "/key/generate",
        json!({"key_alias": "agent-b", "object_permission": {"mcp_servers": ["web"]}}),
    )
    .await;
    let other_key = other["key"].as_str().unwrap().to_string();
    let hash = sha256_hex(&key);

    let alice = [("x-litellm-end-user-id", "alice")];
    let calls: [(&str, Value, Headers); 6] = [
        ("web-add", json!({"a": 1, "b": 2}), &alice),
        ("web-echo", json!({"text": "hi"}), &[]),
        ("web-fail", json!({}), &[]),
        ("dyn-echo", json!({"text": "hi"}), &alice),
        ("dyn-add", json!({"a": 1, "b": 2}), &[]),
        ("web-nope", json!({}), &[]),
    ];
    for (name, args, headers) in calls {
        let v = call_tool(&gw, &key, headers, name, args).await;
        assert!(v.get("result").is_some(), "{name}: {v}");
    }
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    assert_eq!(rpc(&gw, &key, &[], &list).await.status, 200);
    call_tool(&gw, &other_key, &[], "web-add", json!({"a": 1, "b": 1})).await;
    // LiteLLM's REST tool call is a tool call too: charged as on MCP.
    let rest = send(
        &gw,
        &other_key,
        "POST",
        "/mcp-rest/tools/call",
        &[],
        &json!({"server_id": "web", "name": "add", "arguments": {"a": 1, "b": 1}}).to_string(),
    )
    .await;
    assert_eq!(rest.status, 200, "{}", rest.text());

    let v = await_spend_rows(&gw, &format!("api_key={hash}"), 7).await;
    let rows = v["data"].as_array().unwrap();
    let expect = [
        ("MCP: web-add", "ok", 0.5, Some("web"), Some("add")),
        ("MCP: web-echo", "ok", 0.01, Some("web"), Some("echo")),
        // isError is an answer of the tool: charged, as LiteLLM's success handler does.
        ("MCP: web-fail", "is_error", 0.01, Some("web"), Some("fail")),
        ("MCP: dyn-echo", "ok", 1.25, Some("dyn"), Some("echo")),
        ("MCP: dyn-add", "ok", 0.2, Some("dyn"), Some("add")),
        // Refused by the gateway: never reached a tool, costs nothing.
        ("MCP: web-nope", "refused", 0.0, Some("web"), Some("nope")),
        ("MCP: list_tools", "ok", 0.0, None, None),
    ];
    for (model, status, cost, server, tool) in expect {
        let r = row_for(rows, model);
        assert_eq!(r["status"], status, "{r}");
        assert!(close(r["spend"].as_f64().unwrap(), cost), "{r}");
        assert_eq!(r["api_key"], hash.as_str());
        assert_eq!(r["key_alias"], "agent-a");
        assert_eq!(r["team_id"], "team1");
        assert_eq!(r["organization_id"], "org1");
        assert_eq!(r["user_id"], "u1");
        let call_type = if tool.is_some() {
            "call_mcp_tool"
        } else {
            "list_mcp_tools"
        };
        assert_eq!(r["call_type"], call_type, "{r}");
        if status != "refused" {
            assert_eq!(r["mcp_server"].as_str(), server, "{r}");
            assert_eq!(r["mcp_tool"].as_str(), tool, "{r}");
        }
        if tool.is_some() && status != "refused" {
            assert_eq!(r["upstream_protocol"], "http", "{r}");
        }
        assert!(r["latency_ms"].as_i64().unwrap() >= 0);
        assert_eq!(r["request_id"].as_str().unwrap().len(), 36, "a UUID: {r}");
    }
    assert_eq!(row_for(rows, "MCP: web-add")["end_user"], "alice");
    assert!(row_for(rows, "MCP: web-echo")["end_user"].is_null());
    // The key itself is never stored: only its hash.
    assert!(!String::from_utf8_lossy(&gw.database_bytes()).contains(&key));

    let total = 0.5 + 0.01 + 0.01 + 1.25 + 0.2;
    let info = master(&gw, "GET", &format!("/key/info?key={hash}"), Value::Null).await;
    assert!(
        close(info["info"]["spend"].as_f64().unwrap(), total),
        "{info}"
    );
    let team = master(&gw, "GET", "/team/info?team_id=team1", Value::Null).await;
    assert!(
        close(team["team_info"]["spend"].as_f64().unwrap(), total),
        "{team}"
    );
    let org = master(
        &gw,
        "GET",
        "/organization/info?organization_id=org1",
        Value::Null,
    )
    .await;
    assert!(close(org["spend"].as_f64().unwrap(), total), "{org}");
    // A key reads its own spend, not another's.
    let own = send(&gw, &key, "GET", "/key/info", &[], "").await;
    assert!(
        close(own.json()["info"]["spend"].as_f64().unwrap(), total),
        "{}",
        own.text()
    );

    // Filters and pages.
    await_spend_rows(&gw, "", 9).await;
    let v = await_spend_rows(&gw, "team_id=team1&end_user=alice", 2).await;
    assert!(v["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["end_user"] == "alice"));
    let theirs = await_spend_rows(&gw, &format!("api_key={}", sha256_hex(&other_key)), 2).await;
    assert!(
        theirs["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["model"] == "MCP: web-add"
                && r["status"] == "ok"
                && close(r["spend"].as_f64().unwrap(), 0.5)),
        "{theirs}"
    );
    await_spend_rows(&gw, &format!("api_key={other_key}"), 2).await;
    await_spend_rows(&gw, "user_id=u1", 7).await;
    await_spend_rows(&gw, "start_date=2000-01-01&end_date=2000-12-31", 0).await;
    await_spend_rows(&gw, "start_date=2000-01-01", 9).await;
    let p1 = spend_logs(&gw, "page_size=3&page=1").await;
    let p3 = spend_logs(&gw, "page_size=3&page=3").await;
    assert_eq!(
        (
            p1["total_pages"].as_u64(),
            p1["data"].as_array().unwrap().len()
        ),
        (Some(3), 3)
    );
    assert_eq!(p3["data"].as_array().unwrap().len(), 3);
    let bad = send(
        &gw,
        MASTER_KEY,
        "GET",
        "/spend/logs?start_date=yesterday",
        &[],
        "",
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.text().contains("start_date"));
    let bad = send(&gw, MASTER_KEY, "GET", "/spend/logs?page_size=0", &[], "").await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    // A virtual key sees its own rows only, and may not ask for another key's.
    let mine = send(&gw, &other_key, "GET", "/spend/logs", &[], "").await;
    assert_eq!(mine.json()["total"], 2, "{}", mine.text());
    let theirs = send(
        &gw,
        &other_key,
        "GET",
        &format!("/spend/logs?api_key={hash}"),
        &[],
        "",
    )
    .await;
    assert_eq!(theirs.status, 403, "{}", theirs.text());

    // Per server and tool.
    let s = master(
        &gw,
        "GET",
        &format!("/spend/summary?api_key={hash}"),
        Value::Null,
    )
    .await;
    assert!(close(s["total_spend"].as_f64().unwrap(), total), "{s}");
    assert_eq!(s["total_calls"], 7);
    let by_server = s["by_server"].as_array().unwrap();
    let dyn_total = by_server.iter().find(|g| g["mcp_server"] == "dyn").unwrap();
    assert!(close(dyn_total["spend"].as_f64().unwrap(), 1.45), "{s}");
    assert_eq!(by_server[0]["mcp_server"], "dyn", "costliest first: {s}");
    let web_add = s["by_tool"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["mcp_server"] == "web" && g["mcp_tool"] == "add")
        .unwrap();
    assert_eq!(web_add["calls"], 1);

    let m = master(&gw, "GET", "/spend/metrics", Value::Null).await;
    assert_eq!(m["spend_rows_written"], 9, "{m}");
    assert_eq!(m["spend_rows_dropped"], 0, "{m}");
    let denied = send(&gw, &key, "GET", "/spend/metrics", &[], "").await;
    assert_eq!(denied.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn costs_rows_and_totals_sqlite() {
    costs_rows_and_totals(Database::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn costs_rows_and_totals_postgres() {
    costs_rows_and_totals(Database::Postgres).await;
}

/// `meshgate.spend_logs: false` writes no rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn spend_logs_can_be_turned_off() {
    let (_web, web_addr) = demo_http("web", &[]).await;
    let mut opts = GatewayOptions::new(format!(
        "  web:\n    url: http://{web_addr}/mcp\n    transport: http\n"
    ));
    opts.meshgate_yaml = "  spend_logs: false\n".into();
    let gw = Gateway::start_with(opts).await;
    call_tool(&gw, MASTER_KEY, &[], "web-add", json!({"a": 1, "b": 2})).await;
    let m = master(&gw, "GET", "/spend/metrics", Value::Null).await;
    assert_eq!(m["spend_rows_recorded"], 0, "{m}");
    assert_eq!(spend_logs(&gw, "").await["total"], 0);
}

/// N calls answered, SIGTERM right after the last answer: N rows in the database.
async fn no_row_lost_on_sigterm(db: Database) {
    const N: usize = 300;
    let (_web, web_addr) = demo_http("web", &[]).await;
    let mut opts = GatewayOptions::new(format!(
        "  web:\n    url: http://{web_addr}/mcp\n    transport: http\n"
    ));
    opts.database = db.clone();
    // The writer gathers rows for 60 s: every row is still queued at SIGTERM, so only
    // the shutdown flush can store them.
    opts.sidecar_env = vec![("MESHGATE_SPEND_BATCH_MS".into(), "60000".into())];
    let mut gw = Gateway::start_with(opts).await;
    let gw_ref = &gw;
    let answered = futures_util::future::join_all((0..16).map(|c| async move {
        let mut ok = 0;
        for i in (c..N).step_by(16) {
            let v = call_tool(gw_ref, MASTER_KEY, &[], "web-add", json!({"a": i, "b": 1})).await;
            ok += usize::from(v.get("result").is_some());
        }
        ok
    }))
    .await
    .into_iter()
    .sum::<usize>();
    assert_eq!(answered, N);
    let pid = gw.sidecar.pid();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), gw.sidecar.child.wait())
        .await
        .expect("the sidecar exits after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");

    let store = match &gw.pg_schema {
        Some(schema) => {
            meshgate_store::Store::open_with(
                POSTGRES_URL,
                meshgate_store::OpenOptions {
                    schema: Some(schema.clone()),
                    ..Default::default()
                },
            )
            .await
        }
        None => meshgate_store::Store::open(gw.dir.0.join("data").to_str().unwrap()).await,
    }
    .unwrap();
    let (_, total) = store
        .spend_logs(&meshgate_store::SpendFilter::default(), 1, 1)
        .await
        .unwrap();
    // Every call's row, plus none for anything else (no tools/list was sent).
    assert_eq!(total, N as i64);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_row_lost_on_sigterm_sqlite() {
    no_row_lost_on_sigterm(Database::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_row_lost_on_sigterm_postgres() {
    no_row_lost_on_sigterm(Database::Postgres).await;
}
