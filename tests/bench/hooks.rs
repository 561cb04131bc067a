//! `make bench`: custom hooks (docs/hooks.md), two measurements in one run.
//!
//! 1. In-process, under the sidecar's engine settings (Cranelift, fuel on): one
//!    invocation of a pass-through hook — a fresh instance from a pre-linked
//!    `InstancePre` with the on-demand allocator, the same with wasmtime's pooling
//!    allocator (what the sidecar does), and calling one live instance again (the lower bound a pool of live
//!    instances could reach, at the price of state surviving between principals' calls).
//! 2. End to end: `tools/call` (`echo`) through Envoy + meshgate with no hook, with a
//!    pass-through hook on pre_call and post_call (both answer "no change"), and with the
//!    example Rust hook (post_call: redact + cost): one gateway, three servers on one
//!    upstream, measured in alternation; 1 client and 16 clients. The per-call cost is
//!    the difference of mean latency and of the sidecar's CPU time per call.
//!
//! Writes the `bench:hooks` section of docs/benchmarks.md.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use meshgate_e2e::hooks::{example_hook, failing_hook, fixed_hook, write_hook, Failing};
use meshgate_e2e::load::*;
use meshgate_e2e::*;
use serde_json::json;
use std::time::Instant;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, Linker, Module, PoolingAllocationConfig, Store,
    StoreLimits, StoreLimitsBuilder,
};

const INVOCATIONS: u32 = 20_000;
const MAX_MEMORY: usize = 16 * 1024 * 1024;

/// A typical pre_call input (~400 bytes).
fn input() -> Vec<u8> {
    json!({"abi": 1, "event": "pre_call", "server": "web", "tool": "echo", "name": "web-echo",
        "principal": {"kind": "key", "key_id": "3f9c2a1b7d", "key_alias": "ci-bot", "team_id": "team-1", "organization_id": "org-1"},
        "arguments": {"text": "hello", "query": "SELECT name FROM users WHERE id = 7", "limit": 20}})
    .to_string()
    .into_bytes()
}

fn store(engine: &Engine) -> Store<StoreLimits> {
    let mut store = Store::new(
        engine,
        StoreLimitsBuilder::new().memory_size(MAX_MEMORY).build(),
    );
    store.limiter(|l| l);
    store.set_fuel(50_000_000).unwrap();
    store
}

/// One invocation as the sidecar makes it: instantiate, alloc, write, call.
fn invoke(pre: &wasmtime::InstancePre<StoreLimits>, engine: &Engine, input: &[u8]) -> i64 {
    let mut store = store(engine);
    let instance = pre.instantiate(&mut store).unwrap();
    call(&instance, &mut store, input)
}

fn call(instance: &wasmtime::Instance, store: &mut Store<StoreLimits>, input: &[u8]) -> i64 {
    let memory = instance.get_memory(&mut *store, "memory").unwrap();
    let alloc = instance
        .get_typed_func::<i32, i32>(&mut *store, "alloc")
        .unwrap();
    let f = instance
        .get_typed_func::<(i32, i32), i64>(&mut *store, "pre_call")
        .unwrap();
    let ptr = alloc.call(&mut *store, input.len() as i32).unwrap();
    memory.write(&mut *store, ptr as usize, input).unwrap();
    f.call(&mut *store, (ptr, input.len() as i32)).unwrap()
}

fn per_call_us(mut f: impl FnMut()) -> f64 {
    for _ in 0..1000 {
        f();
    }
    let start = Instant::now();
    for _ in 0..INVOCATIONS {
        f();
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(INVOCATIONS)
}

/// (label, µs per invocation)
fn in_process(wasm: &[u8]) -> Vec<(&'static str, f64)> {
    let input = input();
    let mut out = Vec::new();
    // (pooling, memory reset by a scan of the dirty pages instead of `madvise`)
    let engine_with = |pooling: bool, keep_resident: bool| {
        let mut config = Config::new();
        config.consume_fuel(true);
        if pooling {
            let mut pool = PoolingAllocationConfig::default();
            pool.total_core_instances(64)
                .total_memories(64)
                .total_tables(64)
                .max_memory_size(MAX_MEMORY);
            if keep_resident {
                pool.linear_memory_keep_resident(MAX_MEMORY)
                    .table_keep_resident(64 * 1024)
                    .pagemap_scan(wasmtime::Enabled::Auto);
            }
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        Engine::new(&config).unwrap()
    };
    for (label, pooling, keep_resident) in [
        (
            "fresh instance from InstancePre, on-demand allocator",
            false,
            false,
        ),
        (
            "fresh instance from InstancePre, pooling allocator, memory reset by madvise",
            true,
            false,
        ),
        (
            "fresh instance from InstancePre, pooling allocator, dirty pages reset in place (the sidecar)",
            true,
            true,
        ),
    ] {
        let engine = engine_with(pooling, keep_resident);
        let module = Module::from_binary(&engine, wasm).unwrap();
        let mut linker = Linker::new(&engine);
        linker.define_unknown_imports_as_traps(&module).unwrap();
        let pre = linker.instantiate_pre(&module).unwrap();
        let us = per_call_us(|| {
            assert_eq!(invoke(&pre, &engine, &input) & 0xffff_ffff, 0);
        });
        out.push((label, us));
    }
    let engine = engine_with(false, false);
    let module = Module::from_binary(&engine, wasm).unwrap();
    let linker = Linker::new(&engine);
    let mut store = store(&engine);
    let instance = linker.instantiate(&mut store, &module).unwrap();
    let us = per_call_us(|| {
        store.set_fuel(50_000_000).unwrap();
        assert_eq!(call(&instance, &mut store, &input) & 0xffff_ffff, 0);
    });
    out.push(("one live instance called again (no isolation)", us));
    out
}

/// How long a hook that loops forever holds a worker before the default fuel (50 M)
/// stops it, in ms (mean of 20).
fn fuel_stop_ms() -> f64 {
    let wasm = wat::parse_str(failing_hook(Failing::Loop)).unwrap();
    let mut config = Config::new();
    config.consume_fuel(true);
    let engine = Engine::new(&config).unwrap();
    let module = Module::from_binary(&engine, &wasm).unwrap();
    let pre = Linker::new(&engine).instantiate_pre(&module).unwrap();
    let input = input();
    let start = Instant::now();
    for _ in 0..20 {
        let mut store = store(&engine);
        let instance = pre.instantiate(&mut store).unwrap();
        let f = instance
            .get_typed_func::<(i32, i32), i64>(&mut store, "pre_call")
            .unwrap();
        let e = f.call(&mut store, (0, input.len() as i32)).unwrap_err();
        assert_eq!(
            e.downcast_ref::<wasmtime::Trap>(),
            Some(&wasmtime::Trap::OutOfFuel)
        );
    }
    start.elapsed().as_secs_f64() * 1000.0 / 20.0
}

/// One gateway, three servers on one upstream: `plain` has no hook, `pass` a
/// pass-through hook on both events, `example` the example Rust hook on post_call. The
/// three paths share Envoy, sidecar and upstream, so their difference is the hooks'.
async fn gateway(addr: &str, pass: &std::path::Path, example: &std::path::Path) -> Gateway {
    let servers: String = ["plain", "pass", "example"]
        .iter()
        .map(|name| format!("  {name}:\n    url: http://{addr}/mcp\n    transport: http\n"))
        .collect();
    let mut opts = GatewayOptions::new(servers);
    opts.meshgate_yaml = format!(
        "  hooks:\n    - {{path: \"{}\", events: [pre_call, post_call], servers: [pass]}}\n    - {{path: \"{}\", events: [post_call], servers: [example]}}\n",
        pass.display(),
        example.display()
    );
    Gateway::start_with(opts).await
}

async fn target(label: &'static str, gw: &Gateway, server: &str) -> Target {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": format!("{server}-echo"), "arguments": {"text": "hello"}}});
    session_target(label, gw, Bytes::from(body.to_string()), "hello").await
}

fn rounds() -> usize {
    std::env::var("HOOKS_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

/// One measured row: the load generator's numbers and the sidecar's CPU µs per call.
struct Measured {
    row: Row,
    round: usize,
    sidecar_cpu_us: f64,
}

#[tokio::main]
async fn main() {
    let dir = TempDir::new("bench-hooks");
    let pass = write_hook(&dir.0, "pass", &fixed_hook(Some(""), Some("")));
    let wasm = std::fs::read(&pass).unwrap();
    let micro = in_process(&wasm);
    let fuel_ms = fuel_stop_ms();

    let example = example_hook("cost_redact.wasm");
    let (_upstream, addr) = demo_http("bench_hooks", &[]).await;
    let gw = gateway(&addr, &pass, &example).await;
    let targets = [
        target("no hook", &gw, "plain").await,
        target("pass-through hook (pre_call + post_call)", &gw, "pass").await,
        target(
            "example Rust hook (post_call: redact + cost)",
            &gw,
            "example",
        )
        .await,
    ];
    for t in &targets {
        let (ok, text) = one_call(t).await;
        assert!(ok && text.contains("hello"), "{} answered: {text}", t.label);
    }
    let mut rows = Vec::new();
    for clients in [1, 16] {
        for round in 0..rounds() {
            for t in &targets {
                let (row, [sidecar_cpu_us]) = measure_with_cpu(t, clients, [&gw.sidecar]).await;
                rows.push(Measured {
                    row,
                    round,
                    sidecar_cpu_us,
                });
            }
        }
    }
    let table = render(&micro, fuel_ms, &rows);
    println!("{table}");
    write_into_docs("hooks", &table);
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn render(micro: &[(&str, f64)], fuel_ms: f64, rows: &[Measured]) -> String {
    let mut out = format!(
        "In-process, one invocation of a pass-through hook (input {} bytes; alloc, write, call; answer \"no change\"), {INVOCATIONS} invocations, release build:\n\n| how | µs per invocation |\n|---|---:|\n",
        input().len()
    );
    for (label, us) in micro {
        out.push_str(&format!("| {label} | {us:.2} |\n"));
    }
    out.push_str(&format!(
        "\nA hook that loops forever is stopped by the default fuel (50 M) after {fuel_ms:.1} ms.\n"
    ));
    let rounds = rows.iter().map(|m| m.round + 1).max().unwrap_or(0);
    out.push_str(&format!(
        "\nEnd to end: `tools/call` (`echo`, tiny arguments) through Envoy + meshgate: one gateway with three servers on one upstream (no hook / pass-through hook / example hook), measured in alternation ({rounds} rounds), {}s per row after {}ms warm-up, Envoy with 1 worker, one machine (2 cores) shared by the load generator, Envoy, the sidecar and the upstream. Mean µs = 1 s / (req/s ÷ clients); sidecar CPU is the sidecar process's user + system time per answered call; \"+\" columns are the difference to no hook in the same round.\n\n| path | clients | round | req/s | mean µs | p50 µs | p99 µs | errors | sidecar CPU µs/call | +µs per call | +sidecar CPU µs/call |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        MEASURE.as_secs(),
        WARMUP.as_millis()
    ));
    let mean = |r: &Row| r.clients as f64 * 1e6 / r.rps.max(1.0);
    // (clients, target index) -> (+latency, +cpu) per round, for the medians.
    let mut deltas: std::collections::BTreeMap<(usize, usize), (Vec<f64>, Vec<f64>)> =
        std::collections::BTreeMap::new();
    for round in rows.chunks(3) {
        let base = &round[0];
        for (j, m) in round.iter().enumerate() {
            let r = &m.row;
            let (extra, extra_cpu) = if j == 0 {
                (String::new(), String::new())
            } else {
                let d = mean(r) - mean(&base.row);
                let c = m.sidecar_cpu_us - base.sidecar_cpu_us;
                let entry = deltas.entry((r.clients, j)).or_default();
                entry.0.push(d);
                entry.1.push(c);
                (format!("{d:+.0}"), format!("{c:+.1}"))
            };
            out.push_str(&format!(
                "| {} | {} | {} | {:.0} | {:.0} | {} | {} | {} | {:.1} | {} | {} |\n",
                r.label,
                r.clients,
                m.round + 1,
                r.rps,
                mean(r),
                r.p50_us,
                r.p99_us,
                r.errors,
                m.sidecar_cpu_us,
                extra,
                extra_cpu
            ));
        }
    }
    out.push_str("\nMedians over the rounds:\n\n| path | clients | +µs per call | +sidecar CPU µs per call |\n|---|---:|---:|---:|\n");
    for ((clients, j), (d, c)) in deltas {
        let label = rows.get(j).map_or("", |m| m.row.label);
        out.push_str(&format!(
            "| {label} | {clients} | {:+.0} | {:+.1} |\n",
            median(d),
            median(c)
        ));
    }
    out
}
