//! `make bench`: tools/call throughput and latency, in one run, to the same fast in-repo
//! upstream: called directly; through the same Envoy on a plain route (no filter, no
//! sidecar — the ceiling for anything in Envoy); through Envoy + meshgate. Plus a stdio
//! upstream through meshgate. Writes the table into docs/benchmarks.md.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use meshgate_e2e::http::post;
use meshgate_e2e::*;
use std::time::{Duration, Instant};

const WARMUP: Duration = Duration::from_millis(500);
const MEASURE: Duration = Duration::from_secs(3);
const CONCURRENCY: &[usize] = &[1, 16, 64];

struct Target {
    label: &'static str,
    port: u16,
    path: String,
    headers: Vec<(String, String)>,
    body: Bytes,
}

struct Row {
    label: &'static str,
    clients: usize,
    rps: f64,
    p50_us: u64,
    p99_us: u64,
    errors: u64,
}

#[tokio::main]
async fn main() {
    let envoy_workers: u32 = std::env::var("BENCH_ENVOY_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let (_upstream, addr) = demo_http("bench_http", &[]).await;
    let upstream_port: u16 = addr
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let plain_port = free_port();
    let servers = format!(
        "{}  web:\n    url: http://{addr}/mcp\n    transport: http\n",
        demo_stdio_yaml("local", "")
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
            port: upstream_port,
            path: "/mcp".into(),
            headers: mcp_headers(vec![("mcp-session-id".into(), direct_session.clone())]),
            body: call("echo"),
        },
        Target {
            label: "Envoy, plain route",
            port: plain_port,
            path: "/mcp".into(),
            headers: mcp_headers(vec![("mcp-session-id".into(), direct_session.clone())]),
            body: call("echo"),
        },
        Target {
            label: "Envoy + meshgate (HTTP upstream)",
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
            port: gw.port,
            path: "/mcp".into(),
            headers: mcp_headers(vec![
                ("mcp-session-id".into(), gw_session.clone()),
                ("x-litellm-api-key".into(), key.clone()),
            ]),
            body: call("local-echo"),
        },
    ];
    // Every target must answer correctly before it is measured.
    for t in &targets {
        let (ok, text) = one_call(t).await;
        assert!(ok && text.contains("hello"), "{} answered: {text}", t.label);
    }

    let mut rows = Vec::new();
    for &clients in CONCURRENCY {
        for t in &targets {
            let row = load(t, clients).await;
            eprintln!(
                "{:<36} c={:<3} {:>9.0} req/s  p50 {:>6} µs  p99 {:>6} µs  errors {}",
                row.label, clients, row.rps, row.p50_us, row.p99_us, row.errors
            );
            rows.push(row);
        }
    }
    let table = render(&rows, envoy_workers);
    println!("{table}");
    write_into_docs(&table);
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

async fn connect(port: u16) -> http1::SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let _ = stream.set_nodelay(true);
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    sender
}

fn build(t: &Target) -> hyper::Request<Full<Bytes>> {
    let mut req = hyper::Request::builder()
        .method("POST")
        .uri(&t.path)
        .header("host", "127.0.0.1");
    for (k, v) in &t.headers {
        req = req.header(k, v);
    }
    req.body(Full::new(t.body.clone())).expect("request")
}

async fn one_call(t: &Target) -> (bool, String) {
    let mut sender = connect(t.port).await;
    match sender.send_request(build(t)).await {
        Ok(resp) => {
            let ok = resp.status().is_success();
            let body = resp
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            (ok, String::from_utf8_lossy(&body).to_string())
        }
        Err(e) => (false, e.to_string()),
    }
}

async fn load(t: &Target, clients: usize) -> Row {
    let start = Instant::now();
    let warm_until = start + WARMUP;
    let end = warm_until + MEASURE;
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let mut sender = connect(t.port).await;
        let template = build(t);
        let (parts, body) = template.into_parts();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(100_000);
            let mut errors = 0u64;
            loop {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                let mut req = hyper::Request::new(body.clone());
                *req.method_mut() = parts.method.clone();
                *req.uri_mut() = parts.uri.clone();
                *req.headers_mut() = parts.headers.clone();
                let sent = Instant::now();
                let ok = match sender.send_request(req).await {
                    Ok(resp) => {
                        let good = resp.status().is_success();
                        good && resp.into_body().collect().await.is_ok()
                    }
                    Err(_) => false,
                };
                let took = sent.elapsed();
                if sent >= warm_until {
                    if ok {
                        latencies.push(took.as_micros() as u64);
                    } else {
                        errors += 1;
                    }
                }
                if !ok && sender.ready().await.is_err() {
                    break;
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for task in tasks {
        if let Ok((l, e)) = task.await {
            all.extend(l);
            errors += e;
        }
    }
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    Row {
        label: t.label,
        clients,
        rps: all.len() as f64 / MEASURE.as_secs_f64(),
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        errors,
    }
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

fn write_into_docs(table: &str) {
    let path = repo_root().join("docs/benchmarks.md");
    let Ok(doc) = std::fs::read_to_string(&path) else {
        return;
    };
    let (start, end) = (
        "<!-- bench:tools-call:start -->",
        "<!-- bench:tools-call:end -->",
    );
    let (Some(a), Some(b)) = (doc.find(start), doc.find(end)) else {
        return;
    };
    let updated = format!("{}{start}\n{table}{}", &doc[..a], &doc[b..]);
    if std::fs::write(&path, updated).is_ok() {
        eprintln!("updated {}", path.display());
    }
}
