//! stdio servers: one long-lived process per distinct environment (`env` may take values
//! from request headers, `${X-HEADER}`) and set of client capabilities (a process's
//! session is opened with them), started on first use, reaped after sitting idle. The
//! common case — no templates, clients declaring nothing — is one process, started at once.

use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use meshgate_policy::config::ServerConfig;
use meshgate_policy::env::{fill_header_templates, has_header_templates};

use super::call::CallContext;
use super::error::UpstreamResult;
use super::stdio::StdioUpstream;
use crate::relay::link::ServerLink;
use crate::relay::ClientCaps;

/// A process for a request-specific environment stops after this long without calls.
const IDLE: Duration = Duration::from_secs(300);
/// At most this many processes per server; the least recently used goes first.
const MAX_PROCESSES: usize = 32;
const REAP_EVERY: Duration = Duration::from_secs(30);

struct Entry {
    process: Arc<StdioUpstream>,
    last_used: Instant,
}

pub struct StdioPool {
    name: String,
    config: ServerConfig,
    templated: bool,
    link: Arc<ServerLink>,
    processes: Mutex<HashMap<u64, Entry>>,
    reaper: Mutex<Option<tokio::task::AbortHandle>>,
}

impl StdioPool {
    pub fn start(name: &str, config: &ServerConfig, link: &Arc<ServerLink>) -> Arc<StdioPool> {
        let templated = has_header_templates(&config.env);
        let pool = Arc::new(StdioPool {
            name: name.to_string(),
            config: config.clone(),
            templated,
            link: Arc::clone(link),
            processes: Mutex::new(HashMap::new()),
            reaper: Mutex::new(None),
        });
        let weak = Arc::downgrade(&pool);
        let task = tokio::spawn(reap(weak));
        if let Ok(mut slot) = pool.reaper.lock() {
            *slot = Some(task.abort_handle());
        }
        if !templated {
            // The common case: start the one process now so the first call is fast.
            pool.process(0, &config.env, ClientCaps::default());
        }
        pool
    }

    /// The environment this request runs in, and its key.
    pub fn key_for(&self, call: &CallContext<'_>) -> (u64, BTreeMap<String, String>) {
        if !self.templated {
            return (u64::from(call.caps.0), BTreeMap::new());
        }
        let env = fill_header_templates(&self.config.env, |name| {
            call.client_headers?.get(name)?.to_str().ok()
        });
        let mut h = std::collections::hash_map::DefaultHasher::new();
        env.hash(&mut h);
        call.caps.hash(&mut h);
        (h.finish(), env)
    }

    /// One request to the process of `key` (the environment `env`, see [`Self::key_for`]).
    pub async fn request(
        &self,
        key: u64,
        env: &BTreeMap<String, String>,
        method: &str,
        params: Option<&Value>,
        timeout: Duration,
        call: &CallContext<'_>,
    ) -> UpstreamResult {
        let process = self.process(key, env, call.caps);
        process
            .request(method, params, timeout, call.exchange)
            .await
    }

    /// The `instructions` of the process this request uses (started if needed).
    pub async fn instructions(
        &self,
        key: u64,
        env: &BTreeMap<String, String>,
        timeout: Duration,
        call: &CallContext<'_>,
    ) -> Option<Arc<str>> {
        // A process that cannot start must not hold up every client's `initialize`.
        const STARTING: Duration = Duration::from_secs(5);
        self.process(key, env, call.caps)
            .instructions(timeout.min(STARTING))
            .await
    }

    /// Writes a notification to the process this request uses, if it runs.
    pub fn notify(&self, key: u64, body: Vec<u8>) {
        let process = self
            .processes
            .lock()
            .ok()
            .and_then(|m| m.get(&key).map(|e| Arc::clone(&e.process)));
        if let Some(process) = process {
            process.notify(body);
        }
    }

    /// The process for an environment, started when there is none.
    fn process(
        &self,
        key: u64,
        env: &BTreeMap<String, String>,
        caps: ClientCaps,
    ) -> Arc<StdioUpstream> {
        let spawn =
            |env| StdioUpstream::spawn(&self.name, &self.with_env(env), caps, key, &self.link);
        let Ok(mut map) = self.processes.lock() else {
            return spawn(env);
        };
        if let Some(entry) = map.get_mut(&key) {
            entry.last_used = Instant::now();
            return Arc::clone(&entry.process);
        }
        if map.len() >= MAX_PROCESSES {
            if let Some(oldest) = map.iter().min_by_key(|(_, e)| e.last_used).map(|(k, _)| *k) {
                if let Some(e) = map.remove(&oldest) {
                    e.process.shutdown();
                }
            }
        }
        let process = spawn(env);
        if !map.is_empty() {
            tracing::info!(server = %self.name, processes = map.len() + 1, "started a stdio process for a new environment or client capabilities");
        }
        map.insert(
            key,
            Entry {
                process: Arc::clone(&process),
                last_used: Instant::now(),
            },
        );
        process
    }

    fn with_env(&self, env: &BTreeMap<String, String>) -> ServerConfig {
        if !self.templated {
            return self.config.clone();
        }
        ServerConfig {
            env: env.clone(),
            ..self.config.clone()
        }
    }

    pub fn shutdown(&self) {
        if let Some(task) = self.reaper.lock().ok().and_then(|mut r| r.take()) {
            task.abort();
        }
        if let Ok(mut map) = self.processes.lock() {
            for (_, e) in map.drain() {
                e.process.shutdown();
            }
        }
    }
}

async fn reap(pool: Weak<StdioPool>) {
    let mut tick = tokio::time::interval(REAP_EVERY);
    loop {
        tick.tick().await;
        let Some(pool) = pool.upgrade() else { return };
        let Ok(mut map) = pool.processes.lock() else {
            return;
        };
        let before = map.len();
        let templated = pool.templated;
        map.retain(|key, e| {
            // The default process of a plain server stays up.
            let keep = (!templated && *key == 0) || e.last_used.elapsed() < IDLE;
            if !keep {
                e.process.shutdown();
            }
            keep
        });
        if map.len() < before {
            tracing::info!(server = %pool.name, reaped = before - map.len(), "stopped idle stdio processes");
        }
    }
}
