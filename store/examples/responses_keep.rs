//! What keeping a `/v1/responses` answer costs (`Store::put_response`, then the next
//! request's `Store::response_of`), per answer, for a conversation of about 8 KiB:
//! p50 / p99 / max in microseconds over N answers (default 300).
//!
//! `cargo run --release -p meshgate-store --example responses_keep [N]`;
//! `RESPONSES_PG=postgres://…` runs it on PostgreSQL (in the schema `responses_keep`; the
//! rows expire a minute later and the next run's writes prune them).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_store::{OpenOptions, Store, StoredResponse};
use serde_json::json;
use std::time::Instant;

fn percentile(sorted: &[u128], p: f64) -> u128 {
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(300);
    let dir = std::env::temp_dir().join(format!("responses-keep-{}", std::process::id()));
    let store = match std::env::var("RESPONSES_PG") {
        Ok(url) => {
            let opts = OpenOptions {
                schema: Some("responses_keep".into()),
                ..OpenOptions::default()
            };
            Store::open_with(&url, opts).await.unwrap()
        }
        Err(_) => Store::open(dir.to_str().unwrap()).await.unwrap(),
    };
    let turn = "a sentence of the conversation, ".repeat(16);
    let input: Vec<_> = (0..16)
        .map(|i| json!({"type": "message", "role": if i % 2 == 0 { "user" } else { "assistant" }, "content": turn}))
        .collect();
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let (mut put, mut get) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut bytes = 0;
    for i in 0..n {
        let r = StoredResponse {
            id: format!("resp_mg{start:024x}{i:024x}"),
            owner: "key:bench".into(),
            model: "m".into(),
            input: json!(input),
            output: json!([{"type": "message", "role": "assistant",
                            "content": [{"type": "output_text", "text": turn}]}]),
            created_at_ms: start,
            expires_at_ms: start + 60_000,
        };
        bytes = r.bytes();
        let t = Instant::now();
        store.put_response(&r).await.unwrap();
        put.push(t.elapsed().as_micros());
        let t = Instant::now();
        assert!(store
            .response_of(&r.id, "key:bench", 2)
            .await
            .unwrap()
            .is_some());
        get.push(t.elapsed().as_micros());
    }
    for (name, mut v) in [("put_response", put), ("response_of", get)] {
        v.sort_unstable();
        println!(
            "{name}: {bytes} bytes, n={n}: p50 {} µs, p99 {} µs, max {} µs",
            percentile(&v, 0.5),
            percentile(&v, 0.99),
            v[v.len() - 1]
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}
