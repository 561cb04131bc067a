//! The conformance fixture: an MCP server over streamable HTTP at `/mcp` offering every
//! tool, resource and prompt the official conformance suite's server scenarios use
//! (`@modelcontextprotocol/conformance`, `conformance server --url …`), so the suite can
//! prove the gateway relays them faithfully. Listens on 127.0.0.1 only, prints
//! `LISTENING <addr>`, and exits after `--max-lifetime-secs` (default 3600), or when
//! stdin closes with `--exit-with-stdin`. `--client-timeout-ms` bounds how long a
//! sampling or elicitation request waits for the client (default 10000).

#[path = "../conformance/mod.rs"]
mod conformance;

use conformance::{transport, Fixture};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use meshgate_demo::{parse_common, spawn_lifetime_guards};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

const DEFAULT_LIFETIME_SECS: u64 = 3600;

#[tokio::main]
async fn main() {
    let mut args = parse_common("conformance-fixture");
    if args.max_lifetime_secs == 0 {
        args.max_lifetime_secs = DEFAULT_LIFETIME_SECS;
    }
    let mut client_timeout = Duration::from_secs(10);
    let mut rest = args.rest.iter();
    while let Some(a) = rest.next() {
        match a.as_str() {
            "--client-timeout-ms" => {
                if let Some(ms) = rest.next().and_then(|v| v.parse().ok()) {
                    client_timeout = Duration::from_millis(ms);
                }
            }
            other => {
                eprintln!("unknown flag {other}");
                std::process::exit(2);
            }
        }
    }
    spawn_lifetime_guards(&args);
    match args.listen.parse::<SocketAddr>() {
        Ok(addr) if addr.ip().is_loopback() => {}
        _ => {
            eprintln!("--listen must be a loopback address (got {})", args.listen);
            std::process::exit(2);
        }
    }
    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {}: {e}", args.listen);
            std::process::exit(2);
        }
    };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    println!("LISTENING {addr}");
    let fixture = Arc::new(Fixture::new(&args.name, client_timeout));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let fixture = Arc::clone(&fixture);
        tokio::spawn(async move {
            let svc = service_fn(move |req| transport::handle(Arc::clone(&fixture), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
