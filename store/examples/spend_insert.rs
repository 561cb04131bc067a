//! Spend rows stored per second on SQLite (`Store::insert_spend`, batches of 256), in a
//! loop: for profiling the write path (`perf record`). The spend bench
//! (`meshgate-bench-spend`) reports the same rate beside the end-to-end rows.
//!
//! `cargo run --release -p meshgate-store --example spend_insert [seconds]`; ids are random
//! like v4 UUIDs unless `ORDERED_IDS=1` (time-ordered, like the sidecar's v7 ones);
//! `SPEND_PG=postgres://…` runs it on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::Utc;
use meshgate_store::{SpendRow, Store};
use std::time::{Duration, Instant};

fn row(n: u64) -> SpendRow {
    let now = Utc::now();
    SpendRow {
        request_id: if std::env::var("ORDERED_IDS").is_ok() {
            format!("{n:016x}{}", uuid_like(n))
        } else {
            format!("{}{n:016x}", uuid_like(n))
        },
        call_type: "call_mcp_tool".into(),
        api_key: "0".repeat(64),
        key_alias: Some("bench".into()),
        team_id: Some("team".into()),
        organization_id: None,
        user_id: None,
        end_user: None,
        model: "MCP: web-add".into(),
        mcp_server: Some("web".into()),
        mcp_tool: Some("add".into()),
        spend: 0.01,
        status: "ok".into(),
        start_time: now,
        end_time: now,
        latency_ms: 1,
        upstream_protocol: Some("http".into()),
        prompt_tokens: 0,
        completion_tokens: 0,
        total_tokens: 0,
    }
}

/// Request ids are random in the gateway: so are these.
fn uuid_like(n: u64) -> String {
    format!("{:016x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

#[tokio::main]
async fn main() {
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let dir = std::env::temp_dir().join(format!("spend-insert-{}", std::process::id()));
    // `SPEND_PG=postgres://…`: the same on PostgreSQL, in a schema of its own.
    let pg = std::env::var("SPEND_PG").ok();
    let schema = format!("spend_insert_{}", std::process::id());
    let store = match &pg {
        Some(url) => Store::open_with(
            url,
            meshgate_store::OpenOptions {
                schema: Some(schema.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap(),
        None => Store::open(dir.to_str().unwrap()).await.unwrap(),
    };
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(secs) {
        let rows: Vec<SpendRow> = (0..256).map(|i| row(n + i)).collect();
        n += store.insert_spend(&rows).await.unwrap();
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    println!("{n} rows, {rate:.0} rows/s, {:.1} µs per row", 1e6 / rate);
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(url) = pg {
        store.close().await;
        let _ = std::process::Command::new("psql")
            .env("PGOPTIONS", "-c client_min_messages=warning")
            .args([
                &url,
                "-q",
                "-c",
                &format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
            ])
            .status();
    }
}
