//! A stdio server: one long-lived child process, requests from every client multiplexed
//! over it with remapped ids, restarted with backoff when it exits, stderr logged.

use serde_json::Value;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{mpsc, watch};

use meshgate_policy::config::ServerConfig;

use super::error::{UpstreamError, UpstreamResult};
use super::handshake::initialize_params;
use super::pending::Pending;
use crate::jsonrpc::{self, Message};
use crate::relay::exchange::cancelled;
use crate::relay::link::ServerLink;
use crate::relay::{ClientCaps, Exchange};

/// Environment variables a child inherits from the sidecar; everything else (notably
/// the shared secret) stays out. Configured `env` entries are added on top.
const INHERITED_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "USER",
    "TZ",
    "NODE_PATH",
    "NPM_CONFIG_CACHE",
];
const INIT_TIMEOUT: Duration = Duration::from_secs(60);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// A process that stayed up this long resets the backoff.
const HEALTHY_AFTER: Duration = Duration::from_secs(30);

/// One running process and what is needed to talk to it.
struct Connection {
    writer: mpsc::UnboundedSender<Vec<u8>>,
    pending: Pending,
    /// What the process's `initialize` said to clients.
    instructions: std::sync::OnceLock<Arc<str>>,
}

impl Connection {
    async fn request(
        &self,
        method: &str,
        params: Option<&Value>,
        timeout: Duration,
        exchange: Option<&Arc<Exchange>>,
    ) -> UpstreamResult {
        let (id, rx) = self.pending.register(exchange);
        if self
            .writer
            .send(jsonrpc::request(id, method, params))
            .is_err()
        {
            self.pending.forget(id);
            return Err(UpstreamError::Unavailable(
                "the server process is not running".into(),
            ));
        }
        let outcome = tokio::select! {
            r = tokio::time::timeout(timeout, rx) => r,
            _ = cancelled(exchange) => {
                self.cancel(id, "cancelled by the client");
                return Err(UpstreamError::Cancelled);
            }
        };
        match outcome {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(UpstreamError::Unavailable(
                "the server process exited".into(),
            )),
            Err(_) => {
                self.cancel(id, "timed out at the gateway");
                Err(UpstreamError::Timeout(timeout))
            }
        }
    }

    /// Gives up on a request and tells the server so.
    fn cancel(&self, id: u64, reason: &str) {
        self.pending.forget(id);
        let cancel = serde_json::json!({"requestId": id, "reason": reason});
        let _ = self.writer.send(jsonrpc::notification(
            "notifications/cancelled",
            Some(&cancel),
        ));
    }
}

pub struct StdioUpstream {
    name: String,
    live: watch::Receiver<Option<Arc<Connection>>>,
    stop: watch::Sender<bool>,
}

impl StdioUpstream {
    /// Starts a process whose session is opened with `caps` (its clients' capabilities).
    pub fn spawn(
        name: &str,
        config: &ServerConfig,
        caps: ClientCaps,
        key: u64,
        link: &Arc<ServerLink>,
    ) -> Arc<StdioUpstream> {
        let (live_tx, live_rx) = watch::channel(None);
        let (stop_tx, stop_rx) = watch::channel(false);
        let supervisor = Supervisor {
            name: name.to_string(),
            config: config.clone(),
            caps,
            key,
            link: Arc::clone(link),
            live: live_tx,
            stop: stop_rx,
        };
        tokio::spawn(supervisor.run());
        Arc::new(StdioUpstream {
            name: name.to_string(),
            live: live_rx,
            stop: stop_tx,
        })
    }

    pub async fn request(
        &self,
        method: &str,
        params: Option<&Value>,
        timeout: Duration,
        exchange: Option<&Arc<Exchange>>,
    ) -> UpstreamResult {
        let mut live = self.live.clone();
        let conn = match tokio::time::timeout(timeout, live.wait_for(Option::is_some)).await {
            Ok(Ok(guard)) => guard.clone(),
            Ok(Err(_)) => None,
            Err(_) => {
                return Err(UpstreamError::Unavailable(format!(
                    "server `{}` did not start in time",
                    self.name
                )))
            }
        };
        match conn {
            Some(conn) => conn.request(method, params, timeout, exchange).await,
            None => Err(UpstreamError::Unavailable(format!(
                "server `{}` is stopped",
                self.name
            ))),
        }
    }

    /// The running process's `instructions`, waiting up to `timeout` for it to start.
    pub async fn instructions(&self, timeout: Duration) -> Option<Arc<str>> {
        let mut live = self.live.clone();
        let conn = tokio::time::timeout(timeout, live.wait_for(Option::is_some))
            .await
            .ok()?
            .ok()?
            .clone()?;
        conn.instructions.get().cloned()
    }

    /// Writes a notification to the running process (dropped when none runs).
    pub fn notify(&self, body: Vec<u8>) {
        if let Some(conn) = self.live.borrow().as_ref() {
            let _ = conn.writer.send(body);
        }
    }

    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }
}

struct Supervisor {
    name: String,
    config: ServerConfig,
    caps: ClientCaps,
    /// The pool's key for this process (its upstream session).
    key: u64,
    link: Arc<ServerLink>,
    live: watch::Sender<Option<Arc<Connection>>>,
    stop: watch::Receiver<bool>,
}

impl Supervisor {
    async fn run(mut self) {
        let mut backoff = MIN_BACKOFF;
        while !*self.stop.borrow() {
            let started = Instant::now();
            match self.run_once().await {
                Ok(status) => {
                    tracing::warn!(server = %self.name, "stdio server exited ({status}); restarting")
                }
                Err(e) => tracing::warn!(server = %self.name, "stdio server failed: {e}"),
            }
            self.live.send_replace(None);
            backoff = if started.elapsed() > HEALTHY_AFTER {
                MIN_BACKOFF
            } else {
                (backoff * 2).min(MAX_BACKOFF)
            };
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = self.stop.changed() => {}
            }
        }
        tracing::info!(server = %self.name, "stdio server stopped");
    }

    /// Starts the process, initializes it, serves until it exits or we are stopped.
    async fn run_once(&mut self) -> Result<String, String> {
        let mut child = self.command().spawn().map_err(|e| {
            format!(
                "cannot start `{}`: {e}",
                self.config.command.as_deref().unwrap_or("")
            )
        })?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        if let Some(stderr) = child.stderr.take() {
            let name = self.name.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    tracing::info!(server = %name, "stderr: {line}");
                }
            });
        }
        let (writer_tx, writer_rx) = mpsc::unbounded_channel();
        let conn = Arc::new(Connection {
            writer: writer_tx,
            pending: Pending::default(),
            instructions: std::sync::OnceLock::new(),
        });
        tokio::spawn(write_loop(stdin, writer_rx));
        let reader = tokio::spawn(read_loop(
            Arc::clone(&self.link),
            self.key,
            stdout,
            Arc::clone(&conn),
        ));

        let pid = child.id().unwrap_or(0);
        let served = async {
            let result = conn
                .request(
                    "initialize",
                    Some(&initialize_params(self.caps)),
                    INIT_TIMEOUT,
                    None,
                )
                .await
                .map_err(|e| format!("initialize failed: {e}"))?;
            let parsed = serde_json::from_str::<Value>(result.get()).unwrap_or_default();
            if let Some(i) = super::handshake::instructions_of(&parsed) {
                let _ = conn.instructions.set(i);
            }
            let _ = conn
                .writer
                .send(jsonrpc::notification("notifications/initialized", None));
            tracing::info!(server = %self.name, pid, "stdio server ready");
            self.live.send_replace(Some(Arc::clone(&conn)));
            Ok::<(), String>(())
        };
        let outcome = tokio::select! {
            r = served => match r {
                Ok(()) => wait_or_stop(&mut child, &mut self.stop).await,
                Err(e) => Err(e),
            },
            status = child.wait() => Ok(status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string())),
        };
        self.live.send_replace(None);
        conn.pending.fail_all("the server process exited");
        reader.abort();
        let _ = child.start_kill();
        let _ = child.wait().await;
        outcome
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(self.config.command.as_deref().unwrap_or_default());
        cmd.args(&self.config.args)
            .env_clear()
            .envs(
                INHERITED_ENV
                    .iter()
                    .filter_map(|k| std::env::var(k).ok().map(|v| (*k, v))),
            )
            .envs(&self.config.env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }
}

async fn wait_or_stop(
    child: &mut Child,
    stop: &mut watch::Receiver<bool>,
) -> Result<String, String> {
    tokio::select! {
        status = child.wait() => Ok(status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string())),
        _ = stop.wait_for(|s| *s) => Ok("stopped by the gateway".into()),
    }
}

async fn write_loop(stdin: ChildStdin, mut rx: mpsc::UnboundedReceiver<Vec<u8>>) {
    let mut out = BufWriter::new(stdin);
    while let Some(msg) = rx.recv().await {
        if out.write_all(&msg).await.is_err() || out.write_all(b"\n").await.is_err() {
            return;
        }
        // Batch whatever is already queued into one flush.
        while let Ok(more) = rx.try_recv() {
            if out.write_all(&more).await.is_err() || out.write_all(b"\n").await.is_err() {
                return;
            }
        }
        if out.flush().await.is_err() {
            return;
        }
    }
}

async fn read_loop(link: Arc<ServerLink>, key: u64, stdout: ChildStdout, conn: Arc<Connection>) {
    let name = &link.name;
    let mut reader = BufReader::with_capacity(64 * 1024, stdout);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let msg: Message = match serde_json::from_slice(text) {
            Ok(m) => m,
            Err(_) => {
                tracing::debug!(server = %name, "non-JSON line on stdout ignored");
                continue;
            }
        };
        if msg.is_response() {
            if !conn.pending.complete(msg) {
                tracing::debug!(server = %name, "late or unknown response ignored");
            }
        } else if msg.is_request() {
            // Answered in the background: the client may take its time.
            let related = conn.pending.sole_exchange();
            let (link, writer) = (Arc::clone(&link), conn.writer.clone());
            tokio::spawn(async move {
                let reply = link.server_request(key, &msg, related.as_ref()).await;
                let _ = writer.send(reply);
            });
        } else {
            link.notification(key, &msg, conn.pending.sole_exchange().as_ref());
        }
    }
}
