//! Read-your-writes through Envoy: an admin write answers only once every filter VM
//! (several workers here) holds the change, so a new key works, and a blocked, updated or
//! deleted key is refused, on the very next request — no sleeps, no polling. On SQLite and
//! PostgreSQL. And two Envoys with different documents at one sidecar: a clear refusal,
//! not flapping.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_e2e::http::{request, Resp};
use meshgate_e2e::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Worker threads, so several filter VMs must each acknowledge every change.
const WORKERS: u32 = 3;
const ROUNDS: usize = 15;

async fn send(gw: &Gateway, key: &str, path: &str, body: &str) -> Resp {
    let auth = format!("Bearer {key}");
    request(
        "POST",
        &format!("{}{path}", gw.base()),
        &[("authorization", &auth)],
        body,
    )
    .await
    .unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

async fn admin(gw: &Gateway, path: &str, body: Value) -> Value {
    let resp = send(gw, MASTER_KEY, path, &body.to_string()).await;
    assert_eq!(resp.status, 200, "{path}: {}", resp.text());
    resp.json()
}

/// (status, error code) of a ping with `key`.
async fn ping(gw: &Gateway, key: &str) -> (u16, String) {
    let r = send(
        gw,
        key,
        "/mcp",
        r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
    )
    .await;
    let code = if r.status == 200 {
        String::new()
    } else {
        r.json()["error"].as_str().unwrap_or_default().to_string()
    };
    (r.status, code)
}

/// Several pings, so requests land on different workers (Envoy spreads connections).
async fn pings(gw: &Gateway, key: &str) -> Vec<(u16, String)> {
    let mut all = Vec::new();
    for _ in 0..WORKERS * 2 {
        all.push(ping(gw, key).await);
    }
    all
}

fn all_are(results: &[(u16, String)], status: u16, code: &str) -> bool {
    results.iter().all(|(s, c)| *s == status && c == code)
}

async fn key_changes_are_enforced_when_the_write_returns(db: Database) {
    let gw = Gateway::start_with(GatewayOptions {
        database: db.clone(),
        concurrency: WORKERS,
        ..GatewayOptions::new(demo_stdio_yaml("demo", ""))
    })
    .await;
    let mut write_ms = Vec::new();
    for round in 0..ROUNDS {
        let started = Instant::now();
        let created = admin(
            &gw,
            "/key/generate",
            json!({"key_alias": format!("k{round}")}),
        )
        .await;
        write_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        let key = created["key"].as_str().expect("key").to_string();
        let r = pings(&gw, &key).await;
        assert!(
            all_are(&r, 200, ""),
            "round {round}: new key refused: {r:?}"
        );

        admin(&gw, "/key/block", json!({"key": key})).await;
        let r = pings(&gw, &key).await;
        assert!(
            all_are(&r, 401, "key_blocked"),
            "round {round}: blocked key: {r:?}"
        );

        admin(&gw, "/key/unblock", json!({"key": key})).await;
        let r = pings(&gw, &key).await;
        assert!(all_are(&r, 200, ""), "round {round}: unblocked key: {r:?}");

        admin(&gw, "/key/update", json!({"key": key, "blocked": true})).await;
        let r = pings(&gw, &key).await;
        assert!(
            all_are(&r, 401, "key_blocked"),
            "round {round}: updated key: {r:?}"
        );

        admin(&gw, "/key/delete", json!({"keys": [key]})).await;
        let r = pings(&gw, &key).await;
        assert!(
            all_are(&r, 401, "invalid_key"),
            "round {round}: deleted key: {r:?}"
        );
    }
    // A team block reaches its keys at once too.
    let team = admin(&gw, "/team/new", json!({"team_alias": "t"})).await["team_id"]
        .as_str()
        .expect("team_id")
        .to_string();
    let member = admin(&gw, "/key/generate", json!({"team_id": team})).await["key"]
        .as_str()
        .expect("key")
        .to_string();
    assert!(all_are(&pings(&gw, &member).await, 200, ""));
    admin(&gw, "/team/block", json!({"team_id": team})).await;
    let r = pings(&gw, &member).await;
    assert!(all_are(&r, 401, "key_blocked"), "team blocked: {r:?}");
    write_ms.sort_by(f64::total_cmp);
    eprintln!(
        "{db:?}: /key/generate with {WORKERS} filter VMs acknowledging: median {:.1} ms, max {:.1} ms",
        write_ms[write_ms.len() / 2],
        write_ms[write_ms.len() - 1]
    );
}

#[tokio::test]
async fn sqlite_key_changes_are_enforced_when_the_write_returns() {
    key_changes_are_enforced_when_the_write_returns(Database::Sqlite).await
}

#[tokio::test]
async fn postgres_key_changes_are_enforced_when_the_write_returns() {
    key_changes_are_enforced_when_the_write_returns(Database::Postgres).await
}

/// A second Envoy whose document differs syncs with the same sidecar: it is refused (409,
/// logged) and never serves, while the first keeps its configuration — no flapping.
#[tokio::test]
async fn a_second_document_at_one_sidecar_is_refused_not_flapped() {
    let gw = Gateway::start(demo_stdio_yaml("first", "")).await;
    let other = gateway_document(&GatewayOptions::new(demo_stdio_yaml("second", "")));
    let (port, admin_port) = (free_port(), free_port());
    let file = gw.dir.0.join("envoy-2.yaml");
    std::fs::write(
        &file,
        envoy_config(port, admin_port, gw.sidecar_port, &other),
    )
    .unwrap();
    let log = gw.dir.0.join("envoy-2.log");
    let _second = start_envoy(&file, 1, &log);

    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("conflicting_document")
    {
        assert!(
            Instant::now() < deadline,
            "no conflict reported: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let auth = format!("Bearer {MASTER_KEY}");
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let second = request(
        "POST",
        &format!("http://127.0.0.1:{port}/mcp"),
        &[("authorization", &auth)],
        list,
    )
    .await
    .unwrap();
    assert_eq!(second.status, 503, "{}", second.text());
    let first = send(&gw, MASTER_KEY, "/mcp", list).await;
    assert_eq!(first.status, 200, "{}", first.text());
    assert!(first.text().contains("first-"), "{}", first.text());
    assert!(!first.text().contains("second-"), "{}", first.text());
}

/// A restarted sidecar has no document: the filter's light sync is answered 428, the
/// filter sends its document, and the gateway serves its servers again.
#[tokio::test]
async fn a_restarted_sidecar_gets_the_document_again() {
    let mut gw = Gateway::start(demo_stdio_yaml("demo", "")).await;
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    assert!(send(&gw, MASTER_KEY, "/mcp", list)
        .await
        .text()
        .contains("demo-"));
    let _ = gw.sidecar.child.kill().await;
    gw.sidecar = start_sidecar(gw.sidecar_port, &gw.dir.0);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = request(
            "POST",
            &gw.url(),
            &[("authorization", &format!("Bearer {MASTER_KEY}"))],
            list,
        )
        .await;
        if r.as_ref()
            .is_ok_and(|r| r.status == 200 && r.text().contains("demo-"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the restarted sidecar never got the document: {:?}",
            r.map(|r| r.text())
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
