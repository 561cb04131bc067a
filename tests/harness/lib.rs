//! Test harness: starts real Envoy with the built filter, the sidecar and upstreams,
//! each as a child process that dies with the test (and on its own after a while).
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod admin;
pub mod hooks;
pub mod http;
pub mod llm;
pub mod load;
pub mod mcp;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const SECRET: &str = "test-shared-secret-0123456789";
pub const MASTER_KEY: &str = "sk-test-master-key";
/// The token Envoy's access-log stream carries to the sidecar (`x-meshgate-als-token`).
pub const ALS_TOKEN: &str = "test-access-log-token-0123456789";
/// Every process a test starts ends by itself after this long, whatever happens.
pub const MAX_LIFETIME_SECS: u64 = 600;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Built binaries: `target/<profile>/<name>`; the profile comes from MESHGATE_PROFILE.
pub fn bin(name: &str) -> PathBuf {
    let profile = std::env::var("MESHGATE_PROFILE").unwrap_or_else(|_| "debug".into());
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("target"));
    target.join(profile).join(name)
}

pub fn wasm_path() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("target"));
    target.join("wasm32-wasip1/release-wasm/meshgate_filter.wasm")
}

/// The deliberate-panic test build of the filter (`make wasm-panic`, its own target dir).
pub fn panic_wasm_path() -> PathBuf {
    repo_root().join("target/wasm-panic/wasm32-wasip1/release-wasm/meshgate_filter.wasm")
}

pub fn envoy_path() -> PathBuf {
    std::env::var("ENVOY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join(".tools/bin/envoy"))
}

pub fn node_modules() -> PathBuf {
    repo_root().join("tests/node/node_modules")
}

/// Fails loudly (instead of skipping) when a prerequisite is missing.
pub fn require(path: &Path, how: &str) {
    assert!(path.exists(), "{} is missing; {how}", path.display());
}

/// A port nothing listens on, for a process the test starts next. Taken below the
/// kernel's ephemeral range (32768–60999 by default), from a walk no other call of this
/// process repeats: a port from `bind(0)` — which the tests' own servers use — can then
/// never be the one a starting Envoy or sidecar is about to bind (seen as a flake: one
/// test's mock server got another gateway's sidecar port and its policy syncs).
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Test binaries run one after another; each starts its walk somewhere else.
    let start = std::process::id().wrapping_mul(7919) % SPAN;
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = FIRST + (start + n) % SPAN;
        if std::net::TcpListener::bind(("127.0.0.1", port as u16)).is_ok() {
            return port as u16;
        }
    }
    panic!("no free port in {FIRST}..{}", FIRST + SPAN)
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "meshgate-{tag}-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed when dropped.
pub struct Proc {
    pub child: Child,
    pub name: String,
}

impl Proc {
    pub fn spawn(name: &str, mut cmd: Command) -> Proc {
        cmd.kill_on_drop(true);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc {
            child,
            name: name.to_string(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }
}

/// Starts the in-repo streamable-HTTP demo server; returns it and its address.
pub async fn demo_http(name: &str, extra: &[&str]) -> (Proc, String) {
    let path = bin("meshgate-demo-http");
    require(&path, "run `cargo build -p meshgate-demo`");
    let mut cmd = Command::new(path);
    cmd.args([
        "--name",
        name,
        "--listen",
        "127.0.0.1:0",
        "--exit-with-stdin",
        "--max-lifetime-secs",
    ])
    .arg(MAX_LIFETIME_SECS.to_string())
    .args(extra)
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    let mut proc = Proc::spawn(name, cmd);
    let addr = read_listening(&mut proc).await;
    (proc, addr)
}

/// Starts the in-repo Petstore v3 REST server (`meshgate-demo-petstore`), serving the
/// public specs of `../shared/openapi` under `GET /spec/<file>`; returns it and its address.
/// It records every request (`GET /__recorded`) and exits when its stdin closes.
pub async fn demo_petstore(name: &str) -> (Proc, String) {
    let path = bin("meshgate-demo-petstore");
    require(&path, "run `cargo build -p meshgate-demo-rest`");
    let mut cmd = Command::new(path);
    cmd.args(["--listen", "127.0.0.1:0", "--max-lifetime-secs"])
        .arg(MAX_LIFETIME_SECS.to_string())
        .arg("--spec-dir")
        .arg(shared_openapi())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut proc = Proc::spawn(name, cmd);
    let addr = read_listening(&mut proc).await;
    (proc, addr)
}

/// The public OpenAPI specs (`shared/openapi` beside the repository, or beside the
/// directory of worktrees when the repository is a worktree in `wt/<name>`).
pub fn shared_openapi() -> PathBuf {
    let beside = repo_root().join("../shared/openapi");
    let beside_worktrees = repo_root().join("../../shared/openapi");
    if !beside.is_dir() && beside_worktrees.is_dir() {
        return beside_worktrees;
    }
    beside
}

/// Reads the `LISTENING addr` line a test server prints once bound.
pub async fn read_listening(proc: &mut Proc) -> String {
    let stdout = proc.child.stdout.take().expect("stdout piped");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("server did not report its address")
        .expect("read")
        .expect("server exited before listening");
    line.strip_prefix("LISTENING ")
        .expect("LISTENING line")
        .trim()
        .to_string()
}

/// Starts server-everything (npm) with the given transport on a free port (HTTP modes).
pub async fn everything_http(mode: &str) -> (Proc, u16) {
    let script = node_modules().join("@modelcontextprotocol/server-everything/dist/index.js");
    require(&script, "run scripts/setup-test-deps.sh");
    let port = free_port();
    let mut cmd = Command::new("node");
    cmd.arg("--require")
        .arg(repo_root().join("tests/node/loopback.cjs"))
        .arg(&script)
        .arg(mode)
        .env("PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let proc = Proc::spawn("server-everything", cmd);
    wait_for_port(port, Duration::from_secs(30)).await;
    (proc, port)
}

pub async fn wait_for_port(port: u16, within: Duration) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nothing listens on 127.0.0.1:{port} after {within:?}");
}

/// A stdio server entry running server-everything through node.
pub fn everything_stdio_yaml(name: &str) -> String {
    let script = node_modules().join("@modelcontextprotocol/server-everything/dist/index.js");
    require(&script, "run scripts/setup-test-deps.sh");
    format!(
        "  {name}:\n    transport: stdio\n    command: node\n    args: [\"{}\", \"stdio\"]\n",
        script.display()
    )
}

/// A stdio server entry running the in-repo demo.
pub fn demo_stdio_yaml(name: &str, extra: &str) -> String {
    let path = bin("meshgate-demo-stdio");
    require(&path, "run `cargo build -p meshgate-demo`");
    format!("  {name}:\n    transport: stdio\n    command: \"{}\"\n    args: [\"--name\", \"{name}\"]\n{extra}", path.display())
}

/// Envoy + filter + sidecar, configured with `mcp_servers` (YAML, indented by two).
pub struct Gateway {
    pub port: u16,
    pub sidecar_port: u16,
    pub admin_port: u16,
    /// The sidecar's AccessLogService listener (the audit trail).
    pub als_port: u16,
    pub envoy: Proc,
    pub sidecar: Proc,
    pub dir: TempDir,
    /// The PostgreSQL schema of this gateway, dropped on drop.
    pub pg_schema: Option<String>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(schema) = &self.pg_schema {
            let _ = self.sidecar.child.start_kill();
            let _ = std::process::Command::new("psql")
                .args([
                    POSTGRES_URL,
                    "-q",
                    "-c",
                    &format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

pub struct GatewayOptions {
    pub servers_yaml: String,
    /// Extra lines for the `meshgate:` section (indented by two).
    pub meshgate_yaml: String,
    pub concurrency: u32,
    /// (listener port, upstream port) of an extra filterless route, for benchmarks.
    pub plain_route: Option<(u16, u16)>,
    pub database: Database,
    /// The filter build Envoy loads (default: [`wasm_path`]), e.g. [`panic_wasm_path`].
    pub wasm: Option<PathBuf>,
    /// Circuit-breaker budget of the MCP cluster to the sidecar (default
    /// [`SidecarBudget::MCP`]); tests shrink it to fill it with a bounded count.
    pub mcp_budget: Option<SidecarBudget>,
    /// Extra environment variables of the sidecar (override the harness defaults, e.g.
    /// `MESHGATE_ALLOWED_OUTBOUND_RANGES`).
    pub sidecar_env: Vec<(String, String)>,
    /// Envoy streams its access log (the audit trail) to the sidecar (default: on, as
    /// envoy/envoy.yaml); off only to measure what it costs.
    pub access_log: bool,
    /// The sidecar's log goes to a file ([`Gateway::sidecar_log`]) instead of the test's
    /// output.
    pub sidecar_log: bool,
}

/// Envoy circuit breakers of one cluster to the sidecar (see docs/security.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SidecarBudget {
    pub max_connections: u32,
    pub max_pending_requests: u32,
    pub max_requests: u32,
}

impl SidecarBudget {
    /// MCP traffic: long-lived streams, one upstream connection each over HTTP/1.1.
    pub const MCP: SidecarBudget = SidecarBudget {
        max_connections: 8192,
        max_pending_requests: 1024,
        max_requests: 8192,
    };
    /// The reserved control path: admin API, health probes and the filter's sync.
    pub const CONTROL: SidecarBudget = SidecarBudget {
        max_connections: 256,
        max_pending_requests: 256,
        max_requests: 256,
    };

    fn yaml(&self) -> String {
        format!(
            "    circuit_breakers:\n      thresholds:\n      - priority: DEFAULT\n        max_connections: {}\n        max_pending_requests: {}\n        max_requests: {}\n",
            self.max_connections, self.max_pending_requests, self.max_requests
        )
    }
}

/// Envoy cluster of the reserved control path to the sidecar.
pub const CONTROL_CLUSTER: &str = "meshgate_sidecar_control";
/// Path prefixes routed to [`CONTROL_CLUSTER`] (admin API, LiteLLM's health probes).
pub const CONTROL_PREFIXES: &[&str] = &[
    "/key/",
    "/team/",
    "/organization/",
    "/v1/mcp/",
    "/guardrails/",
    "/audit/",
    "/spend/",
    "/health/",
];

/// Where the sidecar keeps its data in a test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// SQLite in the test's temporary data directory.
    Sqlite,
    /// The local PostgreSQL (`scripts/setup-postgres.sh`), in a schema of its own that is
    /// dropped when the gateway stops.
    Postgres,
}

pub const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Both databases, for tests that must pass on each.
pub const DATABASES: [Database; 2] = [Database::Sqlite, Database::Postgres];

impl GatewayOptions {
    pub fn new(servers_yaml: impl Into<String>) -> Self {
        GatewayOptions {
            servers_yaml: servers_yaml.into(),
            meshgate_yaml: String::new(),
            concurrency: 1,
            plain_route: None,
            database: Database::Sqlite,
            wasm: None,
            mcp_budget: None,
            sidecar_env: Vec::new(),
            access_log: true,
            sidecar_log: false,
        }
    }
}

impl Gateway {
    pub async fn start(servers_yaml: impl Into<String>) -> Gateway {
        Self::start_with(GatewayOptions::new(servers_yaml)).await
    }

    pub async fn start_with(opts: GatewayOptions) -> Gateway {
        // Ports come from `free_port`, which releases them before Envoy binds: on a busy
        // machine another process can take one in between. Envoy then exits with
        // "Address already in use"; start again on fresh ports rather than fail the test.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let gw = Self::start_once(&opts).await;
            match gw.wait_ready().await {
                Ok(()) => return gw,
                Err(log) if attempt < 3 && lost_a_port_race(&log) => {
                    eprintln!("gateway: a port was taken before Envoy bound it; starting again");
                    drop(gw);
                }
                Err(log) => panic!("gateway not ready after 30 s; envoy log:\n{log}"),
            }
        }
    }

    async fn start_once(opts: &GatewayOptions) -> Gateway {
        let dir = TempDir::new("gw");
        let (port, sidecar_port, admin_port) = (free_port(), free_port(), free_port());
        let als_port = free_port();
        let document = gateway_document(opts);
        let wasm = opts.wasm.clone().unwrap_or_else(wasm_path);
        let envoy_yaml = render_envoy_config(
            EnvoyPorts {
                port,
                admin_port,
                sidecar_port,
                als_port: opts.access_log.then_some(als_port),
            },
            &document,
            opts.plain_route,
            false,
            &wasm,
            opts.mcp_budget.unwrap_or(SidecarBudget::MCP),
        );
        let envoy_file = dir.0.join("envoy.yaml");
        std::fs::write(&envoy_file, envoy_yaml).expect("write envoy.yaml");

        let schema = match opts.database {
            Database::Sqlite => None,
            Database::Postgres => Some(format!("e2e_{}_{}", std::process::id(), free_port())),
        };
        // Servers registered through the admin API may reach the test upstreams on
        // loopback, but never this gateway's Envoy ports.
        let mut env = vec![(
            "MESHGATE_DENIED_OUTBOUND_PORTS".to_string(),
            format!("{port},{admin_port}"),
        )];
        if opts.access_log {
            env.push((
                "MESHGATE_ALS_LISTEN".to_string(),
                format!("127.0.0.1:{als_port}"),
            ));
            env.push(("MESHGATE_ALS_TOKEN".to_string(), ALS_TOKEN.to_string()));
        }
        env.extend(opts.sidecar_env.iter().cloned());
        let log = opts.sidecar_log.then(|| dir.0.join("sidecar.log"));
        let sidecar = start_sidecar_inner(
            sidecar_port,
            &dir.0,
            schema.as_deref(),
            None,
            &env,
            log.as_deref(),
        );
        wait_for_port(sidecar_port, Duration::from_secs(20)).await;
        let envoy = start_envoy(&envoy_file, opts.concurrency, &dir.0.join("envoy.log"));
        Gateway {
            port,
            sidecar_port,
            admin_port,
            als_port,
            envoy,
            sidecar,
            dir,
            pg_schema: schema,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until the filter has its policy snapshot (requests stop getting 503); on
    /// timeout, Envoy's log.
    async fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let body = r#"{"jsonrpc":"2.0","id":0,"method":"ping"}"#;
        while Instant::now() < deadline {
            if let Ok(resp) = http::post(
                &self.url(),
                &[("authorization", &format!("Bearer {MASTER_KEY}"))],
                body,
            )
            .await
            {
                if resp.status == 200 {
                    return Ok(());
                }
            }
            if lost_a_port_race(&self.envoy_log()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(self.envoy_log())
    }

    pub fn envoy_log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("envoy.log")).unwrap_or_default()
    }

    /// What the sidecar logged (with [`GatewayOptions::sidecar_log`]), colours removed.
    pub fn sidecar_log(&self) -> String {
        let raw = std::fs::read_to_string(self.dir.0.join("sidecar.log")).unwrap_or_default();
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                // An ANSI sequence: ESC [ … final letter.
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
                continue;
            }
            out.push(c);
        }
        out
    }
}

pub fn start_sidecar(port: u16, data_dir: &Path) -> Proc {
    start_sidecar_with(port, data_dir, None)
}

/// A second replica: its own port and data, the same secret, the gateway document
/// loaded from `config` at start (no filter syncs it).
pub fn start_replica(port: u16, data_dir: &Path, config: &Path) -> Proc {
    start_sidecar_full(port, data_dir, None, Some(config), &[])
}

/// A second replica sharing a database: SQLite in `data_dir` (the first replica's
/// directory) or the PostgreSQL schema `pg_schema`; the gateway document from `config`.
pub fn start_replica_sharing(
    port: u16,
    data_dir: &Path,
    pg_schema: Option<&str>,
    config: &Path,
) -> Proc {
    start_sidecar_full(port, data_dir, pg_schema, Some(config), &[])
}

/// A sidecar on SQLite in `data_dir`, or on the local PostgreSQL in `pg_schema`.
pub fn start_sidecar_with(port: u16, data_dir: &Path, pg_schema: Option<&str>) -> Proc {
    start_sidecar_full(port, data_dir, pg_schema, None, &[])
}

fn start_sidecar_full(
    port: u16,
    data_dir: &Path,
    pg_schema: Option<&str>,
    config: Option<&Path>,
    extra_env: &[(String, String)],
) -> Proc {
    start_sidecar_inner(port, data_dir, pg_schema, config, extra_env, None)
}

fn start_sidecar_inner(
    port: u16,
    data_dir: &Path,
    pg_schema: Option<&str>,
    config: Option<&Path>,
    env: &[(String, String)],
    log: Option<&Path>,
) -> Proc {
    let path = bin("meshgate-sidecar");
    require(&path, "run `cargo build -p meshgate-sidecar`");
    let mut cmd = Command::new(path);
    cmd.args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data_dir.join("data"))
        .env("MESHGATE_SHARED_SECRET", SECRET)
        .env("MESHGATE_MASTER_KEY", MASTER_KEY)
        .env(
            "MESHGATE_LOG",
            std::env::var("MESHGATE_LOG").unwrap_or_else(|_| "warn".into()),
        )
        // The host policy for servers registered through the admin API: the test
        // upstreams live on loopback, the in-repo stdio server may run.
        .env("MESHGATE_ALLOWED_OUTBOUND_RANGES", "127.0.0.0/8")
        .env(
            "MESHGATE_ALLOWED_STDIO_COMMANDS",
            bin("meshgate-demo-stdio").display().to_string(),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(match log {
            Some(path) => std::fs::File::create(path)
                .map(Stdio::from)
                .unwrap_or_else(|e| panic!("sidecar log {}: {e}", path.display())),
            None => Stdio::inherit(),
        });
    if let Some(schema) = pg_schema {
        cmd.args(["--database-url", POSTGRES_URL, "--database-schema", schema]);
    }
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    Proc::spawn("sidecar", cmd)
}

/// Envoy exited because a port (or its `--base-id` socket) chosen by `free_port` was
/// taken by someone else before Envoy bound it.
fn lost_a_port_race(envoy_log: &str) -> bool {
    envoy_log.contains("Address already in use")
        || envoy_log.contains("unable to bind domain socket")
}

pub fn start_envoy(config: &Path, concurrency: u32, log: &Path) -> Proc {
    let envoy = envoy_path();
    require(&envoy, "run scripts/install-envoy.sh");
    let log_file = std::fs::File::create(log).expect("envoy log");
    let mut cmd = Command::new(envoy);
    cmd.arg("-c")
        .arg(config)
        .args([
            "--concurrency",
            &concurrency.to_string(),
            "-l",
            "warn",
            "--base-id",
        ])
        .arg(free_port().to_string())
        .env("MESHGATE_SHARED_SECRET", SECRET)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file);
    Proc::spawn("envoy", cmd)
}

/// The filter's configuration document.
pub fn gateway_document(opts: &GatewayOptions) -> String {
    format!(
        "meshgate:\n  shared_secret: os.environ/MESHGATE_SHARED_SECRET\n  sync_interval_ms: 500\n  sidecar_cluster: {CONTROL_CLUSTER}\n{}general_settings:\n  master_key: os.environ/MESHGATE_MASTER_KEY\nmcp_servers:\n{}",
        opts.meshgate_yaml, opts.servers_yaml
    )
}

/// An Envoy bootstrap with the filter on `port`, routing to the sidecar.
pub fn envoy_config(port: u16, admin_port: u16, sidecar_port: u16, document: &str) -> String {
    envoy_config_with_plain_route(port, admin_port, sidecar_port, document, None, false)
}

/// As [`envoy_config`], plus (for benchmarks) a second listener `plain.0` with no filter
/// that routes straight to an upstream at `plain.1`: the ceiling for anything in Envoy.
///
/// With `filter_only`, the filtered listener also routes to that upstream: the filter's
/// own cost, without the sidecar hop (the sidecar then only serves the policy sync).
pub fn envoy_config_with_plain_route(
    port: u16,
    admin_port: u16,
    sidecar_port: u16,
    document: &str,
    plain: Option<(u16, u16)>,
    filter_only: bool,
) -> String {
    let wasm = wasm_path();
    require(&wasm, "run `make wasm`");
    render_envoy_config(
        EnvoyPorts {
            port,
            admin_port,
            sidecar_port,
            als_port: None,
        },
        document,
        plain,
        filter_only,
        &wasm,
        SidecarBudget::MCP,
    )
}

pub struct EnvoyPorts {
    pub port: u16,
    pub admin_port: u16,
    pub sidecar_port: u16,
    /// The sidecar's AccessLogService: with it, every request's access-log entry (the
    /// filter's audit record included) is streamed there.
    pub als_port: Option<u16>,
}

/// The bootstrap: the filter (`failure_policy: FAIL_RELOAD`, so a trapped VM is
/// replaced), MCP traffic to `meshgate_sidecar`, the control path (admin, health, the
/// filter's sync) to [`CONTROL_CLUSTER`], each cluster with its own circuit breakers.
fn render_envoy_config(
    ports: EnvoyPorts,
    document: &str,
    plain: Option<(u16, u16)>,
    filter_only: bool,
    wasm: &Path,
    mcp_budget: SidecarBudget,
) -> String {
    let EnvoyPorts {
        port,
        admin_port,
        sidecar_port,
        als_port,
    } = ports;
    let (access_log, als_cluster) = match als_port {
        None => (String::new(), String::new()),
        Some(als_port) => (access_log_yaml(), als_cluster_yaml(als_port)),
    };
    let filtered_cluster = if filter_only && plain.is_some() {
        "plain_upstream"
    } else {
        "meshgate_sidecar"
    };
    let (plain_listener, plain_cluster) = match plain {
        None => (String::new(), String::new()),
        Some((plain_port, upstream_port)) => (
            format!(
                r#"  - name: plain
    address: {{socket_address: {{address: 127.0.0.1, port_value: {plain_port}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: plain
          route_config:
            virtual_hosts:
            - name: plain
              domains: ["*"]
              routes:
              - match: {{prefix: "/"}}
                route: {{cluster: plain_upstream, timeout: 0s}}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
"#
            ),
            format!(
                r#"  - name: plain_upstream
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: plain_upstream
      endpoints:
      - lb_endpoints:
        - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {upstream_port}}}}}}}
"#
            ),
        ),
    };
    require(
        wasm,
        "run `make wasm` (and `make wasm-panic` for the panic build)",
    );
    let control_routes: String = CONTROL_PREFIXES
        .iter()
        .map(|prefix| {
            format!(
                "              - match: {{prefix: \"{prefix}\"}}\n                route: {{cluster: {CONTROL_CLUSTER}, timeout: 60s}}\n"
            )
        })
        .collect();
    let mcp_breakers = mcp_budget.yaml();
    let control_breakers = SidecarBudget::CONTROL.yaml();
    let indented: String = document
        .lines()
        .map(|l| format!("                    {l}\n"))
        .collect();
    format!(
        r#"admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: {admin_port}}}}}
static_resources:
  listeners:
  - name: mcp
    address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: meshgate
          stream_idle_timeout: 0s
{access_log}          route_config:
            virtual_hosts:
            - name: mcp
              domains: ["*"]
              routes:
{control_routes}              - match: {{prefix: "/"}}
                route: {{cluster: {filtered_cluster}, timeout: 0s, idle_timeout: 600s}}
          http_filters:
          - name: meshgate
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: meshgate
                root_id: meshgate
                failure_policy: FAIL_RELOAD
                reload_config: {{backoff: {{base_interval: 0.1s, max_interval: 1s}}}}
                                # Lets the filter hold headers while it reads admin and batch bodies.
                allow_on_headers_stop_iteration: true
                vm_config:
                  vm_id: meshgate
                  runtime: envoy.wasm.runtime.v8
                  code: {{local: {{filename: "{wasm}"}}}}
                  environment_variables: {{host_env_keys: [MESHGATE_SHARED_SECRET]}}
                configuration:
                  "@type": type.googleapis.com/google.protobuf.StringValue
                  value: |
{indented}
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
{plain_listener}  clusters:
  - name: meshgate_sidecar
    type: STATIC
    connect_timeout: 1s
{mcp_breakers}    load_assignment:
      cluster_name: meshgate_sidecar
      endpoints:
      - lb_endpoints:
        - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {sidecar_port}}}}}}}
  - name: {CONTROL_CLUSTER}
    type: STATIC
    connect_timeout: 1s
{control_breakers}    load_assignment:
      cluster_name: {CONTROL_CLUSTER}
      endpoints:
      - lb_endpoints:
        - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {sidecar_port}}}}}}}
{als_cluster}{plain_cluster}"#,
        wasm = wasm.display()
    )
}

/// The listener's access log: Envoy's gRPC AccessLogService to the sidecar, with the
/// filter's audit record (filter state) and the shared token (as envoy/envoy.yaml).
fn access_log_yaml() -> String {
    format!(
        r#"          access_log:
          - name: envoy.access_loggers.http_grpc
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig
              common_config:
                log_name: meshgate_audit
                transport_api_version: V3
                buffer_flush_interval: 0.2s
                filter_state_objects_to_log: [{}]
                grpc_service:
                  envoy_grpc: {{cluster_name: meshgate_als}}
                  initial_metadata:
                  - {{key: x-meshgate-als-token, value: "{ALS_TOKEN}"}}
"#,
        meshgate_policy::audit::FILTER_STATE_KEY
    )
}

/// The sidecar's AccessLogService (gRPC: HTTP/2).
fn als_cluster_yaml(als_port: u16) -> String {
    format!(
        r#"  - name: meshgate_als
    type: STATIC
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: {{http2_protocol_options: {{}}}}
    load_assignment:
      cluster_name: meshgate_als
      endpoints:
      - lb_endpoints:
        - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {als_port}}}}}}}
"#
    )
}

/// A decision sealed as the filter would seal it (a fresh nonce each call; the body's
/// hash bound when given), for tests that talk to a sidecar directly.
pub fn seal(
    method: &str,
    path: &str,
    principal: &str,
    servers: &str,
    body: Option<&[u8]>,
) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static VM: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let vm = *VM.get_or_init(|| u64::from(std::process::id()) << 32 | now_ms() & 0xffff_ffff);
    let hash = body.map(meshgate_policy::signing::body_digest);
    meshgate_policy::signing::seal_decision(
        SECRET.as_bytes(),
        method,
        path,
        &meshgate_policy::signing::Seal {
            ts_ms: now_ms(),
            nonce: meshgate_policy::signing::Nonce {
                vm,
                counter: COUNTER.fetch_add(1, Ordering::Relaxed),
            },
            principal,
            servers,
            body_sha256: hash.as_deref(),
        },
    )
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A Python with the official `mcp` SDK (installed by scripts/setup-test-deps.sh).
pub fn python_with_mcp() -> Command {
    let venv = repo_root().join(".tools/venv/bin/python");
    if venv.exists() {
        Command::new(venv)
    } else {
        let mut cmd = Command::new("python3");
        cmd.env("PYTHONPATH", repo_root().join(".tools/pylib"));
        cmd
    }
}

impl Gateway {
    /// Everything the gateway's database holds, as raw bytes: every file of the SQLite
    /// data directory (database, WAL and shared memory), or a data-only `pg_dump` of the
    /// gateway's PostgreSQL schema. For asserting what is (not) stored.
    pub fn database_bytes(&self) -> Vec<u8> {
        match &self.pg_schema {
            Some(schema) => {
                let out = std::process::Command::new("pg_dump")
                    .args(["--data-only", "--schema", schema, POSTGRES_URL])
                    .output()
                    .expect("run pg_dump");
                assert!(
                    out.status.success(),
                    "pg_dump failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                out.stdout
            }
            None => {
                let mut all = Vec::new();
                let dir = self.dir.0.join("data");
                for entry in std::fs::read_dir(&dir).expect("data dir").flatten() {
                    if entry.path().is_file() {
                        all.extend(std::fs::read(entry.path()).unwrap_or_default());
                    }
                }
                all
            }
        }
    }
}
