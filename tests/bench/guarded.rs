//! `make bench`: `tools/call` with ~10 KB of arguments through Envoy + meshgate, with no
//! guardrail, with the body held but no guardrail selectable, and with every
//! built-in detector on (a `default_on` pre_mcp_call guardrail, all entities MASK; the
//! arguments hold nothing to mask, so every call completes and the upstream answers the
//! same), in the same run: three gateways to the same upstream, measured in
//! alternation. Writes the `bench:guarded-call` section of docs/benchmarks.md.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use meshgate_e2e::load::*;
use meshgate_e2e::*;
use serde_json::{json, Value};

const CLIENTS: usize = 16;

/// Rounds of the three rows (`GUARDED_ROUNDS`, default 3): the machine is shared, so
/// the ratio is read over several alternations.
fn rounds() -> usize {
    env_number("GUARDED_ROUNDS", 3)
}

/// Envoy workers of each gateway (`GUARDED_ENVOY_WORKERS`, default 1: the filter's cost
/// lands on one thread, the strictest case; `make run` ships `--concurrency 2`).
fn workers() -> u32 {
    env_number("GUARDED_ENVOY_WORKERS", 1)
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
const ARGUMENT_BYTES: usize = 10 * 1024;

/// The same guardrail, not `default_on`: the filter holds and reads each body; nothing
/// can select a guardrail (no default_on, key, header or `guardrails` in the body), so
/// it is not parsed — the cost of holding alone.
const HELD_ONLY: &str = "guardrails:\n  - guardrail_name: all-detectors\n    litellm_params: {guardrail: meshgate, mode: pre_mcp_call}\n";
const ALL_DETECTORS: &str = "guardrails:\n  - guardrail_name: all-detectors\n    litellm_params: {guardrail: meshgate, mode: pre_mcp_call, default_on: true}\n";

/// ~10 KB of arguments without personal data: prose, ids, paths, timestamps, numbers.
fn arguments() -> Value {
    let prose = "Summarise the incident report and open a follow-up ticket. The deploy rolled back after the health check failed on 3 of 12 pods; error rate peaked at 4.7% (p99 1840 ms).";
    let mut records = Vec::new();
    let mut i = 0u64;
    loop {
        records.push(json!({
            "id": format!("{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}", i * 2654435761 % 0xffff_ffff, i % 0xffff, i % 0xfff, (i * 7) % 0xfff, i * 1_000_003),
            "created_at": format!("2026-12-{:02}T{:02}:{:02}:00Z", i % 28 + 1, i % 24, i % 60),
            "path": format!("/srv/app/releases/v1.{i}.0/service-{i}.yaml"),
            "count": i * 37,
            "tags": ["backend", format!("sprint-{}", i % 9)],
            "body": prose,
        }));
        i += 1;
        let v = json!({"text": "hello", "records": records});
        if v.to_string().len() >= ARGUMENT_BYTES {
            return v;
        }
    }
}

async fn gateway(addr: &str, guardrails: &str) -> Gateway {
    let mut opts = GatewayOptions::new(format!(
        "  web:\n    url: http://{addr}/mcp\n    transport: http\n"
    ));
    opts.meshgate_yaml = guardrails.to_string();
    opts.concurrency = workers();
    Gateway::start_with(opts).await
}

async fn target(label: &'static str, gw: &Gateway, body: &Bytes) -> Target {
    session_target(label, gw, body.clone(), "hello").await
}

#[tokio::main]
async fn main() {
    let (_upstream, addr) = demo_http("bench_guarded", &[]).await;
    let plain = gateway(&addr, "").await;
    let held = gateway(&addr, HELD_ONLY).await;
    let guarded = gateway(&addr, ALL_DETECTORS).await;
    let args = arguments();
    let body = Bytes::from(
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "web-echo", "arguments": args}})
            .to_string(),
    );
    let targets = [
        target("no guardrail", &plain, &body).await,
        target(
            "body held, no guardrail selectable (not parsed)",
            &held,
            &body,
        )
        .await,
        target("every built-in detector (pre_mcp_call)", &guarded, &body).await,
    ];
    for t in &targets {
        let (ok, text) = one_call(t).await;
        assert!(ok && text.contains("hello"), "{} answered: {text}", t.label);
    }
    let gateways = [&plain, &held, &guarded];
    let mut rows = Vec::new();
    for _ in 0..rounds() {
        for (t, gw) in targets.iter().zip(gateways) {
            let (row, [envoy, sidecar]) =
                measure_with_cpu(t, CLIENTS, [&gw.envoy, &gw.sidecar]).await;
            rows.push((row, envoy, sidecar));
        }
    }
    let table = render(&rows, body.len());
    println!("{table}");
    if workers() == 1 {
        write_into_docs("guarded-call", &table);
    }
}

fn render(rows: &[(Row, f64, f64)], body_bytes: usize) -> String {
    let mut out = format!(
        "`tools/call` (`echo`) with {body_bytes} bytes of request body (~10 KB of arguments, nothing to mask), {CLIENTS} clients, {}s per row after {}ms warm-up, the three gateways measured in alternation ({} rounds), Envoy with {} worker(s), one machine (2 cores) shared by the load generator, the three Envoys and sidecars and the upstream.\n\n| path | round | req/s | p50 µs | p99 µs | errors | vs no guardrail | Envoy CPU µs/req | sidecar CPU µs/req |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        MEASURE.as_secs(),
        WARMUP.as_millis(),
        rounds(),
        workers()
    );
    let mut ratios: Vec<f64> = rows
        .chunks(3)
        .filter_map(|round| Some(round.get(2)?.0.rps / round.first()?.0.rps.max(1.0)))
        .collect();
    ratios.sort_by(f64::total_cmp);
    let median = ratios.get(ratios.len() / 2).copied().unwrap_or(0.0);
    for (i, round) in rows.chunks(3).enumerate() {
        let base = round.first().map_or(1.0, |r| r.0.rps.max(1.0));
        for (j, (r, envoy, sidecar)) in round.iter().enumerate() {
            let ratio = if j == 0 {
                String::new()
            } else {
                format!("{:.2}×", r.rps / base)
            };
            out.push_str(&format!(
                "| {} | {} | {:.0} | {} | {} | {} | {} | {:.0} | {:.0} |\n",
                r.label,
                i + 1,
                r.rps,
                r.p50_us,
                r.p99_us,
                r.errors,
                ratio,
                envoy,
                sidecar
            ));
        }
    }
    let cpu_median = |j: usize| {
        let mut v: Vec<f64> = rows.iter().skip(j).step_by(3).map(|r| r.1 + r.2).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    out.push_str(&format!(
        "\nMedian over the rounds, every built-in detector vs no guardrail: **{median:.2}×** throughput; Envoy + sidecar CPU per request {:.0} µs (no guardrail), {:.0} µs (body held), {:.0} µs (every detector).\n",
        cpu_median(0),
        cpu_median(1),
        cpu_median(2)
    ));
    out
}
