//! `meshgate-demo-petstore`: a slice of the Swagger Petstore v3 API with an in-memory store,
//! a recorder of every request (`GET /__recorded`, `DELETE /__recorded`) and a spec file
//! server (`GET /spec/<file>` from `--spec-dir`). Test server conventions: `--listen`
//! (127.0.0.1 only, default `127.0.0.1:0`), prints `LISTENING 127.0.0.1:<port>` once bound,
//! exits when stdin reaches EOF or after `--max-lifetime-secs` (default 600).

mod petstore;
mod recorder;
mod util;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncReadExt as _;

struct Cli {
    listen: SocketAddr,
    spec_dir: Option<PathBuf>,
    max_lifetime: Duration,
}

fn usage(msg: &str) -> ! {
    eprintln!("meshgate-demo-petstore: {msg}");
    eprintln!(
        "usage: meshgate-demo-petstore [--listen 127.0.0.1:0] [--spec-dir DIR] [--max-lifetime-secs 600]"
    );
    std::process::exit(2)
}

fn parse_cli() -> Cli {
    let mut cli = Cli {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        spec_dir: None,
        max_lifetime: Duration::from_secs(600),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (a.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--listen" => {
                let v = value();
                cli.listen = v
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("bad --listen address `{v}`")));
            }
            "--spec-dir" => cli.spec_dir = Some(PathBuf::from(value())),
            "--max-lifetime-secs" => {
                let v = value();
                let secs: u64 = v
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("bad --max-lifetime-secs `{v}`")));
                cli.max_lifetime = Duration::from_secs(secs);
            }
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown argument `{other}`")),
        }
    }
    if !cli.listen.ip().is_loopback() || !cli.listen.is_ipv4() {
        usage("--listen must be a 127.0.0.1 address");
    }
    cli
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let cli = parse_cli();
    let listener = match tokio::net::TcpListener::bind(cli.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "meshgate-demo-petstore: cannot listen on {}: {e}",
                cli.listen
            );
            std::process::exit(1);
        }
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("meshgate-demo-petstore: {e}");
            std::process::exit(1);
        }
    };
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "LISTENING {addr}");
        let _ = out.flush();
    }

    // Stop when the harness closes our stdin, and in any case after the max lifetime.
    tokio::spawn(async {
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 256];
        loop {
            match stdin.read(&mut buf).await {
                Ok(0) | Err(_) => std::process::exit(0),
                Ok(_) => {}
            }
        }
    });
    let lifetime = cli.max_lifetime;
    tokio::spawn(async move {
        tokio::time::sleep(lifetime).await;
        eprintln!("meshgate-demo-petstore: max lifetime reached, exiting");
        std::process::exit(0);
    });

    let state = Arc::new(petstore::State::new(cli.spec_dir));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, std::convert::Infallible>(petstore::handle(&state, req).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
