//! Upstream MCP servers: one long-lived connection (process, HTTP session or SSE
//! stream) per configured server, shared by every client request; REST APIs described by
//! an OpenAPI spec are served as MCP servers by the gateway itself.

mod call;
pub mod carried;
mod catalog;
mod client;
mod credentials;
mod detect;
mod error;
mod handshake;
mod oauth;
pub mod openapi;
mod pending;
mod sse_client;
mod stdio;
mod stdio_pool;
mod streamable_http;

use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use meshgate_policy::config::{ServerConfig, Transport};
use meshgate_policy::tool_rules::ToolRules;

pub use self::call::CallContext;
use self::call::Outbound;
use self::catalog::CatalogEntry;
pub use self::catalog::ToolCatalog;
pub use self::client::{new_client as new_http_client, new_guarded_client, HttpClient};
pub use self::credentials::known_prefixes;
pub use self::error::{UpstreamError, UpstreamResult};
use crate::relay::link::ServerLink;
use crate::relay::Hub;

/// How requests reach the upstream.
enum Connector {
    Stdio(Arc<stdio_pool::StdioPool>),
    Http(Arc<streamable_http::HttpUpstream>),
    Sse(Arc<sse_client::SseUpstream>),
    /// A URL server without `transport`: streamable HTTP or legacy SSE, detected on
    /// first use and remembered.
    Detect(Arc<detect::DetectingUpstream>),
    /// A REST API from an OpenAPI spec, answered by the gateway.
    OpenApi(Arc<openapi::OpenApiUpstream>),
    /// Configured but not served (e.g. a configuration problem found at start).
    Unsupported(String),
}

/// The outcome of the last catalog fetch of one credential set.
struct Fill {
    finished: Instant,
    outcome: Result<Arc<ToolCatalog>, UpstreamError>,
}

pub struct Upstream {
    pub name: String,
    pub prefix: String,
    pub config: ServerConfig,
    connector: Connector,
    /// Tool lists per credential set (what a server lists may depend on who asks).
    tools: Mutex<HashMap<u64, Arc<ToolCatalog>>>,
    /// One catalog fetch at a time per credential set; requests that waited for it take
    /// its outcome (a burst of `tools/list` costs the upstream one).
    fills: Mutex<HashMap<u64, Arc<tokio::sync::Mutex<Option<Fill>>>>>,
    link: Arc<ServerLink>,
}

/// Who a call is to one server, computed once per call: which upstream session (or
/// stdio process) it uses, and what reaches the server.
enum Reach {
    Http(Outbound),
    Stdio(u64, BTreeMap<String, String>),
    /// One for every caller (REST APIs, servers not served).
    Shared,
}

impl Reach {
    fn key(&self) -> u64 {
        match self {
            Reach::Http(out) => out.key,
            Reach::Stdio(key, _) => *key,
            Reach::Shared => 0,
        }
    }
}

impl Upstream {
    /// The protocol calls to this server speak (a spend row's `upstream_protocol`):
    /// `stdio`, `http`, `sse`, `openapi`; `detecting` until a URL server's transport is known.
    pub fn protocol(&self) -> &'static str {
        match &self.connector {
            Connector::Stdio(_) => "stdio",
            Connector::Http(_) => "http",
            Connector::Sse(_) => "sse",
            Connector::Detect(d) => match d.chosen() {
                Some(Transport::Sse) => "sse",
                Some(_) => "http",
                None => "detecting",
            },
            Connector::OpenApi(_) => "openapi",
            Connector::Unsupported(_) => "unsupported",
        }
    }

    pub fn start(
        name: &str,
        prefix: &str,
        config: &ServerConfig,
        client: &HttpClient,
        hub: &Arc<Hub>,
    ) -> Arc<Upstream> {
        let link = ServerLink::new(name, Arc::clone(hub));
        let connector = match client::ServerClient::new(name, config, client) {
            Err(why) => Connector::Unsupported(why),
            Ok(client) => Self::connector(name, prefix, config, client, &link),
        };
        if let Connector::Unsupported(why) = &connector {
            tracing::warn!(server = name, "server left out: {why}");
        }
        Arc::new(Upstream {
            name: name.to_string(),
            prefix: prefix.to_string(),
            config: config.clone(),
            connector,
            tools: Mutex::new(HashMap::new()),
            fills: Mutex::new(HashMap::new()),
            link,
        })
    }

    fn connector(
        name: &str,
        prefix: &str,
        config: &ServerConfig,
        client: client::ServerClient,
        link: &Arc<ServerLink>,
    ) -> Connector {
        if config.is_openapi() {
            match openapi::OpenApiUpstream::start(name, prefix, config, client.clone()) {
                Ok(u) => Connector::OpenApi(Arc::new(u)),
                Err(e) => Connector::Unsupported(e),
            }
        } else if let Some(why) = config.auth_type.and_then(|a| a.unsupported()) {
            Connector::Unsupported(why)
        } else {
            match config.effective_transport() {
                Some(Transport::Stdio) => {
                    Connector::Stdio(stdio_pool::StdioPool::start(name, config, link))
                }
                None => {
                    match detect::DetectingUpstream::new(name, prefix, config, client.clone(), link)
                    {
                        Ok(u) => Connector::Detect(Arc::new(u)),
                        Err(e) => Connector::Unsupported(e),
                    }
                }
                Some(Transport::Http) => {
                    match streamable_http::HttpUpstream::new(
                        name,
                        prefix,
                        config,
                        client.clone(),
                        link,
                    ) {
                        Ok(u) => Connector::Http(u),
                        Err(e) => Connector::Unsupported(e),
                    }
                }
                Some(Transport::Sse) => {
                    match sse_client::SseUpstream::new(name, prefix, config, client, link) {
                        Ok(u) => Connector::Sse(Arc::new(u)),
                        Err(e) => Connector::Unsupported(e),
                    }
                }
            }
        }
    }

    /// One request to the upstream; the result is returned raw. `call` carries what the
    /// client sent that the upstream may need; a client progress token is swapped for
    /// one of the gateway's (the connection is shared) and mapped back on the way out.
    pub async fn request(
        &self,
        method: &str,
        params: Option<&Value>,
        timeout: Duration,
        call: &CallContext<'_>,
    ) -> UpstreamResult {
        let reach = self.reach(call);
        self.request_as(&reach, method, params, timeout, call).await
    }

    async fn request_as(
        &self,
        reach: &Reach,
        method: &str,
        params: Option<&Value>,
        timeout: Duration,
        call: &CallContext<'_>,
    ) -> UpstreamResult {
        self.record_user(reach, call);
        let mapped = match (call.exchange, params) {
            (Some(exchange), Some(p)) => self.link.hub.map_progress(p, exchange),
            _ => None,
        };
        let params = mapped.as_ref().map(|(p, _)| p).or(params);
        let fut = async {
            match (&self.connector, reach) {
                (Connector::Stdio(u), Reach::Stdio(key, env)) => {
                    u.request(*key, env, method, params, timeout, call).await
                }
                (Connector::Http(u), Reach::Http(out)) => {
                    u.request(method, params, out, call).await
                }
                (Connector::Sse(u), Reach::Http(out)) => {
                    u.request(method, params, timeout, out, call).await
                }
                (Connector::Detect(u), Reach::Http(out)) => {
                    u.request(method, params, timeout, out, call).await
                }
                (Connector::OpenApi(u), _) => u.request(method, params, call).await,
                (Connector::Unsupported(why), _) => Err(UpstreamError::Unavailable(why.clone())),
                // `reach` is made from the connector: no other pair occurs.
                _ => Err(UpstreamError::Unavailable(format!(
                    "server `{}` cannot be reached",
                    self.name
                ))),
            }
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(UpstreamError::Timeout(timeout)),
        }
    }

    /// Opens (or finds) this client's upstream session, for its session id to carry;
    /// None for servers without resumable sessions (stdio processes are per replica).
    pub async fn carry(&self, call: &CallContext<'_>) -> Option<carried::CarriedSession> {
        let reach = self.reach(call);
        let (connector, Reach::Http(out)) = (&self.connector, &reach) else {
            return None;
        };
        if matches!(connector, Connector::Http(_) | Connector::Detect(_)) {
            self.record_user(&reach, call);
        }
        match connector {
            Connector::Http(u) => u.carry(out, call).await,
            Connector::Detect(u) => u.carry(out, call).await,
            _ => None,
        }
    }

    /// The `instructions` of the upstream session (or process) this client reaches,
    /// opening it when needed; else the configured `instructions`.
    pub async fn instructions(
        &self,
        timeout: Duration,
        call: &CallContext<'_>,
    ) -> Option<Arc<str>> {
        let reach = self.reach(call);
        let fut = async {
            match (&self.connector, &reach) {
                (Connector::Stdio(u), Reach::Stdio(key, env)) => {
                    u.instructions(*key, env, timeout, call).await
                }
                (Connector::Http(u), Reach::Http(out)) => u.instructions(out, call).await,
                (Connector::Sse(u), Reach::Http(out)) => u.instructions(out, call.caps).await,
                (Connector::Detect(u), Reach::Http(out)) => u.instructions(out, call).await,
                _ => None,
            }
        };
        let found = tokio::time::timeout(timeout, fut).await.ok().flatten();
        found.or_else(|| {
            self.config
                .instructions
                .as_deref()
                .filter(|i| !i.trim().is_empty())
                .map(Arc::from)
        })
    }

    /// Passes a client notification (e.g. `notifications/roots/list_changed`) to the
    /// upstream session this client uses, if there is one.
    pub fn notify(&self, method: &str, params: Option<&Value>, call: &CallContext<'_>) {
        let body = crate::jsonrpc::notification(method, params);
        match (&self.connector, &self.reach(call)) {
            (Connector::Stdio(pool), Reach::Stdio(key, _)) => pool.notify(*key, body),
            (Connector::Http(u), Reach::Http(out)) => u.notify(body, out),
            (Connector::Detect(u), Reach::Http(out)) => u.notify(body, out),
            _ => {}
        }
    }

    /// Makes a listener (a 2026 `subscriptions/listen` stream, `call.session`) a user of
    /// the upstream session this client reaches, opening it if needed (an HTTP session
    /// has to exist for its listening stream to run).
    pub async fn listen_as(&self, call: &CallContext<'_>) {
        let reach = self.reach(call);
        self.record_user(&reach, call);
        match (&self.connector, &reach) {
            (Connector::Http(u), Reach::Http(out)) => {
                let _ = u.carry(out, call).await;
            }
            (Connector::Detect(u), Reach::Http(out)) => {
                let _ = u.carry(out, call).await;
            }
            _ => {}
        }
    }

    /// Makes `call.session` a user of the upstream session this client reaches.
    pub fn note_user(&self, call: &CallContext<'_>) {
        self.record_user(&self.reach(call), call);
    }

    /// The one place that records which client sessions use which upstream session
    /// (unprompted server messages go only to them).
    fn record_user(&self, reach: &Reach, call: &CallContext<'_>) {
        self.link.used_by(reach.key(), call.session, call.caps);
    }

    /// Who this call is to the server; the key also says which cached catalog it uses
    /// (per outbound credential set for HTTP-based servers, per environment for stdio).
    fn reach(&self, call: &CallContext<'_>) -> Reach {
        let headers = match &self.connector {
            Connector::Stdio(pool) => {
                let (key, env) = pool.key_for(call);
                return Reach::Stdio(key, env);
            }
            Connector::Http(u) => u.server_headers(),
            Connector::Sse(u) => u.server_headers(),
            Connector::Detect(u) => u.server_headers(),
            Connector::OpenApi(_) | Connector::Unsupported(_) => return Reach::Shared,
        };
        Reach::Http(Outbound::of(call, headers))
    }

    /// The tool catalog, from cache when younger than `ttl`, else fetched (all pages)
    /// with the request's credentials.
    pub async fn tools(
        &self,
        ttl: Duration,
        timeout: Duration,
        call: &CallContext<'_>,
    ) -> Result<Arc<ToolCatalog>, UpstreamError> {
        let reach = self.reach(call);
        let key = reach.key();
        // A list served from cache still makes this client one of the session's users.
        self.record_user(&reach, call);
        if let Connector::OpenApi(u) = &self.connector {
            // Built once when the spec loaded; never stale.
            let catalog = match tokio::time::timeout(timeout, u.catalog()).await {
                Ok(c) => c?,
                Err(_) => return Err(UpstreamError::Timeout(timeout)),
            };
            self.remember(key, &catalog);
            return Ok(catalog);
        }
        if let Some(c) = self.cached(key) {
            if c.fetched_at.elapsed() < ttl {
                return Ok(c);
            }
        }
        let asked = Instant::now();
        let gate = self.fill_gate(key);
        let mut last = gate.lock().await;
        if let Some(fill) = last.as_ref().filter(|f| f.finished >= asked) {
            // Fetched while this request waited: as fresh as a fetch of its own.
            return fill.outcome.clone();
        }
        let outcome = self.fetch_tools(&reach, timeout, call).await;
        *last = Some(Fill {
            finished: Instant::now(),
            outcome: outcome.clone(),
        });
        outcome
    }

    fn fill_gate(&self, key: u64) -> Arc<tokio::sync::Mutex<Option<Fill>>> {
        let Ok(mut gates) = self.fills.lock() else {
            return Arc::default();
        };
        if gates.len() >= 1024 && !gates.contains_key(&key) {
            gates.clear();
        }
        Arc::clone(gates.entry(key).or_default())
    }

    /// Fetches the catalog (all pages) and caches it.
    async fn fetch_tools(
        &self,
        reach: &Reach,
        timeout: Duration,
        call: &CallContext<'_>,
    ) -> Result<Arc<ToolCatalog>, UpstreamError> {
        let generation = self.link.tools_generation();
        let rules = ToolRules::for_server(&self.name, &self.prefix, &self.config);
        let mut entries = Vec::new();
        let mut cursor: Option<String> = None;
        for _page in 0..100 {
            let params = cursor.as_ref().map(|c| serde_json::json!({"cursor": c}));
            let raw = self
                .request_as(reach, "tools/list", params.as_ref(), timeout, call)
                .await?;
            let mut page: Value = serde_json::from_str(raw.get()).map_err(|e| {
                UpstreamError::Protocol(format!("tools/list result is not JSON: {e}"))
            })?;
            let tools = match page.get_mut("tools").map(Value::take) {
                Some(Value::Array(t)) => t,
                _ => {
                    return Err(UpstreamError::Protocol(
                        "tools/list result has no `tools` array".into(),
                    ))
                }
            };
            entries.extend(
                tools
                    .into_iter()
                    .filter_map(|tool| CatalogEntry::listed(&self.prefix, tool))
                    .filter(|tool| rules.permits(&tool.name)),
            );
            cursor = page
                .get("nextCursor")
                .and_then(Value::as_str)
                .map(str::to_string);
            if cursor.is_none() {
                break;
            }
        }
        let catalog = Arc::new(ToolCatalog::build(generation, entries));
        self.remember(reach.key(), &catalog);
        Ok(catalog)
    }

    fn remember(&self, key: u64, catalog: &Arc<ToolCatalog>) {
        if let Ok(mut map) = self.tools.lock() {
            if map.len() >= 1024 {
                map.clear();
            }
            map.insert(key, Arc::clone(catalog));
        }
    }

    /// The cached catalog, unless the server said its tools changed since.
    pub fn cached_tools(&self, call: &CallContext<'_>) -> Option<Arc<ToolCatalog>> {
        self.cached(self.reach(call).key())
    }

    fn cached(&self, key: u64) -> Option<Arc<ToolCatalog>> {
        let generation = self.link.tools_generation();
        self.tools
            .lock()
            .ok()
            .and_then(|m| m.get(&key).cloned())
            .filter(|c| {
                c.generation == generation || matches!(self.connector, Connector::OpenApi(_))
            })
    }

    /// Stops the connection (kills a stdio process); used when the config drops it.
    pub fn shutdown(&self) {
        match &self.connector {
            Connector::Stdio(u) => u.shutdown(),
            Connector::Sse(u) => u.shutdown(),
            Connector::OpenApi(u) => u.shutdown(),
            Connector::Http(u) => u.shutdown(),
            Connector::Detect(u) => u.shutdown(),
            Connector::Unsupported(_) => {}
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.shutdown();
    }
}
