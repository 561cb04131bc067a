//! `make bench`: what the audit trail costs. `tools/call` (`echo`) through Envoy + meshgate
//! with Envoy's access log streamed to the sidecar (the audit trail, as shipped) and
//! without it, to the same upstream, measured in alternation; then how many rows the
//! trail holds against the calls answered. Writes the `bench:audit` section of
//! docs/benchmarks.md.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use meshgate_e2e::http::request;
use meshgate_e2e::load::*;
use meshgate_e2e::*;

const CLIENTS: &[usize] = &[16, 64];
const ROUNDS: usize = 2;

async fn gateway(addr: &str, access_log: bool) -> Gateway {
    let mut opts = GatewayOptions::new(format!(
        "  web:\n    url: http://{addr}/mcp\n    transport: http\n"
    ));
    opts.access_log = access_log;
    Gateway::start_with(opts).await
}

async fn target(label: &'static str, gw: &Gateway) -> Target {
    session_target(label, gw, Bytes::from_static(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"web-echo","arguments":{"text":"hello"}}}"#,
        ), "hello").await
}

/// Rows of `tools/call` in the trail, once the count stops growing (Envoy flushes its
/// buffer, the sidecar writes in batches); and how long that took after the load ended.
async fn settled_rows(gw: &Gateway) -> (i64, Duration) {
    let started = Instant::now();
    let key = format!("Bearer {MASTER_KEY}");
    let url = format!(
        "{}/audit/logs?decision=allowed&server=web&page_size=1",
        gw.base()
    );
    let mut last = -1;
    let mut last_change = Instant::now();
    loop {
        let resp = request("GET", &url, &[("x-litellm-api-key", &key)], "")
            .await
            .expect("audit/logs");
        let total = resp.json()["total"].as_i64().expect("total");
        if total != last {
            last = total;
            last_change = Instant::now();
        } else if last_change.elapsed() > Duration::from_secs(3) {
            return (total, last_change - started);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::main]
async fn main() {
    let (_upstream, addr) = demo_http("bench_audit", &[]).await;
    let off = gateway(&addr, false).await;
    let on = gateway(&addr, true).await;
    let targets = [
        target("access log off", &off).await,
        target("access log on (audit trail)", &on).await,
    ];
    for t in &targets {
        let (ok, text) = one_call(t).await;
        assert!(ok && text.contains("hello"), "{} answered: {text}", t.label);
    }
    let mut rows = Vec::new();
    let mut answered_on = 0.0;
    for &clients in CLIENTS {
        for _ in 0..ROUNDS {
            for t in &targets {
                let row = measure(t, clients).await;
                if std::ptr::eq(t, &targets[1]) {
                    // Calls answered in the measured window (warm-up calls come on top).
                    answered_on += row.rps * MEASURE.as_secs_f64();
                }
                rows.push(row);
            }
        }
    }
    let (stored, drain) = settled_rows(&on).await;
    let table = render(&rows, answered_on, stored, drain);
    println!("{table}");
    write_into_docs("audit", &table);
}

fn render(rows: &[Row], answered: f64, stored: i64, drain: Duration) -> String {
    let mut out = format!(
        "`tools/call` (`echo`) through Envoy + meshgate, with and without the access log streamed to the sidecar, {}s per row after {}ms warm-up, measured in alternation ({ROUNDS} rounds per client count), Envoy with 1 worker, one machine (2 cores) shared by the load generator, both Envoys and sidecars and the upstream, SQLite.\n\n| path | clients | round | req/s | p50 µs | p99 µs | errors | on vs off |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
        MEASURE.as_secs(),
        WARMUP.as_millis()
    );
    for (i, pair) in rows.chunks(2).enumerate() {
        let base = pair.first().map_or(1.0, |r| r.rps.max(1.0));
        for (j, r) in pair.iter().enumerate() {
            let ratio = if j == 0 {
                String::new()
            } else {
                format!("{:.2}×", r.rps / base)
            };
            out.push_str(&format!(
                "| {} | {} | {} | {:.0} | {} | {} | {} | {} |\n",
                r.label,
                r.clients,
                i % ROUNDS + 1,
                r.rps,
                r.p50_us,
                r.p99_us,
                r.errors,
                ratio
            ));
        }
    }
    out.push_str(&format!(
        "\nAudit rows of `tools/call` in the trail after the run: {stored}, for {answered:.0} calls answered in the measured windows (warm-up calls add to the rows); the last row was written {:.1} s after the load ended.\n",
        drain.as_secs_f64()
    ));
    out
}
