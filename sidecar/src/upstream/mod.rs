//! Upstream MCP servers: one long-lived connection (process, HTTP session or SSE
//! stream) per configured server, shared by every client request; REST APIs described by
//! an OpenAPI spec are served as MCP servers by the gateway itself.

pub mod carried;
mod client;
mod credentials;
mod detect;
pub mod openapi;
mod pending;
mod sse_client;
mod stdio;
mod stdio_pool;
mod streamable_http;

use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::naming::prefixed;
use meshgate_policy::config::{ServerConfig, Transport};
use meshgate_policy::tool_rules::ToolRules;

pub use self::client::{new_client as new_http_client, new_guarded_client, HttpClient};
pub use self::credentials::set_known_prefixes;
use crate::jsonrpc::RpcError;
use crate::relay::link::ServerLink;
use crate::relay::{ClientCaps, Exchange, Hub};

#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// The upstream answered with a JSON-RPC error; relayed unchanged.
    #[error("upstream error {}: {}", .0.code, .0.message)]
    Rpc(RpcError),
    /// Could not reach the upstream. The text is safe to show (no URL, no secret).
    #[error("{0}")]
    Unavailable(String),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The client cancelled the request; the upstream was told.
    #[error("cancelled by the client")]
    Cancelled,
    /// The upstream sent something that is not MCP.
    #[error("protocol error: {0}")]
    Protocol(String),
}

pub type UpstreamResult = Result<Box<RawValue>, UpstreamError>;

/// What a request carries from the client that an upstream may need: its HTTP headers
/// (for `extra_headers` and `x-mcp-<prefix>-<header>`), the name of the gateway-key
/// header (never forwarded), the client's capabilities (upstream sessions are opened
/// with them) and its exchange (where related server messages go). Empty for the
/// gateway's own requests (e.g. list refreshes).
#[derive(Clone, Copy, Default)]
pub struct CallContext<'a> {
    pub exchange: Option<&'a Arc<Exchange>>,
    /// The client session id, so unprompted upstream messages find their sessions.
    pub session: Option<&'a str>,
    /// Upstream sessions the client's session id carries (opened by any replica).
    pub carried: &'a [carried::CarriedSession],
    pub caps: ClientCaps,
    pub client_headers: Option<&'a ::http::HeaderMap>,
    /// `general_settings.litellm_key_header_name`; `x-litellm-api-key` when None.
    pub key_header: Option<&'a str>,
    /// The legacy one-credential-for-all header (`x-mcp-auth` unless renamed).
    pub legacy_auth_header: Option<&'a str>,
}

impl CallContext<'_> {
    /// The headers a server receives for this request (see [`credentials::outbound_headers`]).
    pub fn outbound(&self, server: &credentials::ServerHeaders) -> ::http::HeaderMap {
        static EMPTY: std::sync::OnceLock<::http::HeaderMap> = std::sync::OnceLock::new();
        let client = self
            .client_headers
            .unwrap_or_else(|| EMPTY.get_or_init(::http::HeaderMap::new));
        credentials::outbound_headers(
            server,
            client,
            self.key_header
                .unwrap_or(meshgate_policy::auth::DEFAULT_KEY_HEADER),
            self.legacy_auth_header
                .unwrap_or(credentials::DEFAULT_LEGACY_AUTH_HEADER),
        )
    }
}

/// A stable key for a set of outbound headers and client capabilities: upstream
/// sessions (and tool lists) are kept per distinct pair, so no session is shared across
/// client identities, and each is opened with the capabilities of its clients.
pub fn session_key(headers: &::http::HeaderMap, caps: ClientCaps) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut pairs: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_bytes()))
        .collect();
    pairs.sort();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    pairs.hash(&mut h);
    caps.hash(&mut h);
    h.finish()
}

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

/// A server's tools as last fetched: prefixed JSON ready to concatenate, and the bare
/// names for routing.
pub struct ToolCatalog {
    pub fetched_at: Instant,
    /// The server's list_changed count when fetched; older catalogs are stale.
    pub generation: u64,
    pub prefixed: Vec<Box<RawValue>>,
    /// Bare names, in the order of `prefixed`.
    pub names: Vec<String>,
    pub bare_names: HashSet<String>,
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
    /// What a credential set is, for HTTP-based servers.
    headers: Option<credentials::ServerHeaders>,
    link: Arc<ServerLink>,
}

/// The `url` of an HTTP-based server, parsed.
fn server_url(name: &str, config: &ServerConfig) -> Result<::http::Uri, String> {
    config
        .url
        .as_deref()
        .unwrap_or_default()
        .parse()
        .map_err(|_| format!("server `{name}` has an invalid url"))
}

/// Client identity the gateway presents upstream.
pub fn client_info() -> Value {
    serde_json::json!({"name": "meshgate", "version": env!("CARGO_PKG_VERSION")})
}

/// The protocol version the gateway asks upstreams for.
pub const UPSTREAM_PROTOCOL_VERSION: &str = "2025-11-25";

/// The `instructions` of an upstream's `initialize` result (non-empty text only).
pub(crate) fn instructions_of(result: &Value) -> Option<Arc<str>> {
    result
        .get("instructions")
        .and_then(Value::as_str)
        .filter(|i| !i.trim().is_empty())
        .map(Arc::from)
}

/// `initialize` on behalf of clients with these capabilities.
pub fn initialize_params(caps: ClientCaps) -> Value {
    serde_json::json!({
        "protocolVersion": UPSTREAM_PROTOCOL_VERSION,
        "capabilities": caps.to_json(),
        "clientInfo": client_info(),
    })
}

impl Upstream {
    pub fn start(
        name: &str,
        prefix: &str,
        config: &ServerConfig,
        client: &HttpClient,
        hub: &Arc<Hub>,
    ) -> Arc<Upstream> {
        let link = ServerLink::new(name, Arc::clone(hub));
        let connector = if config.is_openapi() {
            match openapi::OpenApiUpstream::start(name, prefix, config, client.clone()) {
                Ok(u) => Connector::OpenApi(Arc::new(u)),
                Err(e) => Connector::Unsupported(e),
            }
        } else if let Some(why) = config.auth_type.and_then(|a| a.unsupported()) {
            Connector::Unsupported(why)
        } else {
            match config.effective_transport() {
                Some(Transport::Stdio) => {
                    Connector::Stdio(stdio_pool::StdioPool::start(name, config, &link))
                }
                None => match detect::DetectingUpstream::new(
                    name,
                    prefix,
                    config,
                    client.clone(),
                    &link,
                ) {
                    Ok(u) => Connector::Detect(Arc::new(u)),
                    Err(e) => Connector::Unsupported(e),
                },
                Some(Transport::Http) => {
                    match streamable_http::HttpUpstream::new(
                        name,
                        prefix,
                        config,
                        client.clone(),
                        &link,
                    ) {
                        Ok(u) => Connector::Http(u),
                        Err(e) => Connector::Unsupported(e),
                    }
                }
                Some(Transport::Sse) => {
                    match sse_client::SseUpstream::new(name, prefix, config, client.clone(), &link)
                    {
                        Ok(u) => Connector::Sse(Arc::new(u)),
                        Err(e) => Connector::Unsupported(e),
                    }
                }
            }
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
            headers: match config.effective_transport() {
                Some(Transport::Http | Transport::Sse) | None if !config.is_openapi() => {
                    credentials::ServerHeaders::new(prefix, config).ok()
                }
                _ => None,
            },
            link,
        })
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
        let mapped = match (call.exchange, params) {
            (Some(exchange), Some(p)) => self.link.hub.map_progress(p, exchange),
            _ => None,
        };
        let params = mapped.as_ref().map(|(p, _)| p).or(params);
        let fut = async {
            match &self.connector {
                Connector::Stdio(u) => u.request(method, params, timeout, call).await,
                Connector::Http(u) => u.request(method, params, call).await,
                Connector::Sse(u) => u.request(method, params, timeout, call).await,
                Connector::Detect(u) => u.request(method, params, timeout, call).await,
                Connector::OpenApi(u) => u.request(method, params, call).await,
                Connector::Unsupported(why) => Err(UpstreamError::Unavailable(why.clone())),
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
        match &self.connector {
            Connector::Http(u) => u.carry(call).await,
            Connector::Detect(u) => u.carry(call).await,
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
        let fut = async {
            match &self.connector {
                Connector::Stdio(u) => u.instructions(timeout, call).await,
                Connector::Http(u) => u.instructions(call).await,
                Connector::Sse(u) => u.instructions(call).await,
                Connector::Detect(u) => u.instructions(call).await,
                Connector::OpenApi(_) | Connector::Unsupported(_) => None,
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
        match &self.connector {
            Connector::Stdio(pool) => pool.notify(body, call),
            Connector::Http(u) => u.notify(body, call),
            Connector::Detect(u) => u.notify(body, call),
            _ => {}
        }
    }

    /// Makes a listener (a 2026 `subscriptions/listen` stream, `call.session`) a user of
    /// the upstream session this client reaches, opening it if needed (an HTTP session
    /// has to exist for its listening stream to run).
    pub async fn listen_as(&self, call: &CallContext<'_>) {
        self.note_user(call);
        match &self.connector {
            Connector::Http(u) => {
                let _ = u.carry(call).await;
            }
            Connector::Detect(u) => {
                let _ = u.carry(call).await;
            }
            _ => {}
        }
    }

    /// Makes `call.session` a user of the upstream session this client reaches.
    pub fn note_user(&self, call: &CallContext<'_>) {
        self.link
            .used_by(self.catalog_key(call), call.session, call.caps);
    }

    /// Which cached catalog a request uses: per outbound credential set for HTTP-based
    /// servers, one otherwise.
    fn catalog_key(&self, call: &CallContext<'_>) -> u64 {
        if let Connector::Stdio(pool) = &self.connector {
            return pool.key_for(call).0;
        }
        match &self.headers {
            Some(h) if call.client_headers.is_some() => session_key(&call.outbound(h), call.caps),
            Some(h) => session_key(&CallContext::default().outbound(h), call.caps),
            None => 0,
        }
    }

    /// The tool catalog, from cache when younger than `ttl`, else fetched (all pages)
    /// with the request's credentials.
    pub async fn tools(
        &self,
        ttl: Duration,
        timeout: Duration,
        call: &CallContext<'_>,
    ) -> Result<Arc<ToolCatalog>, UpstreamError> {
        let key = self.catalog_key(call);
        // A list served from cache still makes this client one of the session's users.
        self.link.used_by(key, call.session, call.caps);
        if let Connector::OpenApi(u) = &self.connector {
            // Built once when the spec loaded; never stale.
            let catalog = match tokio::time::timeout(timeout, u.catalog()).await {
                Ok(c) => c?,
                Err(_) => return Err(UpstreamError::Timeout(timeout)),
            };
            self.remember(key, &catalog);
            return Ok(catalog);
        }
        if let Some(c) = self.cached_tools(call) {
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
        let outcome = self.fetch_tools(key, timeout, call).await;
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
        key: u64,
        timeout: Duration,
        call: &CallContext<'_>,
    ) -> Result<Arc<ToolCatalog>, UpstreamError> {
        let generation = self.link.tools_generation();
        let rules = ToolRules::for_server(&self.name, &self.prefix, &self.config);
        let mut prefixed_tools = Vec::new();
        let mut names = Vec::new();
        let mut bare_names = HashSet::new();
        let mut cursor: Option<String> = None;
        for _page in 0..100 {
            let params = cursor.as_ref().map(|c| serde_json::json!({"cursor": c}));
            let raw = self
                .request("tools/list", params.as_ref(), timeout, call)
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
            for mut tool in tools {
                let Some(bare) = tool.get("name").and_then(Value::as_str).map(str::to_string)
                else {
                    continue;
                };
                if !rules.permits(&bare) {
                    continue;
                }
                if let Some(obj) = tool.as_object_mut() {
                    obj.insert("name".into(), Value::String(prefixed(&self.prefix, &bare)));
                }
                if let Ok(raw) = serde_json::value::to_raw_value(&tool) {
                    prefixed_tools.push(raw);
                    names.push(bare.clone());
                }
                bare_names.insert(bare);
            }
            cursor = page
                .get("nextCursor")
                .and_then(Value::as_str)
                .map(str::to_string);
            if cursor.is_none() {
                break;
            }
        }
        let catalog = Arc::new(ToolCatalog {
            fetched_at: Instant::now(),
            generation,
            prefixed: prefixed_tools,
            names,
            bare_names,
        });
        self.remember(key, &catalog);
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
        let key = self.catalog_key(call);
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
