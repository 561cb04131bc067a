//! The filter's pre-call scan (`scan_message`, every built-in detector) of the guarded
//! bench's ~10 KB `tools/call`, in a loop: for profiling (`perf record`) and for timing
//! the scan as the filter runs it, as wasm with SIMD in V8 (docs/benchmarks.md):
//!
//! ```sh
//! cargo build --profile release-wasm --target wasm32-wasip1 -p meshgate-policy --example scan_loop
//! node scripts/wasi-run.mjs target/wasm32-wasip1/release-wasm/examples/scan_loop.wasm
//! ```
//!
//! `parse` as the argument times serde's walk of the same bytes alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use meshgate_policy::guardrails::{
    message::scan_message, parse_guardrails, Guardrail, GuardrailSet,
};
use serde_json::{json, Value};
use std::time::Instant;

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
        if v.to_string().len() >= 10_240 {
            return v;
        }
    }
}

fn main() {
    // `SCAN_ENTITIES=EMAIL_ADDRESS,US_SSN` limits the detectors (default: all).
    let mut params = json!({"guardrail": "meshgate", "mode": "pre_mcp_call", "default_on": true});
    if let Ok(list) = std::env::var("SCAN_ENTITIES") {
        let config: serde_json::Map<String, Value> = list
            .split(',')
            .map(|e| (e.to_string(), json!("BLOCK")))
            .collect();
        params["pii_entities_config"] = Value::Object(config);
    }
    let specs =
        parse_guardrails(&[json!({"guardrail_name": "all", "litellm_params": params})]).unwrap();
    let set = GuardrailSet::compile(&specs).unwrap();
    let all: Vec<&Guardrail> = set.iter().collect();
    let body = serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "web-echo", "arguments": arguments()}})).unwrap();
    let mode = std::env::args().nth(1).unwrap_or_default();
    let n = 200_000;
    let t = Instant::now();
    for _ in 0..n {
        if mode == "parse" {
            std::hint::black_box(
                serde_json::from_slice::<serde::de::IgnoredAny>(std::hint::black_box(&body)).ok(),
            );
        } else {
            std::hint::black_box(scan_message(&all, std::hint::black_box(&body)));
        }
    }
    let per = t.elapsed() / n;
    println!(
        "{} bytes, {:?} per call, {:.2} µs/KB",
        body.len(),
        per,
        per.as_secs_f64() * 1e6 / (body.len() as f64 / 1024.0)
    );
}
