//! `meshgate-conformance`: runs the official MCP conformance suite
//! (`@modelcontextprotocol/conformance`, pinned in tests/conformance/package.json, server
//! scenarios, active suite) for spec revisions 2025-06-18 and 2025-11-25 against
//!
//! 1. the in-repo conformance fixture (`meshgate-conformance-fixture`) directly, then
//!    through the gateway (Envoy + filter + sidecar) with the fixture as only upstream;
//! 2. `@modelcontextprotocol/server-everything` (tests/node) directly, then through the
//!    gateway.
//!
//! The CLI cannot send headers, so through the gateway the key is added to every request
//! by `tests/conformance/inject-key.cjs` (a Node preload). Prints a score table, writes it
//! to `target/conformance/summary.md` (per-run logs and checks next to it), and exits 1
//! when the fixture fails any scenario (directly or through the gateway) or
//! server-everything scores lower through the gateway than directly.
//!
//! Flags: `--spec V` (repeatable; default both), `--only fixture|everything`,
//! `--report-only` (always exit 0 once the table is written). `scripts/conformance.sh`
//! (`make conformance`) installs and builds everything first.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cli;
mod report;

use cli::{Cli, KeyInjection, Run};
use meshgate_e2e::{
    bin, everything_http, read_listening, repo_root, require, Gateway, GatewayOptions, Proc,
    MASTER_KEY, MAX_LIFETIME_SECS,
};
use report::{Row, Via};
use std::path::PathBuf;
use std::process::Stdio;
use tokio::process::Command;

const SUITE_VERSION: &str = "0.1.16";
const SPECS: [&str; 2] = ["2025-06-18", "2025-11-25"];
const FIXTURE: &str = "fixture";
const EVERYTHING: &str = "server-everything";

struct Options {
    specs: Vec<String>,
    only: Option<String>,
    report_only: bool,
}

fn options() -> Options {
    let mut o = Options {
        specs: Vec::new(),
        only: None,
        report_only: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--spec" => o.specs.extend(args.next()),
            "--only" => o.only = args.next(),
            "--report-only" => o.report_only = true,
            other => {
                eprintln!("unknown argument {other}; flags: --spec V, --only fixture|everything, --report-only");
                std::process::exit(2);
            }
        }
    }
    if o.specs.is_empty() {
        o.specs = SPECS.iter().map(|s| s.to_string()).collect();
    }
    o
}

fn out_dir() -> PathBuf {
    let root = repo_root().canonicalize().unwrap_or_else(|_| repo_root());
    std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"))
        .join("conformance")
}

fn cli() -> Cli {
    let node = std::env::var("MESHGATE_NODE22")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join(".tools/node22/bin/node"));
    require(&node, "run scripts/install-node22.sh");
    let dir = repo_root().join("tests/conformance");
    let script = dir.join("node_modules/@modelcontextprotocol/conformance/dist/index.js");
    require(
        &script,
        "run `npm ci` in tests/conformance (scripts/conformance.sh does)",
    );
    Cli {
        node,
        script,
        inject_key: dir.join("inject-key.cjs"),
    }
}

async fn start_fixture() -> (Proc, String) {
    let path = bin("meshgate-conformance-fixture");
    require(&path, "run `cargo build -p meshgate-demo`");
    let mut cmd = Command::new(path);
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--exit-with-stdin",
        "--max-lifetime-secs",
    ])
    .arg((MAX_LIFETIME_SECS * 6).to_string())
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    let mut proc = Proc::spawn("conformance-fixture", cmd);
    let addr = read_listening(&mut proc).await;
    (proc, addr)
}

/// Runs every requested spec revision against `url`, printing each score as it comes.
async fn run_all(
    cli: &Cli,
    opts: &Options,
    target: &'static str,
    via: Via,
    url: &str,
    rows: &mut Vec<Row>,
) {
    for spec in &opts.specs {
        println!("== {target} via {} ({spec}): {url}", via.label());
        let dir = out_dir().join(format!("{target}-{}-{spec}", via.label()));
        let key = (via == Via::Gateway).then_some(KeyInjection {
            key: MASTER_KEY,
            header: "authorization",
        });
        let run: Run = cli.run(url, spec, &dir, key).await;
        println!(
            "   {}/{} scenarios pass (log: {})",
            run.passed(),
            run.total(),
            run.log.display()
        );
        rows.push(Row {
            target,
            via,
            spec: spec.clone(),
            run,
        });
    }
}

fn upstream_yaml(name: &str, url: &str) -> String {
    format!("  {name}:\n    url: {url}\n    transport: http\n")
}

#[tokio::main]
async fn main() {
    let opts = options();
    let cli = cli();
    let _ = std::fs::create_dir_all(out_dir());
    let mut rows = Vec::new();
    let wanted = |t: &str| opts.only.as_deref().is_none_or(|o| t.contains(o));

    if wanted(FIXTURE) {
        let (_fixture, addr) = start_fixture().await;
        let url = format!("http://{addr}/mcp");
        run_all(&cli, &opts, FIXTURE, Via::Direct, &url, &mut rows).await;
        let gateway =
            Gateway::start_with(GatewayOptions::new(upstream_yaml("conformance", &url))).await;
        run_all(
            &cli,
            &opts,
            FIXTURE,
            Via::Gateway,
            &gateway.url(),
            &mut rows,
        )
        .await;
    }
    if wanted(EVERYTHING) {
        let (_everything, port) = everything_http("streamableHttp").await;
        let url = format!("http://127.0.0.1:{port}/mcp");
        run_all(&cli, &opts, EVERYTHING, Via::Direct, &url, &mut rows).await;
        let gateway =
            Gateway::start_with(GatewayOptions::new(upstream_yaml("everything", &url))).await;
        run_all(
            &cli,
            &opts,
            EVERYTHING,
            Via::Gateway,
            &gateway.url(),
            &mut rows,
        )
        .await;
    }

    let summary = report::markdown(&rows, SUITE_VERSION);
    let summary_path = out_dir().join("summary.md");
    if let Err(e) = std::fs::write(&summary_path, &summary) {
        eprintln!("cannot write {}: {e}", summary_path.display());
    }
    println!("\n{}", report::table(&rows));
    println!("summary: {}", summary_path.display());
    let problems = report::verdict(&rows, FIXTURE, EVERYTHING);
    if problems.is_empty() {
        println!("conformance: OK");
        return;
    }
    println!("conformance: FAILED");
    for p in &problems {
        println!("  - {p}");
    }
    if !opts.report_only {
        std::process::exit(1);
    }
}
