//! meshgate sidecar: terminates MCP sessions for the filter, runs and pools upstreams.

mod admin;
mod audit;
mod body;
mod error;
mod guard;
mod guardrails;
mod health;
mod hooks;
mod jsonrpc;
mod limited_body;
mod llm;
mod log_limit;
mod mcp;
mod naming;
mod relay;
mod replay;
mod server;
mod sessions;
mod spend;
mod sse;
mod state;
mod stored;
mod sync;
mod sync_book;
mod tls;
mod upstream;
mod verify;
mod versions;

/// jemalloc instead of glibc malloc: memory freed when thousands of event streams close
/// goes back to the OS (background purging, dirty pages kept ~1 s, no lazy MADV_FREE)
/// instead of staying as glibc's high-water mark (docs/benchmarks.md, soak).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
// jemalloc reads its options from this exported symbol; exporting a symbol is what the
// workspace's unsafe_code lint flags, and this one names only jemalloc's own option string.
#[allow(unsafe_code)]
#[export_name = "_rjem_malloc_conf"]
static JEMALLOC_CONF: &[u8] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// How often the database revision is checked: writes made through another replica reach
/// this sidecar's filters within it (pushed to their long-polls at once); writes through
/// this sidecar are enforced when they return (`AppState::propagate`).
const STORE_POLL: Duration = Duration::from_millis(250);
/// How long shutdown waits for queued spend rows to be written.
const SPEND_FLUSH_DEADLINE: Duration = Duration::from_secs(20);

const USAGE: &str = "usage: meshgate-sidecar [--listen ADDR] [--data-dir DIR] [--secret-env NAME] [--config FILE]
       meshgate-sidecar --check-config FILE

  --listen ADDR       address to serve the filter on (default 127.0.0.1:7300)
  --data-dir DIR      where state is kept (default .meshgate); SQLite lives here by default
  --database-url URL  postgres://… or sqlite://… instead (env DATABASE_URL)
  --database-schema S PostgreSQL schema to keep meshgate's tables in (env MESHGATE_DATABASE_SCHEMA)
  --secret-env NAME   environment variable holding the shared secret (default MESHGATE_SHARED_SECRET)
  --config FILE       load this gateway document at start (the filter's sync replaces it)
  --tls-cert FILE     serve TLS with this PEM certificate chain (with --tls-key)
  --tls-key FILE      the PEM private key of --tls-cert
  --tls-client-ca F   require client certificates signed by this PEM CA (mTLS with Envoy)
  --workers N         runtime threads (default: half the cores, at least 1; env MESHGATE_WORKERS)
  --als-listen ADDR   serve Envoy's AccessLogService (the audit trail) here (env MESHGATE_ALS_LISTEN)
  --als-token-env N   environment variable holding the access-log stream's token (default MESHGATE_ALS_TOKEN)
  --spend-queue N     spend rows held for the writer (default 10000); when full a request
                      waits up to --spend-queue-wait-ms (default 10) for room, then the row
                      is dropped and counted (GET /spend/metrics)
  --spend-batch-ms MS the spend writer gathers rows this long after the first (default 100)
                      (env MESHGATE_SPEND_QUEUE, MESHGATE_SPEND_QUEUE_WAIT_MS, MESHGATE_SPEND_BATCH_MS)
  --check-config FILE validate a gateway document (envoy filter configuration or LiteLLM config.yaml) and exit
Credentials at rest: env MESHGATE_STORE_KEY seals them (default: derived from the shared secret);
  MESHGATE_STORE_KEY_PREVIOUS (comma-separated) still opens rows sealed before a rotation.
Servers registered through the admin API (stored in the database):";

struct Args {
    listen: SocketAddr,
    data_dir: String,
    secret_env: String,
    config: Option<String>,
    database_url: Option<String>,
    database_schema: Option<String>,
    check: Option<String>,
    workers: Option<usize>,
    spend: spend::QueueSettings,
    tls: tls::TlsFiles,
    host: guard::flags::HostArgs,
    als_listen: Option<SocketAddr>,
    als_token_env: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        listen: SocketAddr::from(([127, 0, 0, 1], 7300)),
        data_dir: ".meshgate".into(),
        secret_env: "MESHGATE_SHARED_SECRET".into(),
        config: None,
        database_url: std::env::var("DATABASE_URL")
            .ok()
            .filter(|v| !v.trim().is_empty()),
        database_schema: std::env::var("MESHGATE_DATABASE_SCHEMA")
            .ok()
            .filter(|v| !v.trim().is_empty()),
        check: None,
        workers: std::env::var("MESHGATE_WORKERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|n| *n > 0),
        spend: spend_from_env()?,
        tls: tls::TlsFiles::default(),
        host: guard::flags::HostArgs::from_env(),
        als_listen: match std::env::var("MESHGATE_ALS_LISTEN") {
            Ok(v) if !v.trim().is_empty() => Some(
                v.trim()
                    .parse()
                    .map_err(|_| "MESHGATE_ALS_LISTEN needs HOST:PORT".to_string())?,
            ),
            _ => None,
        },
        als_token_env: "MESHGATE_ALS_TOKEN".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => {
                args.listen = value()?
                    .parse()
                    .map_err(|_| "--listen needs HOST:PORT".to_string())?
            }
            "--data-dir" => args.data_dir = value()?,
            "--als-listen" => {
                args.als_listen = Some(
                    value()?
                        .parse()
                        .map_err(|_| "--als-listen needs HOST:PORT".to_string())?,
                )
            }
            "--als-token-env" => args.als_token_env = value()?,
            "--secret-env" => args.secret_env = value()?,
            "--config" => args.config = Some(value()?),
            "--database-url" => args.database_url = Some(value()?),
            "--database-schema" => args.database_schema = Some(value()?),
            "--check-config" => args.check = Some(value()?),
            "--tls-cert" => args.tls.cert = Some(value()?),
            "--tls-key" => args.tls.key = Some(value()?),
            "--tls-client-ca" => args.tls.client_ca = Some(value()?),
            "--workers" => {
                args.workers = Some(
                    value()?
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or("--workers needs a positive number")?,
                )
            }
            "--spend-queue" => {
                args.spend.capacity = value()?
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or("--spend-queue needs a positive number")?
            }
            "--spend-queue-wait-ms" => args.spend.wait = millis(&flag, &value()?)?,
            "--spend-batch-ms" => args.spend.linger = millis(&flag, &value()?)?,
            f if guard::flags::HostArgs::is_flag(f) => {
                let v = value()?;
                args.host.take(f, v);
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(args)
}

/// The spend queue's knobs from `MESHGATE_SPEND_QUEUE`, `MESHGATE_SPEND_QUEUE_WAIT_MS`
/// and `MESHGATE_SPEND_BATCH_MS` (the flags win).
fn spend_from_env() -> Result<spend::QueueSettings, String> {
    let mut q = spend::QueueSettings::default();
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if let Some(v) = var("MESHGATE_SPEND_QUEUE") {
        q.capacity = v
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or("MESHGATE_SPEND_QUEUE needs a positive number")?;
    }
    if let Some(v) = var("MESHGATE_SPEND_QUEUE_WAIT_MS") {
        q.wait = millis("MESHGATE_SPEND_QUEUE_WAIT_MS", &v)?;
    }
    if let Some(v) = var("MESHGATE_SPEND_BATCH_MS") {
        q.linger = millis("MESHGATE_SPEND_BATCH_MS", &v)?;
    }
    Ok(q)
}

fn millis(flag: &str, v: &str) -> Result<Duration, String> {
    v.trim()
        .parse()
        .map(Duration::from_millis)
        .map_err(|_| format!("{flag} needs a number of milliseconds"))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprintln!("{USAGE}\n{}", guard::flags::USAGE);
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MESHGATE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Some(path) = &args.check {
        return match read_and_check(path) {
            Ok(n) => {
                println!("{path}: valid ({n} MCP servers)");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{path}: {e}");
                ExitCode::from(2)
            }
        };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads(args.workers))
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// `--workers` (or `MESHGATE_WORKERS`), else half the cores, at least 1: the other half is
/// left to Envoy on the same host.
fn worker_threads(requested: Option<usize>) -> usize {
    requested.unwrap_or_else(|| {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        (cores / 2).max(1)
    })
}

fn read_and_check(path: &str) -> Result<usize, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let config = state::load_effective_config(&text).map_err(|e| e.to_string())?;
    // The hooks' modules are opened, compiled and checked as the sidecar would.
    hooks::load(&config.meshgate.hooks).map_err(|e| e.to_string())?;
    for warning in &config.warnings {
        println!("{path}: warning: {warning}");
    }
    Ok(config.mcp_servers.len())
}

async fn run(mut args: Args) -> Result<(), String> {
    use meshgate_policy::shared_secret::{SecretError, SharedSecret};
    let env = meshgate_policy::env::ProcessEnv;
    let secret = SharedSecret::from_env(&args.secret_env, &env).map_err(|e| match e {
        SecretError::TooShort => format!("the shared secret in {} {e}", args.secret_env),
        _ => format!(
            "the shared secret is missing: set the environment variable {}",
            args.secret_env
        ),
    })?;
    let host = std::mem::take(&mut args.host).into_policy(args.listen.port(), &args.secret_env)?;
    std::fs::create_dir_all(&args.data_dir)
        .map_err(|e| format!("cannot create data dir {}: {e}", args.data_dir))?;
    restrict_to_owner(&args.data_dir);
    let store_target = args
        .database_url
        .clone()
        .unwrap_or_else(|| args.data_dir.clone());
    let options = meshgate_store::OpenOptions {
        schema: args.database_schema.clone(),
        keys: Some(Arc::new(store_keys(secret.as_str())?)),
        ..Default::default()
    };
    let store = meshgate_store::Store::open_with(&store_target, options)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    if store_target.contains(':') {
        tracing::info!("database: {}", meshgate_store::redact(&store_target));
    } else {
        tracing::info!("database: SQLite in {store_target}");
    }
    let state = Arc::new(state::AppState::new(
        secret.as_bytes().to_vec(),
        upstream::new_http_client(),
        store,
        host,
        args.spend,
    ));
    // Other replicas (or the admin API) change the database: recompile when it moves.
    {
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(STORE_POLL);
            loop {
                tick.tick().await;
                state.refresh_from_store().await;
                mcp::revocation_poll::poll(&state).await;
            }
        });
    }
    // Budgets: on the same period, and at once when a charge here reaches one.
    {
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(STORE_POLL) => {}
                    _ = state.budget_watch.wake.notified() => {}
                }
                spend::budget::poll(&state).await;
            }
        });
    }
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        state
            .apply_document(&text)
            .await
            .map_err(|e| format!("{path}: {e}"))?;
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let audit = start_audit(&args, &state, stop_rx.clone()).await?;
    let tls = args.tls.acceptor()?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    tracing::info!(
        tls = tls.is_some(),
        "meshgate sidecar listening on {}",
        args.listen
    );
    let server = tokio::spawn(server::serve(listener, tls, Arc::clone(&state), stop_rx));
    shutdown_signal().await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    for upstream in state.runtime().upstreams.values() {
        upstream.shutdown();
    }
    // Give stdio supervisors a moment to stop their children (and requests in flight
    // a moment to record their spend rows).
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Every spend row recorded so far reaches the store before the process ends.
    if !state.spend.flush(SPEND_FLUSH_DEADLINE).await {
        tracing::error!(
            "spend rows still queued after {SPEND_FLUSH_DEADLINE:?}: the store did not take them"
        );
    }
    server.abort();
    if let Some((als, writer)) = audit {
        // The access-log server stops on `stop` (Envoy's open stream gets 2 s to end);
        // what it queued is written out.
        let _ = tokio::time::timeout(Duration::from_secs(2), als).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
    }
    Ok(())
}

/// The audit trail's access-log server and writer, when `--als-listen` is given; its
/// token must be set (see docs/audit.md).
async fn start_audit(
    args: &Args,
    state: &Arc<state::AppState>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Option<(tokio::task::JoinHandle<()>, tokio::task::JoinHandle<()>)>, String> {
    let Some(addr) = args.als_listen else {
        return Ok(None);
    };
    let token = std::env::var(&args.als_token_env).unwrap_or_default();
    if token.trim().len() < audit::als::MIN_TOKEN_LEN {
        return Err(format!(
            "--als-listen needs the access-log token in {} (at least {} characters)",
            args.als_token_env,
            audit::als::MIN_TOKEN_LEN
        ));
    }
    let listener = audit::als::bind(addr).await?;
    tracing::info!("audit: access-log service listening on {addr}");
    let (trail, writer) = audit::AuditTrail::start(Arc::clone(state));
    let als = tokio::spawn(audit::als::serve(listener, token, trail, stop));
    Ok(Some((als, writer)))
}

/// The key that seals credentials at rest: `MESHGATE_STORE_KEY`, else derived from the
/// shared secret; `MESHGATE_STORE_KEY_PREVIOUS` (comma-separated) still opens rows sealed
/// before a rotation (they are re-sealed when the store opens). See docs/security.md.
fn store_keys(shared_secret: &str) -> Result<meshgate_store::StoreKeys, String> {
    let current = match std::env::var("MESHGATE_STORE_KEY") {
        Ok(k) if k.trim().len() >= 16 => k,
        Ok(k) if !k.trim().is_empty() => {
            return Err("MESHGATE_STORE_KEY must be at least 16 characters".into())
        }
        _ => shared_secret.to_string(),
    };
    let previous = std::env::var("MESHGATE_STORE_KEY_PREVIOUS").unwrap_or_default();
    let previous: Vec<&str> = previous
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let keys = meshgate_store::StoreKeys::new(&current, &previous);
    tracing::info!(key = keys.current_id(), "credentials at rest are sealed");
    Ok(keys)
}

/// The data directory is the sidecar user's only (SQLite files are created 0600 by the store).
fn restrict_to_owner(dir: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Err(e) = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)) {
            tracing::warn!("cannot make data dir {dir} private: {e}");
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::worker_threads;

    #[test]
    fn workers_are_the_flag_else_half_the_cores_and_never_zero() {
        assert_eq!(worker_threads(Some(3)), 3);
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let default = worker_threads(None);
        assert!(default >= 1);
        assert!(default <= cores.div_ceil(2), "{default} of {cores} cores");
    }
}
