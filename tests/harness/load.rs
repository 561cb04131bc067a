//! A closed-loop HTTP load generator for the benchmarks: N clients, each on its own
//! keep-alive connection, sending the same request back to back for a fixed time.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use std::time::{Duration, Instant};

use crate::repo_root;
use crate::{Gateway, MASTER_KEY};

pub const WARMUP: Duration = Duration::from_millis(500);
pub const MEASURE: Duration = Duration::from_secs(3);
pub struct Target {
    pub label: &'static str,
    pub method: &'static str,
    /// Text every correct answer contains.
    pub expect: &'static str,
    pub port: u16,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

/// POSTs of `body` to `/mcp` on a 2025-11-25 session of `gw` opened here with the master
/// key (what the gateway benches compare).
pub async fn session_target(
    label: &'static str,
    gw: &Gateway,
    body: Bytes,
    expect: &'static str,
) -> Target {
    let key = format!("Bearer {MASTER_KEY}");
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}"#;
    let session = crate::http::post(&gw.url(), &[("x-litellm-api-key", &key)], init)
        .await
        .expect("initialize")
        .header("mcp-session-id")
        .expect("session")
        .to_string();
    Target {
        label,
        method: "POST",
        expect,
        port: gw.port,
        path: "/mcp".into(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            (
                "accept".into(),
                "application/json, text/event-stream".into(),
            ),
            ("mcp-protocol-version".into(), "2025-11-25".into()),
            ("mcp-session-id".into(), session),
            ("x-litellm-api-key".into(), key),
        ],
        body,
    }
}

pub struct Row {
    pub label: &'static str,
    pub clients: usize,
    pub rps: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub errors: u64,
    /// Answered requests including the warm-up's (what a process's CPU time over the
    /// whole row is divided by).
    pub total: u64,
}

pub async fn measure(t: &Target, clients: usize) -> Row {
    let row = load(t, clients).await;
    eprintln!(
        "{:<38} c={:<3} {:>9.0} req/s  p50 {:>6} µs  p99 {:>6} µs  errors {}",
        row.label, clients, row.rps, row.p50_us, row.p99_us, row.errors
    );
    row
}

/// CPU time (user + system) a process has used, in seconds, from /proc (Linux).
pub fn cpu_seconds(process: &crate::Proc) -> f64 {
    let Some(pid) = process.child.id() else {
        return 0.0;
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (in parentheses): utime is the 12th, stime the 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / CLOCK_TICKS_PER_SECOND
}

/// `getconf CLK_TCK` on Linux.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// A row measured with the CPU time `processes` used over it, in µs per answered request.
pub async fn measure_with_cpu<const N: usize>(
    t: &Target,
    clients: usize,
    processes: [&crate::Proc; N],
) -> (Row, [f64; N]) {
    let before = processes.map(cpu_seconds);
    let row = measure(t, clients).await;
    let mut per_request = [0.0; N];
    for (i, p) in processes.iter().enumerate() {
        per_request[i] = (cpu_seconds(p) - before[i]) * 1e6 / (row.total.max(1) as f64);
    }
    (row, per_request)
}

pub fn rss_kb(pid: u32) -> i64 {
    let path = if pid == 0 {
        "/proc/self/status".to_string()
    } else {
        format!("/proc/{pid}/status")
    };
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

pub async fn connect(port: u16) -> http1::SendRequest<Full<Bytes>> {
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

pub fn build(t: &Target) -> hyper::Request<Full<Bytes>> {
    let mut req = hyper::Request::builder()
        .method(t.method)
        .uri(&t.path)
        .header("host", "127.0.0.1");
    for (k, v) in &t.headers {
        req = req.header(k, v);
    }
    req.body(Full::new(t.body.clone())).expect("request")
}

pub async fn one_call(t: &Target) -> (bool, String) {
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

pub async fn load(t: &Target, clients: usize) -> Row {
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
            let mut answered = 0u64;
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
                answered += u64::from(ok);
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
            (latencies, errors, answered)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    let mut total = 0;
    for task in tasks {
        if let Ok((l, e, a)) = task.await {
            all.extend(l);
            errors += e;
            total += a;
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
        total,
    }
}

pub fn write_into_docs(section: &str, table: &str) {
    let path = repo_root().join("docs/benchmarks.md");
    let Ok(doc) = std::fs::read_to_string(&path) else {
        return;
    };
    let (start, end) = (
        format!("<!-- bench:{section}:start -->"),
        format!("<!-- bench:{section}:end -->"),
    );
    let (start, end) = (start.as_str(), end.as_str());
    let (Some(a), Some(b)) = (doc.find(start), doc.find(end)) else {
        return;
    };
    let updated = format!("{}{start}\n{table}{}", &doc[..a], &doc[b..]);
    if std::fs::write(&path, updated).is_ok() {
        eprintln!("updated {}", path.display());
    }
}
