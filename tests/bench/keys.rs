//! `make bench`, part 2: what the filter itself costs per request with 10,000 virtual
//! keys in its policy snapshot. One Envoy, two listeners on the same upstream cluster:
//! one plain, one with the meshgate filter (key lookup, narrowing, signing); the
//! sidecar only serves the snapshot. Also the snapshot's size and Envoy's memory for it.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_e2e::load::*;
use meshgate_e2e::*;
use meshgate_store::{NewKey, ObjectPermission, Store};
use std::time::{Duration, Instant};

const KEYS: usize = 10_000;

#[tokio::main]
async fn main() {
    let (_upstream, addr) = demo_http("bench_keys", &[]).await;
    let upstream_port: u16 = addr
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");

    // The keys go into the sidecar's SQLite before it starts.
    let dir = TempDir::new("bench-keys");
    let started = Instant::now();
    let store = Store::open(dir.0.join("data").to_str().expect("utf-8 path"))
        .await
        .expect("store");
    let mut bench_key = String::new();
    for i in 0..KEYS {
        let new = NewKey {
            key_alias: Some(format!("bench-{i}")),
            object_permission: ObjectPermission {
                mcp_servers: Some(vec!["web".into()]),
                ..Default::default()
            },
            ..Default::default()
        };
        let (plaintext, _) = store.generate_key(new).await.expect("generate");
        bench_key = plaintext;
    }
    store.close().await;
    let create_secs = started.elapsed().as_secs_f64();
    eprintln!("created {KEYS} keys in {create_secs:.1} s");

    // Baseline: the same Envoy and filter with a snapshot that holds no keys.
    let baseline_rss = {
        let empty = TempDir::new("bench-keys-empty");
        let (pp, pf, adm, sc) = (free_port(), free_port(), free_port(), free_port());
        let _sidecar = start_sidecar_with(sc, &empty.0, None);
        wait_for_port(sc, Duration::from_secs(20)).await;
        let doc = format!(
            "meshgate:\n  shared_secret: os.environ/MESHGATE_SHARED_SECRET\ngeneral_settings:\n  master_key: os.environ/MESHGATE_MASTER_KEY\nmcp_servers:\n  web:\n    url: http://{addr}/mcp\n    transport: http\n"
        );
        let config = empty.0.join("envoy.yaml");
        std::fs::write(
            &config,
            envoy_config_with_plain_route(pf, adm, sc, &doc, Some((pp, upstream_port)), true),
        )
        .expect("write");
        let envoy = start_envoy(&config, 1, &empty.0.join("envoy.log"));
        wait_admitted(pf, MASTER_KEY).await;
        rss_kb(envoy.pid())
    };

    let (port_plain, port_filter, admin, sidecar_port) =
        (free_port(), free_port(), free_port(), free_port());
    let _sidecar = start_sidecar_with(sidecar_port, &dir.0, None);
    wait_for_port(sidecar_port, Duration::from_secs(20)).await;
    let doc = format!(
        "meshgate:\n  shared_secret: os.environ/MESHGATE_SHARED_SECRET\ngeneral_settings:\n  master_key: os.environ/MESHGATE_MASTER_KEY\nmcp_servers:\n  web:\n    url: http://{addr}/mcp\n    transport: http\n"
    );
    let config = dir.0.join("envoy.yaml");
    std::fs::write(
        &config,
        envoy_config_with_plain_route(
            port_filter,
            admin,
            sidecar_port,
            &doc,
            Some((port_plain, upstream_port)),
            true,
        ),
    )
    .expect("write");
    let envoy = start_envoy(&config, 1, &dir.0.join("envoy.log"));
    wait_admitted(port_filter, &bench_key).await;
    let rss = (baseline_rss, rss_kb(envoy.pid()));

    let session = upstream_session(port_plain).await;
    let call = bytes::Bytes::from(
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hello"}}}"#,
    );
    let headers = |key: Option<&str>| {
        let mut h = vec![
            ("content-type".to_string(), "application/json".to_string()),
            (
                "accept".to_string(),
                "application/json, text/event-stream".to_string(),
            ),
            ("mcp-session-id".to_string(), session.clone()),
        ];
        if let Some(k) = key {
            h.push(("x-litellm-api-key".to_string(), format!("Bearer {k}")));
        }
        h
    };
    let targets = [
        Target {
            label: "Envoy, plain route",
            method: "POST",
            expect: "hello",
            port: port_plain,
            path: "/mcp".into(),
            headers: headers(None),
            body: call.clone(),
        },
        Target {
            label: "Envoy + meshgate filter (10k keys)",
            method: "POST",
            expect: "hello",
            port: port_filter,
            path: "/mcp".into(),
            headers: headers(Some(&bench_key)),
            body: call.clone(),
        },
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
    for clients in [1usize, 16] {
        for t in &targets {
            rows.push(measure(t, clients).await);
        }
    }
    let snapshot_bytes = snapshot_size(sidecar_port, &doc).await;
    let table = render(&rows, create_secs, snapshot_bytes, rss);
    println!("{table}");
    write_into_docs("filter-keys", &table);
}

/// Waits until the filter admits the key (its snapshot has loaded), then a little more.
async fn wait_admitted(port: u16, key: &str) {
    let url = format!("http://127.0.0.1:{port}/mcp");
    let auth = format!("Bearer {key}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"b","version":"1"}}}"#;
        if let Ok(r) = meshgate_e2e::http::post(&url, &[("x-litellm-api-key", &auth)], init).await {
            if r.status == 200 {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the filter never admitted the key"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
}

async fn upstream_session(port: u16) -> String {
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"b","version":"1"}}}"#;
    let r = meshgate_e2e::http::post(&format!("http://127.0.0.1:{port}/mcp"), &[], init)
        .await
        .expect("initialize");
    r.header("mcp-session-id").expect("session").to_string()
}

/// Size of the snapshot the filter downloads (signed like the filter's own sync, with the
/// filter's document: another one would be refused while the filter syncs).
async fn snapshot_size(sidecar_port: u16, doc: &str) -> usize {
    let decision = meshgate_e2e::seal(
        "POST",
        "/_meshgate/v1/sync",
        "_filter",
        "",
        Some(doc.as_bytes()),
    );
    let headers = [("x-meshgate-decision", decision.as_str())];
    match meshgate_e2e::http::post(
        &format!("http://127.0.0.1:{sidecar_port}/_meshgate/v1/sync"),
        &headers,
        doc,
    )
    .await
    {
        Ok(r) if r.status == 200 => r.body.len(),
        _ => 0,
    }
}

fn render(rows: &[Row], create_secs: f64, snapshot_bytes: usize, rss: (i64, i64)) -> String {
    let mut out = format!(
        "The meshgate filter alone (no sidecar hop): `tools/call` straight to the demo upstream, authenticated with one of {KEYS} virtual keys in the snapshot; Envoy 1.40 with 1 worker, 3 s per row.\n\n| path | clients | req/s | p50 µs | p99 µs | errors | added p50 |\n|---|---:|---:|---:|---:|---:|---:|\n"
    );
    for r in rows {
        let plain = rows
            .iter()
            .find(|p| p.clients == r.clients && p.label == "Envoy, plain route");
        let added = match plain {
            Some(p) if r.label != p.label => format!("{:+} µs", r.p50_us as i64 - p.p50_us as i64),
            _ => String::new(),
        };
        out.push_str(&format!(
            "| {} | {} | {:.0} | {} | {} | {} | {} |\n",
            r.label, r.clients, r.rps, r.p50_us, r.p99_us, r.errors, added
        ));
    }
    out.push_str(&format!(
        "\nSnapshot with {KEYS} keys: {:.0} KiB of JSON per download (only when it changes; otherwise 304). Envoy RSS (1 worker) {:.1} MiB with a snapshot of no keys, {:.1} MiB with {KEYS} keys: +{:.1} MiB, held by the VMs that keep a snapshot (the worker's; see docs). Creating the keys in SQLite took {create_secs:.1} s.\n",
        snapshot_bytes as f64 / 1024.0,
        rss.0 as f64 / 1024.0,
        rss.1 as f64 / 1024.0,
        (rss.1 - rss.0) as f64 / 1024.0,
    ));
    out
}
