//! `make bench`: the cost of spend rows. (1) `tools/call` through Envoy + meshgate with
//! spend logs off and on, on SQLite and on PostgreSQL (each "on" compared with "off" on
//! the same database: the audit trail writes there too), four gateways to the same
//! upstream measured in alternation in one run, with the writer's counters after each
//! row (every answered call's row written, none dropped). (2) Spend rows written per
//! second by the store's batch insert (what the sidecar's writer calls), SQLite and
//! PostgreSQL, at the writer's largest batch and one row per transaction. Writes the
//! `bench:spend` section of docs/benchmarks.md.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use chrono::Utc;
use meshgate_e2e::admin::master;
use meshgate_e2e::load::*;
use meshgate_e2e::*;
use meshgate_store::{OpenOptions, SpendRow, Store, MAX_SPEND_BATCH};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const CLIENTS: usize = 16;
fn rounds() -> usize {
    std::env::var("SPEND_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4)
}
const INSERT_FOR: Duration = Duration::from_secs(3);

async fn gateway(addr: &str, spend_logs: bool, database: Database) -> Gateway {
    let mut opts = GatewayOptions::new(format!(
        "  web:\n    url: http://{addr}/mcp\n    transport: http\n    mcp_info:\n      mcp_server_cost_info: {{default_cost_per_query: 0.01}}\n"
    ));
    opts.database = database;
    if !spend_logs {
        opts.meshgate_yaml = "  spend_logs: false\n".into();
    }
    Gateway::start_with(opts).await
}

async fn target(label: &'static str, gw: &Gateway) -> Target {
    session_target(
        label,
        gw,
        Bytes::from(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                   "params": {"name": "web-add", "arguments": {"a": 1, "b": 2}}})
            .to_string(),
        ),
        "3",
    )
    .await
}

fn row(i: u64) -> SpendRow {
    let now = Utc::now();
    SpendRow {
        request_id: format!("bench-{i:016x}-{}", now.timestamp_nanos_opt().unwrap_or(0)),
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

/// Rows per second `insert_spend` stores in batches of `batch` for [`INSERT_FOR`].
async fn insert_rate(store: &Store, batch: usize) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < INSERT_FOR {
        let rows: Vec<SpendRow> = (0..batch as u64).map(|i| row(n + i)).collect();
        n += store.insert_spend(&rows).await.unwrap();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

async fn counters(gw: &Gateway) -> Value {
    // The writer gathers for up to 100 ms: let it store the last rows first.
    tokio::time::sleep(Duration::from_millis(400)).await;
    master(gw, "GET", "/spend/metrics", Value::Null).await
}

#[tokio::main]
async fn main() {
    let (_upstream, addr) = demo_http("bench_spend", &[]).await;
    let off = gateway(&addr, false, Database::Sqlite).await;
    let on = gateway(&addr, true, Database::Sqlite).await;
    let off_pg = gateway(&addr, false, Database::Postgres).await;
    let on_pg = gateway(&addr, true, Database::Postgres).await;
    let gateways = [&off, &on, &off_pg, &on_pg];
    let targets = [
        target("spend logs off (SQLite)", &off).await,
        target("spend logs on (SQLite)", &on).await,
        target("spend logs off (PostgreSQL)", &off_pg).await,
        target("spend logs on (PostgreSQL)", &on_pg).await,
    ];
    for t in &targets {
        let (ok, text) = one_call(t).await;
        assert!(
            ok && text.contains(t.expect),
            "{} answered: {text}",
            t.label
        );
    }
    let mut rows = Vec::new();
    for _ in 0..rounds() {
        for (t, gw) in targets.iter().zip(gateways) {
            let (r, cpu) = measure_with_cpu(t, CLIENTS, [&gw.envoy, &gw.sidecar]).await;
            let c = counters(gw).await;
            rows.push((r, c, cpu));
        }
    }

    let dir = TempDir::new("bench-spend");
    let sqlite = Store::open(dir.0.to_str().unwrap()).await.unwrap();
    let schema = format!("bench_spend_{}", std::process::id());
    let pg = Store::open_with(
        POSTGRES_URL,
        OpenOptions {
            schema: Some(schema.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut inserts = Vec::new();
    for (name, store) in [("SQLite", &sqlite), ("PostgreSQL", &pg)] {
        for batch in [MAX_SPEND_BATCH, 1] {
            let rate = insert_rate(store, batch).await;
            eprintln!("{name} batch {batch}: {rate:.0} rows/s");
            inserts.push((name, batch, rate));
        }
    }
    pg.close().await;
    let _ = std::process::Command::new("psql")
        .args([
            POSTGRES_URL,
            "-q",
            "-c",
            &format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
        ])
        .status();

    let table = render(&rows, &inserts);
    println!("{table}");
    write_into_docs("spend", &table);
}

type Measured = (Row, Value, [f64; 2]);

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn render(rows: &[Measured], inserts: &[(&str, usize, f64)]) -> String {
    let rounds = rows.len() / 4;
    let mut out = format!(
        "`tools/call` (`add`, priced 0.01) through Envoy + meshgate, {CLIENTS} clients, {}s per row after {}ms warm-up, the four gateways measured in alternation ({rounds} rounds; \"on\" compared with \"off\" on the same database, where the audit trail writes too), Envoy with 1 worker, one machine (2 cores) shared by the load generator, the four Envoys and sidecars, the upstream and PostgreSQL. CPU µs per call: the process's user + system time over the row divided by the calls answered. Rows written / dropped: the sidecar's `GET /spend/metrics`, cumulative.\n\n| path | round | req/s | p50 µs | p99 µs | errors | vs off | Envoy CPU µs/call | sidecar CPU µs/call | rows written | rows dropped |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        MEASURE.as_secs(),
        WARMUP.as_millis()
    );
    let mut ratios = [Vec::new(), Vec::new()];
    let mut extra_cpu = [Vec::new(), Vec::new()];
    for (i, round) in rows.chunks(4).enumerate() {
        for (j, (r, c, cpu)) in round.iter().enumerate() {
            // Rows 1 and 3 (on) against rows 0 and 2 (off) of the same database.
            let ratio = match (j % 2, round.get(j - j % 2)) {
                (1, Some((base, _, base_cpu))) => {
                    ratios[j / 2].push(r.rps / base.rps.max(1.0));
                    extra_cpu[j / 2].push(cpu[1] - base_cpu[1]);
                    format!("{:.2}×", r.rps / base.rps.max(1.0))
                }
                _ => String::new(),
            };
            out.push_str(&format!(
                "| {} | {} | {:.0} | {} | {} | {} | {} | {:.0} | {:.0} | {} | {} |\n",
                r.label,
                i + 1,
                r.rps,
                r.p50_us,
                r.p99_us,
                r.errors,
                ratio,
                cpu[0],
                cpu[1],
                c["spend_rows_written"],
                c["spend_rows_dropped"],
            ));
        }
    }
    out.push_str("\nMedians over the rounds:\n\n| path | throughput vs off (same database) | + sidecar CPU µs per call |\n|---|---:|---:|\n");
    for (j, label) in ["spend logs on (SQLite)", "spend logs on (PostgreSQL)"]
        .iter()
        .enumerate()
    {
        out.push_str(&format!(
            "| {label} | {:.2}× | {:+.1} |\n",
            median(ratios[j].clone()),
            median(extra_cpu[j].clone())
        ));
    }
    out.push_str(&format!(
        "\nSpend rows stored per second by `Store::insert_spend` ({}s each, one transaction per batch):\n\n| database | rows per transaction | rows/s |\n|---|---:|---:|\n",
        INSERT_FOR.as_secs()
    ));
    for (name, batch, rate) in inserts {
        out.push_str(&format!("| {name} | {batch} | {rate:.0} |\n"));
    }
    out
}
