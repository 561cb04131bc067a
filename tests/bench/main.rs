//! `make bench`: tools/call throughput and latency, in one run, to the same fast in-repo
//! upstream: called directly; through the same Envoy on a plain route (no filter, no
//! sidecar — the ceiling for anything in Envoy); through Envoy + meshgate. Plus a stdio
//! upstream through meshgate. Writes the table into docs/benchmarks.md.
//!
//! OpenAPI: an OpenAPI tool through the gateway against the same REST endpoint called
//! directly, and the load cost (time, memory) of the largest spec. Written into the
//! `bench:openapi` section of docs/benchmarks.md.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use meshgate_e2e::http::post;
use meshgate_e2e::load::*;
use meshgate_e2e::*;
use std::time::Instant;

const CONCURRENCY: &[usize] = &[1, 16, 64];

#[tokio::main]
async fn main() {
    let envoy_workers: u32 = std::env::var("BENCH_ENVOY_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    // Measured first, while this process is small and quiet.
    let spec_load = measure_spec_load();
    let (_upstream, addr) = demo_http("bench_http", &[]).await;
    let (_petstore, pet_addr) = demo_petstore("bench_petstore").await;
    let pet_port: u16 = pet_addr
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let upstream_port: u16 = addr
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let plain_port = free_port();
    let servers = format!(
        "{}  web:\n    url: http://{addr}/mcp\n    transport: http\n{}",
        demo_stdio_yaml("local", ""),
        petstore_yaml(&pet_addr),
    );
    let mut opts = GatewayOptions::new(servers);
    opts.concurrency = envoy_workers;
    opts.plain_route = Some((plain_port, upstream_port));
    let gw = Gateway::start_with(opts).await;

    let direct_session = upstream_session(&format!("http://{addr}/mcp")).await;
    let key = format!("Bearer {MASTER_KEY}");
    let gw_session = gateway_session(&gw, &key).await;
    let call = |tool: &str| {
        Bytes::from(format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{tool}","arguments":{{"text":"hello"}}}}}}"#
        ))
    };
    let mcp_headers = |extra: Vec<(String, String)>| {
        let mut h = vec![
            ("content-type".to_string(), "application/json".to_string()),
            (
                "accept".to_string(),
                "application/json, text/event-stream".to_string(),
            ),
            ("mcp-protocol-version".to_string(), "2025-11-25".to_string()),
        ];
        h.extend(extra);
        h
    };
    let targets = [
        Target {
            label: "direct to upstream",
            method: "POST",
            expect: "hello",
            port: upstream_port,
            path: "/mcp".into(),
            headers: mcp_headers(vec![("mcp-session-id".into(), direct_session.clone())]),
            body: call("echo"),
        },
        Target {
            label: "Envoy, plain route",
            method: "POST",
            expect: "hello",
            port: plain_port,
            path: "/mcp".into(),
            headers: mcp_headers(vec![("mcp-session-id".into(), direct_session.clone())]),
            body: call("echo"),
        },
        Target {
            label: "Envoy + meshgate (HTTP upstream)",
            method: "POST",
            expect: "hello",
            port: gw.port,
            path: "/mcp".into(),
            headers: mcp_headers(vec![
                ("mcp-session-id".into(), gw_session.clone()),
                ("x-litellm-api-key".into(), key.clone()),
            ]),
            body: call("web-echo"),
        },
        Target {
            label: "Envoy + meshgate (stdio upstream)",
            method: "POST",
            expect: "hello",
            port: gw.port,
            path: "/mcp".into(),
            headers: mcp_headers(vec![
                ("mcp-session-id".into(), gw_session.clone()),
                ("x-litellm-api-key".into(), key.clone()),
            ]),
            body: call("local-echo"),
        },
    ];
    let openapi_targets = [
        Target {
            label: REST_DIRECT,
            method: "GET",
            expect: "doggie",
            port: pet_port,
            path: "/api/v3/pet/1".into(),
            headers: vec![("accept".into(), "application/json".into())],
            body: Bytes::new(),
        },
        Target {
            label: "Envoy + meshgate (OpenAPI tool)",
            method: "POST",
            expect: "doggie",
            port: gw.port,
            path: "/mcp".into(),
            headers: mcp_headers(vec![
                ("mcp-session-id".into(), gw_session.clone()),
                ("x-litellm-api-key".into(), key.clone()),
            ]),
            body: Bytes::from_static(
                br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"petstore-getPetById","arguments":{"path":{"petId":1}}}}"#,
            ),
        },
    ];
    // Every target must answer correctly before it is measured.
    for t in targets.iter().chain(&openapi_targets) {
        let (ok, text) = one_call(t).await;
        assert!(
            ok && text.contains(t.expect),
            "{} answered: {text}",
            t.label
        );
    }

    let mut rows = Vec::new();
    for &clients in CONCURRENCY {
        for t in &targets {
            rows.push(measure(t, clients).await);
        }
    }
    let mut openapi_rows = Vec::new();
    for &clients in CONCURRENCY {
        for t in &openapi_targets {
            // The demo server records every request; start each row empty.
            let _ = meshgate_e2e::http::request(
                "DELETE",
                &format!("http://{pet_addr}/__recorded"),
                &[],
                "",
            )
            .await;
            openapi_rows.push(measure(t, clients).await);
        }
    }
    drop(gw);
    let rss = measure_sidecar_rss(&pet_addr).await;

    let table = render(&rows, envoy_workers);
    println!("{table}");
    write_into_docs("tools-call", &table);
    let openapi = render_openapi(&openapi_rows, envoy_workers, &spec_load, &rss);
    println!("{openapi}");
    write_into_docs("openapi", &openapi);
}

const REST_DIRECT: &str = "REST API direct (`GET /api/v3/pet/1`)";
const LARGE_SPEC: &str = "xero-accounting.yaml";
const LOAD_RUNS: usize = 5;

fn petstore_yaml(addr: &str) -> String {
    format!(
        "  petstore:\n    spec_path: \"{}\"\n    url: http://{addr}/api/v3\n",
        shared_openapi().join("swagger-petstore-v3.yaml").display()
    )
}

/// Loading the largest spec in this (release) process, as the sidecar does: parse with every
/// `$ref` resolved and every tool generated, then render the `tools/list` JSON.
struct SpecLoad {
    spec_bytes: usize,
    tools: usize,
    parse_ms: Vec<f64>,
    render_ms: Vec<f64>,
    list_bytes: usize,
    rss_growth_kb: i64,
}

fn measure_spec_load() -> SpecLoad {
    let path = shared_openapi().join(LARGE_SPEC);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // The first load, kept as the sidecar keeps it, gives the memory figure.
    let before = rss_kb(0);
    let kept = meshgate_openapi::ApiSpec::parse(&bytes, LARGE_SPEC).expect("spec loads");
    let rss_growth_kb = rss_kb(0) - before;
    let mut parse_ms = Vec::new();
    let mut render_ms = Vec::new();
    let mut list_bytes = 0;
    for _ in 0..LOAD_RUNS {
        let started = Instant::now();
        let spec = meshgate_openapi::ApiSpec::parse(&bytes, LARGE_SPEC).expect("spec loads");
        parse_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        let started = Instant::now();
        let tools: Vec<serde_json::Value> = spec.tools().iter().map(|t| t.to_mcp_json()).collect();
        let list = serde_json::to_vec(&serde_json::json!({ "tools": tools })).expect("render");
        render_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        list_bytes = list.len();
    }
    parse_ms.sort_by(f64::total_cmp);
    render_ms.sort_by(f64::total_cmp);
    SpecLoad {
        spec_bytes: bytes.len(),
        tools: kept.tools().len(),
        parse_ms,
        render_ms,
        list_bytes,
        rss_growth_kb,
    }
}

/// The sidecar's RSS once its tool lists are warm, with the petstore alone and with the
/// largest spec added (each in a fresh gateway).
struct SidecarRss {
    base_kb: i64,
    with_large_kb: i64,
    large_tools: usize,
}

async fn warm_sidecar_rss(servers: String) -> (i64, usize) {
    let gw = Gateway::start(servers).await;
    let key = format!("Bearer {MASTER_KEY}");
    let resp = post(
        &gw.url(),
        &[("x-litellm-api-key", &key)],
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
    )
    .await
    .expect("tools/list");
    let listed = resp.json()["result"]["tools"]
        .as_array()
        .map_or(0, Vec::len);
    (rss_kb(gw.sidecar.pid()), listed)
}

async fn measure_sidecar_rss(pet_addr: &str) -> SidecarRss {
    let (base_kb, base_tools) = warm_sidecar_rss(petstore_yaml(pet_addr)).await;
    let large = format!(
        "{}  xero:\n    spec_path: \"{}\"\n",
        petstore_yaml(pet_addr),
        shared_openapi().join(LARGE_SPEC).display()
    );
    let (with_large_kb, all_tools) = warm_sidecar_rss(large).await;
    SidecarRss {
        base_kb,
        with_large_kb,
        large_tools: all_tools.saturating_sub(base_tools),
    }
}

async fn upstream_session(url: &str) -> String {
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}"#;
    let resp = post(url, &[], init).await.expect("initialize upstream");
    resp.header("mcp-session-id")
        .expect("upstream session")
        .to_string()
}

async fn gateway_session(gw: &Gateway, key: &str) -> String {
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}"#;
    let resp = post(&gw.url(), &[("x-litellm-api-key", key)], init)
        .await
        .expect("initialize gateway");
    resp.header("mcp-session-id")
        .expect("gateway session")
        .to_string()
}

fn render(rows: &[Row], workers: u32) -> String {
    let mut out = format!(
        "`tools/call` (`echo`), {}s per row after {}ms warm-up, Envoy 1.40 with {workers} worker(s), release builds, one machine (2 cores) shared by load generator, Envoy, sidecar and upstream.\n\n| path | clients | req/s | p50 µs | p99 µs | errors | vs plain Envoy: throughput | added p50 |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
        MEASURE.as_secs(),
        WARMUP.as_millis()
    );
    for r in rows {
        let plain = rows
            .iter()
            .find(|p| p.clients == r.clients && p.label == "Envoy, plain route");
        let (ratio, added) = match plain {
            Some(p) if r.label.starts_with("Envoy + meshgate") => (
                format!("{:.2}×", r.rps / p.rps.max(1.0)),
                format!("{:+.2} ms", (r.p50_us as f64 - p.p50_us as f64) / 1000.0),
            ),
            _ => (String::new(), String::new()),
        };
        out.push_str(&format!(
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} |\n",
            r.label, r.clients, r.rps, r.p50_us, r.p99_us, r.errors, ratio, added
        ));
    }
    out
}

fn render_openapi(rows: &[Row], workers: u32, load: &SpecLoad, rss: &SidecarRss) -> String {
    let mut out = format!(
        "`tools/call` of `petstore-getPetById` (an OpenAPI tool: `GET /api/v3/pet/1` on `meshgate-demo-petstore`, JSON answer turned into text + `structuredContent`) against the same REST request sent directly; {}s per row after {}ms warm-up, Envoy 1.40 with {workers} worker(s), release builds, one 2-core machine.\n\n| path | clients | req/s | p50 µs | p99 µs | errors | vs direct: throughput | added p50 |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
        MEASURE.as_secs(),
        WARMUP.as_millis()
    );
    for r in rows {
        let direct = rows
            .iter()
            .find(|d| d.clients == r.clients && d.label == REST_DIRECT);
        let (ratio, added) = match direct {
            Some(d) if r.label != REST_DIRECT => (
                format!("{:.2}×", r.rps / d.rps.max(1.0)),
                format!("{:+.2} ms", (r.p50_us as f64 - d.p50_us as f64) / 1000.0),
            ),
            _ => (String::new(), String::new()),
        };
        out.push_str(&format!(
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} |\n",
            r.label, r.clients, r.rps, r.p50_us, r.p99_us, r.errors, ratio, added
        ));
    }
    let median = |v: &[f64]| v.get(v.len() / 2).copied().unwrap_or(0.0);
    let min = |v: &[f64]| v.first().copied().unwrap_or(0.0);
    out.push_str(&format!(
        "\nLoading the largest spec, `{LARGE_SPEC}` ({:.0} KiB of YAML, {} tools), in a release build:\n\n\
         | measure | value |\n|---|---:|\n\
         | parse + `$ref` resolution + tool generation (`ApiSpec::parse`), median of {LOAD_RUNS} | {:.0} ms (min {:.0} ms) |\n\
         | rendering its `tools/list` JSON ({:.0} KiB), median of {LOAD_RUNS} | {:.1} ms (min {:.1} ms) |\n\
         | RSS growth of a process holding the loaded spec (first load) | {:+.1} MiB |\n\
         | sidecar RSS, petstore only, tool lists warm | {:.1} MiB |\n\
         | sidecar RSS, petstore + `{LARGE_SPEC}` ({} more tools), tool lists warm | {:.1} MiB ({:+.1} MiB) |\n",
        load.spec_bytes as f64 / 1024.0,
        load.tools,
        median(&load.parse_ms),
        min(&load.parse_ms),
        load.list_bytes as f64 / 1024.0,
        median(&load.render_ms),
        min(&load.render_ms),
        load.rss_growth_kb as f64 / 1024.0,
        rss.base_kb as f64 / 1024.0,
        rss.large_tools,
        rss.with_large_kb as f64 / 1024.0,
        (rss.with_large_kb - rss.base_kb) as f64 / 1024.0,
    ));
    out
}
