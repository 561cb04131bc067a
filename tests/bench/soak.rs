//! `make soak`: SOAK_CALLS `tools/call` (default 1,000,000) through Envoy + meshgate to
//! a fast in-repo HTTP upstream, with the sidecar's RSS sampled from /proc every few
//! seconds; then SOAK_STREAM_ROUNDS rounds (default 6) of SOAK_STREAMS GET event streams
//! (default 2,000) held open at once and closed; then SOAK_BATCHES JSON-RPC batches of
//! 100 `tools/call`. Bounded in time (SOAK_MAX_SECS, default 1,800: the call phase stops
//! early and says so). Prints RSS per phase and per stream round (before, open, after
//! close) and a verdict line, flat or not; writes the numbers into the `bench:soak`
//! section of docs/benchmarks.md unless SOAK_WRITE_DOCS=0 (for quick runs such as
//! `SOAK_CALLS=0 SOAK_STREAMS=500 SOAK_BATCHES=0`).
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use meshgate_e2e::http::post;
use meshgate_e2e::load::{connect, rss_kb, write_into_docs};
use meshgate_e2e::*;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

struct Sample {
    at_s: f64,
    calls: u64,
    rss_kb: i64,
}

#[tokio::main]
async fn main() {
    let total = env_or("SOAK_CALLS", 1_000_000);
    let max = Duration::from_secs(env_or("SOAK_MAX_SECS", 1_800));
    let clients = env_or("SOAK_CLIENTS", 16) as usize;
    let streams = env_or("SOAK_STREAMS", 2_000) as usize;
    let batches = env_or("SOAK_BATCHES", 50);
    let every = Duration::from_secs(env_or("SOAK_SAMPLE_SECS", 5));

    // The upstream lives as long as the soak may (the harness default is 600 s).
    let lifetime = (max.as_secs() + 1_200).to_string();
    let (_upstream, addr) = demo_http("soak_http", &["--max-lifetime-secs", &lifetime]).await;
    // The soak holds thousands of streams on one key on purpose: the per-key and
    // per-session limits (meshgate.max_streams_per_*) are raised to let it.
    let gw = Gateway::start_with(GatewayOptions {
        meshgate_yaml: format!(
            "  max_streams_per_session: 16\n  max_streams_per_key: {}\n",
            streams.max(64)
        ),
        ..GatewayOptions::new(format!(
            "  web:\n    url: http://{addr}/mcp\n    transport: http\n"
        ))
    })
    .await;
    let pid = gw.sidecar.pid();
    let key = format!("Bearer {MASTER_KEY}");
    let session = session(&gw, &key).await;
    let rss_start = rss_kb(pid);
    eprintln!(
        "soak: sidecar pid {pid}, RSS {rss_start} kB at start; {total} calls, {clients} clients"
    );

    // ── phase 1: calls ──
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let body = Bytes::from_static(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"web-echo","arguments":{"text":"soak"}}}"#);
    let mut workers = Vec::new();
    for _ in 0..clients {
        let (done, errors, stop) = (done.clone(), errors.clone(), stop.clone());
        let (port, key, session, body) = (gw.port, key.clone(), session.clone(), body.clone());
        workers.push(tokio::spawn(async move {
            let mut sender = connect(port).await;
            while !stop.load(Ordering::Relaxed) && done.fetch_add(1, Ordering::Relaxed) < total {
                let req = hyper::Request::post("/mcp")
                    .header("host", "127.0.0.1")
                    .header("authorization", &key)
                    .header("mcp-session-id", &session)
                    .header("content-type", "application/json")
                    .header("accept", "application/json, text/event-stream")
                    .body(Full::new(body.clone()));
                let Ok(req) = req else { break };
                let ok = match sender.send_request(req).await {
                    Ok(resp) => {
                        let good = resp.status().is_success();
                        match resp.into_body().collect().await {
                            Ok(b) => good && b.to_bytes().windows(4).any(|w| w == b"soak"),
                            Err(_) => false,
                        }
                    }
                    Err(_) => false,
                };
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                    if sender.ready().await.is_err() {
                        sender = connect(port).await;
                    }
                }
            }
        }));
    }
    let mut samples = vec![Sample {
        at_s: 0.0,
        calls: 0,
        rss_kb: rss_start,
    }];
    let mut timed_out = false;
    loop {
        tokio::time::sleep(every).await;
        let calls = done.load(Ordering::Relaxed).min(total);
        samples.push(Sample {
            at_s: started.elapsed().as_secs_f64(),
            calls,
            rss_kb: rss_kb(pid),
        });
        eprintln!(
            "soak: {:>7.0}s {:>9} calls  RSS {} kB  errors {}",
            started.elapsed().as_secs_f64(),
            calls,
            rss_kb(pid),
            errors.load(Ordering::Relaxed)
        );
        if calls >= total {
            break;
        }
        if started.elapsed() > max {
            timed_out = true;
            stop.store(true, Ordering::Relaxed);
            break;
        }
    }
    for w in workers {
        let _ = w.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let calls = done.load(Ordering::Relaxed).min(total);
    let call_errors = errors.load(Ordering::Relaxed);
    let rss_after_calls = rss_kb(pid);

    // ── phase 2: event streams held open ──
    // Several rounds: memory kept after the first round but reused by the next is the
    // allocator's; memory that grows every round would be a leak.
    let rounds = env_or("SOAK_STREAM_ROUNDS", 6).max(1);
    let rss_before_streams = rss_kb(pid);
    let mut stream_rounds = Vec::new();
    for round in 1..=rounds {
        let r = hold_streams(&gw, &key, streams, pid).await;
        eprintln!(
            "soak: stream round {round}: {} opened, {} refused; RSS {} kB before, {} kB open, {} kB after close",
            r.opened, r.refused, r.before_kb, r.open_kb, r.closed_kb
        );
        stream_rounds.push(r);
    }

    // ── phase 3: batches ──
    let rss_before_batches = rss_kb(pid);
    let batch: String = format!(
        "[{}]",
        (0..100)
            .map(|i| format!(r#"{{"jsonrpc":"2.0","id":{i},"method":"tools/call","params":{{"name":"web-echo","arguments":{{"text":"b"}}}}}}"#))
            .collect::<Vec<_>>()
            .join(",")
    );
    let batch_session = session_at(&gw, &key, "2025-03-26").await;
    let mut batch_errors = 0;
    let batch_started = Instant::now();
    for _ in 0..batches {
        match post(
            &gw.url(),
            &[("authorization", &key), ("mcp-session-id", &batch_session)],
            &batch,
        )
        .await
        {
            Ok(r) if r.status == 200 && r.text().matches("\"result\"").count() == 100 => {}
            Ok(r) => {
                batch_errors += 1;
                eprintln!("soak: batch failed: {} {:.200}", r.status, r.text());
            }
            Err(e) => {
                batch_errors += 1;
                eprintln!("soak: batch failed: {e}");
            }
        }
    }
    let batch_secs = batch_started.elapsed().as_secs_f64();
    settle().await;
    let rss_after_batches = rss_kb(pid);

    let warm = warmed_up(&samples);
    let verdict = Verdict {
        calls: (warm, rss_after_calls),
        streams: (rss_before_streams, &stream_rounds),
        batches: (rss_before_batches, rss_after_batches),
    };

    let mut table = format!(
        "Sidecar RSS (VmRSS from /proc) while `tools/call` (`web-echo`, streamable-HTTP upstream, one client session) runs through Envoy (1 worker) + meshgate, {} build, {clients} keep-alive clients, on the shared 2-core machine.\n\n",
        std::env::var("MESHGATE_PROFILE").unwrap_or_else(|_| "debug".into())
    );
    table.push_str(&format!(
        "- calls: {calls} of {total} in {elapsed:.0} s ({:.0}/s), {call_errors} errors{}\n",
        calls as f64 / elapsed.max(0.001),
        if timed_out {
            " — stopped at SOAK_MAX_SECS"
        } else {
            ""
        }
    ));
    table.push_str(&format!(
        "- RSS: {rss_start} kB at start, {rss_after_calls} kB after the calls\n"
    ));
    table.push_str(&format!(
        "- {streams} GET event streams × {rounds} rounds; RSS {rss_before_streams} kB before the first; per round (opened/refused: RSS before → with them open → after closing):\n"
    ));
    for (i, r) in stream_rounds.iter().enumerate() {
        table.push_str(&format!(
            "  - round {}: {}/{}: {} → {} → {} kB\n",
            i + 1,
            r.opened,
            r.refused,
            r.before_kb,
            r.open_kb,
            r.closed_kb
        ));
    }
    table.push_str(&format!(
        "- {batches} batches × 100 `tools/call`: {batch_errors} failed, {batch_secs:.1} s; RSS {rss_before_batches} kB before, {rss_after_batches} kB after\n\n"
    ));
    table.push_str(&format!("- {}\n\n", verdict.line()));
    table.push_str("| s | calls | RSS kB |\n|---:|---:|---:|\n");
    let step = (samples.len() / 24).max(1);
    for (i, s) in samples.iter().enumerate() {
        if i % step == 0 || i + 1 == samples.len() {
            table.push_str(&format!("| {:.0} | {} | {} |\n", s.at_s, s.calls, s.rss_kb));
        }
    }
    println!("{table}");
    eprintln!("{}", verdict.line());
    if env_or("SOAK_WRITE_DOCS", 1) != 0 {
        write_into_docs("soak", &table);
    }
}

/// How far above its reference RSS may end and still count as flat: 4 MB or 10 %,
/// whichever is larger (2,000 open streams take ~50–80 MB; thread caches and
/// allocator metadata legitimately keep a few MB).
fn tolerance_kb(reference_kb: i64) -> i64 {
    (reference_kb / 10).max(4 * 1024)
}

/// RSS once the call phase has warmed up: the sample at 10 % of the calls.
fn warmed_up(samples: &[Sample]) -> i64 {
    let last = samples.last().map_or(0, |s| s.calls);
    samples
        .iter()
        .find(|s| s.calls * 10 >= last && s.calls > 0)
        .or(samples.last())
        .map_or(0, |s| s.rss_kb)
}

/// Whether each phase ended where it started (within `tolerance_kb`).
struct Verdict<'a> {
    /// RSS after warm-up, after the calls.
    calls: (i64, i64),
    /// RSS before the first round, the rounds.
    streams: (i64, &'a [Round]),
    /// RSS before and after the batches.
    batches: (i64, i64),
}

impl Verdict<'_> {
    fn line(&self) -> String {
        let mut failed = Vec::new();
        let (warm, after) = self.calls;
        if after > warm + tolerance_kb(warm) {
            failed.push(format!("calls grew {warm} → {after} kB"));
        }
        let (before, rounds) = self.streams;
        for (i, r) in rounds.iter().enumerate() {
            if r.closed_kb > before + tolerance_kb(before) {
                failed.push(format!(
                    "stream round {} kept {} kB after close (from {before} kB)",
                    i + 1,
                    r.closed_kb - before
                ));
            }
        }
        let (before, after) = self.batches;
        if after > before + tolerance_kb(before) {
            failed.push(format!("batches grew {before} → {after} kB"));
        }
        if failed.is_empty() {
            "verdict: RSS FLAT: every phase ended within max(4 MB, 10 %) of where it started".into()
        } else {
            format!("verdict: RSS NOT FLAT: {}", failed.join("; "))
        }
    }
}

async fn session(gw: &Gateway, key: &str) -> String {
    session_at(gw, key, "2025-06-18").await
}

/// A client session of `version` (batches exist only in 2025-03-26).
async fn session_at(gw: &Gateway, key: &str, version: &str) -> String {
    let init = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"{version}","capabilities":{{}},"clientInfo":{{"name":"soak","version":"1"}}}}}}"#
    );
    let init = init.as_str();
    let resp = post(&gw.url(), &[("authorization", key)], init)
        .await
        .expect("initialize");
    resp.header("mcp-session-id")
        .expect("session id")
        .to_string()
}

/// One stream round: how many opened or were refused, and the sidecar's RSS before,
/// with them all open, and after they closed.
struct Round {
    opened: usize,
    refused: usize,
    before_kb: i64,
    open_kb: i64,
    closed_kb: i64,
}

/// Opens `n` GET event streams (one session per 10 streams), holds them all, samples
/// RSS, closes them and samples again.
async fn hold_streams(gw: &Gateway, key: &str, n: usize, pid: u32) -> Round {
    let before_kb = rss_kb(pid);
    let mut sessions = Vec::new();
    for _ in 0..n.div_ceil(10) {
        sessions.push(session(gw, key).await);
    }
    eprintln!("soak: {} sessions for {n} streams", sessions.len());
    let mut held = Vec::new();
    let mut refused = 0;
    // Opened 100 at a time, each with a bound: a refused or stuck stream is counted.
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let opening = chunk.iter().map(|&i| {
            let (port, key, session) = (gw.port, key.to_string(), sessions[i / 10].clone());
            tokio::spawn(async move {
                let mut sender = connect(port).await;
                let req = hyper::Request::get("/mcp")
                    .header("host", "127.0.0.1")
                    .header("authorization", key)
                    .header("mcp-session-id", session)
                    .header("accept", "text/event-stream")
                    .body(Full::new(Bytes::new()))
                    .ok()?;
                match tokio::time::timeout(Duration::from_secs(10), sender.send_request(req)).await
                {
                    Ok(Ok(resp)) if resp.status().is_success() => Some((sender, resp)),
                    _ => None,
                }
            })
        });
        for opened in futures_util::future::join_all(opening).await {
            match opened {
                Ok(Some(stream)) => held.push(stream),
                _ => refused += 1,
            }
        }
        eprintln!("soak: {} streams open, {refused} refused", held.len());
    }
    let opened = held.len();
    let fds_before = open_fds(pid);
    settle().await;
    let open = rss_kb(pid);
    eprintln!("soak: {opened} streams held, sidecar has {fds_before} open fds, RSS {open} kB");
    drop(held);
    // Closed when the sidecar has let go of their connections (fds back down).
    let deadline = Instant::now() + Duration::from_secs(60);
    while open_fds(pid) > fds_before.saturating_sub(opened * 9 / 10) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    settle().await;
    let closed_kb = rss_kb(pid);
    eprintln!(
        "soak: streams closed, sidecar has {} open fds, RSS {closed_kb} kB",
        open_fds(pid)
    );
    Round {
        opened,
        refused,
        before_kb,
        open_kb: open,
        closed_kb,
    }
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Gives the sidecar a moment (SOAK_SETTLE_SECS, default 3) to notice closed
/// connections before RSS is read.
async fn settle() {
    tokio::time::sleep(Duration::from_secs(env_or("SOAK_SETTLE_SECS", 3))).await;
}
