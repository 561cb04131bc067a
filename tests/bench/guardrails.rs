//! `make bench`: the guardrail detectors' own cost per KB of typical `tools/call`
//! arguments, with every built-in detector on (one guardrail, no pii_entities_config),
//! beside the cost of parsing the same JSON. Pure CPU, no Envoy. Writes the
//! `bench:guardrails` section of docs/benchmarks.md.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_policy::guardrails::{
    check_arguments, check_arguments_raw, parse_guardrails, scan_value, Builtin, Guardrail,
    GuardrailSet, Verdict,
};
use serde_json::{json, Value};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// ~10 KB of arguments as agents send them: prose, code, ids, paths, timestamps,
/// numbers, nested records.
fn typical_arguments(target: usize) -> Value {
    let prose = "Please summarise the incident report below and open a follow-up ticket. \
        The deploy at 14:32 UTC rolled back after the health check failed on 3 of 12 pods; \
        error rate peaked at 4.7% (p99 latency 1840 ms). Version 2.14.3 is pinned until the \
        fix in commit 9f86d081 lands. See runbook section 4.2 and dashboard /d/abc123/api?orgId=1.";
    let code = "fn main() {\n    let v: Vec<u32> = (0..10).map(|x| x * 2).collect();\n    println!(\"{:?}\", v);\n}\n";
    let mut records = Vec::new();
    let mut i = 0u64;
    loop {
        let record = json!({
            "id": format!("{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}", i * 2654435761 % 0xffff_ffff, i % 0xffff, i % 0xfff, (i * 7) % 0xfff, i * 1_000_003),
            "sha": format!("{:016x}{:016x}{:08x}", i * 0x9E37_79B9_7F4A_7C15, i ^ 0xdead_beef, i),
            "created_at": format!("2026-12-{:02}T{:02}:{:02}:00Z", i % 28 + 1, i % 24, i % 60),
            "path": format!("/srv/app/releases/v1.{i}.0/config/service-{i}.yaml"),
            "title": format!("Ticket {i}: {}", &prose[..80]),
            "count": i * 37,
            "ratio": 0.125 * i as f64,
            "tags": ["backend", "p2", format!("sprint-{}", i % 9)],
            "body": if i.is_multiple_of(3) { code.to_string() } else { prose.to_string() },
        });
        records.push(record);
        i += 1;
        let v =
            json!({"query": prose, "records": records, "options": {"dry_run": false, "limit": 50}});
        if serde_json::to_vec(&v).map_or(0, |b| b.len()) >= target {
            return v;
        }
    }
}

/// This process's CPU time (user + system) from /proc: the machine is shared, and
/// wall time would count the time other processes held the cores.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the `(comm)`: utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    let ticks: u64 = fields.iter().sum();
    Duration::from_millis(ticks * 10) // CLK_TCK = 100
}

fn time_per_iter(mut f: impl FnMut(), budget: Duration) -> Duration {
    // Warm up, then run for the budget of CPU time.
    for _ in 0..50 {
        f();
    }
    let start = cpu_time();
    let wall = Instant::now();
    let mut n = 0u32;
    while cpu_time() - start < budget && wall.elapsed() < budget * 20 {
        for _ in 0..20 {
            f();
        }
        n += 20;
    }
    (cpu_time() - start) / n.max(1)
}

fn main() {
    let specs = parse_guardrails(&[json!({
        "guardrail_name": "all",
        "litellm_params": {"guardrail": "meshgate", "mode": "pre_mcp_call"}
    })])
    .expect("spec");
    let set = GuardrailSet::compile(&specs).expect("compile");
    let all: Vec<&Guardrail> = set.iter().collect();

    let args = typical_arguments(10 * 1024);
    let bytes = serde_json::to_vec(&args).expect("json");
    let kb = bytes.len() as f64 / 1024.0;
    assert!(
        scan_value(&all, &args).is_empty(),
        "the clean arguments have no finding"
    );

    let budget = Duration::from_millis(1500);
    let scan = time_per_iter(
        || {
            black_box(scan_value(&all, black_box(&args)));
        },
        budget,
    );
    let parse = time_per_iter(
        || {
            black_box(serde_json::from_slice::<Value>(black_box(&bytes)).ok());
        },
        budget,
    );
    // What the filter runs: from the JSON text, no tree unless something is found.
    let text = String::from_utf8(bytes.clone()).expect("utf-8");
    let raw = time_per_iter(
        || {
            black_box(matches!(
                check_arguments_raw(&all, black_box(&text)),
                Verdict::Pass
            ));
        },
        budget,
    );
    let mut dirty = args.clone();
    dirty["records"][3]["body"] =
        json!("mail jane.doe@example.com, card 4111 1111 1111 1111, key AKIAIOSFODNN7EXAMPLE");
    let mask = time_per_iter(
        || {
            black_box(matches!(
                check_arguments(&all, black_box(&dirty)),
                Verdict::Block(_) | Verdict::Mask { .. }
            ));
        },
        budget,
    );

    // One user pattern (regex-lite), no built-in entity.
    let specs = parse_guardrails(&[json!({
        "guardrail_name": "custom",
        "litellm_params": {"guardrail": "meshgate", "mode": "pre_mcp_call",
            "patterns": [{"name": "EMPLOYEE_ID", "pattern": "EMP-\\d{6}", "action": "MASK"}]}
    })])
    .expect("spec");
    let custom = GuardrailSet::compile(&specs).expect("compile");
    let custom: Vec<&Guardrail> = custom.iter().collect();
    let regex = time_per_iter(
        || {
            black_box(scan_value(&custom, black_box(&args)));
        },
        budget,
    );
    // A pattern with no literal to look for first: regex-lite runs on every string.
    let specs = parse_guardrails(&[json!({
        "guardrail_name": "custom",
        "litellm_params": {"guardrail": "meshgate", "mode": "pre_mcp_call",
            "patterns": [{"name": "TICKET_REF", "pattern": "[A-Z]{3}-\\d{6}", "action": "MASK"}]}
    })])
    .expect("spec");
    let no_prefix = GuardrailSet::compile(&specs).expect("compile");
    let no_prefix: Vec<&Guardrail> = no_prefix.iter().collect();
    let regex_full = time_per_iter(
        || {
            black_box(scan_value(&no_prefix, black_box(&args)));
        },
        budget,
    );
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let per_kb = us(scan) / kb;
    // Each detector alone, to see where the time goes.
    let mut each = String::new();
    for entity in Builtin::ALL {
        let specs = parse_guardrails(&[json!({
            "guardrail_name": "one",
            "litellm_params": {"guardrail": "meshgate", "mode": "pre_mcp_call",
                "pii_entities_config": {entity.name(): "MASK"}}
        })])
        .expect("spec");
        let one = GuardrailSet::compile(&specs).expect("compile");
        let one: Vec<&Guardrail> = one.iter().collect();
        let t = time_per_iter(
            || {
                black_box(scan_value(&one, black_box(&args)));
            },
            Duration::from_millis(500),
        );
        each.push_str(&format!("{} {:.2}, ", entity.name(), us(t) / kb));
    }
    let each = each.trim_end_matches(", ").to_string();
    let table = format!(
        "All 13 built-in detectors (one guardrail, no `pii_entities_config`) over {:.1} KB of typical `tools/call` arguments (prose, code, UUIDs, SHAs, timestamps, paths, numbers; no finding), release build, native x86-64, CPU time of the bench process (the machine is shared).\n\n\
         | what | per call µs | per KB µs |\n|---|---:|---:|\n\
         | detectors (`scan_value`, clean arguments) | {:.1} | **{:.2}** |\n\
         | `serde_json` parse of the same bytes (for scale) | {:.1} | {:.2} |\n\
         | `check_arguments_raw` on the JSON text (what the filter runs: detectors while parsing, no tree) | {:.1} | {:.2} |\n\
         | `check_arguments` with 3 findings (scan + clone + mask) | {:.1} | {:.2} |\n\
         | one user pattern `EMP-\\d{{6}}` alone (no `EMP-` in the text: skipped by the literal prefilter) | {:.1} | {:.2} |\n\
         | one user pattern `[A-Z]{{3}}-\\d{{6}}` alone (no literal: regex-lite on every string) | {:.1} | {:.2} |\n\n\
         Target: detectors ≤ 20 µs per KB → {}.\n\n\
         Each detector alone, µs per KB (the walk over the JSON is in every one): {}.\n",
        kb,
        us(scan), per_kb,
        us(parse), us(parse) / kb,
        us(raw), us(raw) / kb,
        us(mask), us(mask) / kb,
        us(regex), us(regex) / kb,
        us(regex_full), us(regex_full) / kb,
        if per_kb <= 20.0 { "met" } else { "NOT met" },
        each,
    );
    println!("{table}");
    meshgate_e2e::load::write_into_docs("guardrails", &table);
}
