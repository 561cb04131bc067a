//! A REST API described by an OpenAPI spec (`spec_path`), served as an MCP server: the
//! connector answers `tools/list` and `tools/call` itself, turning each call into one HTTP
//! request to the API (conversion rules: the `meshgate-openapi` crate).
//!
//! The spec (a file, or an http(s) URL fetched with the shared client) is loaded in the
//! background when the server starts. Until it is loaded, requests wait for it (within their
//! own timeout); when it cannot be loaded, the reason is logged (once, then retried quietly
//! with a backoff) and every request gets it back as an error, so `tools/list` leaves the
//! server out and a call gets an `isError` result naming the problem. Nothing else is
//! affected.

use bytes::Bytes;
use http::{header, HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::watch;

use crate::naming::prefixed;
use meshgate_openapi::{
    error_result, redact_source, response_to_result, ApiSpec, ParseOptions, ToolNaming,
};
use meshgate_policy::config::{OpenApiToolNames, ServerConfig};
use meshgate_policy::grants::disallowed_params;
use meshgate_policy::tool_rules::ToolRules;

use super::call::{CallContext, Outbound};
use super::catalog::{CatalogEntry, ToolCatalog};
use super::client::{connect_reason, HttpClient, ServerClient};
use super::credentials::ServerHeaders;
use super::error::{UpstreamError, UpstreamResult};
use crate::jsonrpc::RpcError;

/// Largest spec accepted (the biggest public specs are a few MiB).
pub const MAX_SPEC_BYTES: u64 = 32 * 1024 * 1024;
/// Time allowed to fetch a spec over HTTP (connect, redirects and body).
pub const SPEC_FETCH_TIMEOUT: Duration = Duration::from_secs(20);
/// Largest REST response read for one call.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
const MAX_REDIRECTS: usize = 5;
/// A spec that cannot be loaded is tried again (it may be served or mounted later), with a
/// backoff from `RETRY_MIN` doubling up to `RETRY_MAX`; calls get the last reason meanwhile.
const RETRY_MIN: Duration = Duration::from_secs(2);
const RETRY_MAX: Duration = Duration::from_secs(300);

/// A loaded spec, where its API lives, and its tool catalog (built once: the tools of a
/// spec never change, so they are not re-rendered when the gateway refreshes its lists).
pub struct Loaded {
    pub spec: ApiSpec,
    pub base_url: String,
    pub catalog: Arc<ToolCatalog>,
}

#[derive(Clone)]
enum LoadState {
    Loading,
    Ready(Arc<Loaded>),
    Failed(Arc<str>),
}

pub struct OpenApiUpstream {
    name: String,
    prefix: String,
    client: ServerClient,
    headers: ServerHeaders,
    /// `allowed_params`, for calls by a tool's other spelling (see `call`).
    allowed_params: std::collections::BTreeMap<String, Vec<String>>,
    state: watch::Receiver<LoadState>,
    loader: Mutex<Option<tokio::task::AbortHandle>>,
}

impl OpenApiUpstream {
    /// Starts loading the spec in the background. A configuration problem found here (bad
    /// header values) is returned as the reason the server is left out.
    pub fn start(
        name: &str,
        prefix: &str,
        config: &ServerConfig,
        client: ServerClient,
    ) -> Result<OpenApiUpstream, String> {
        let headers = ServerHeaders::new(prefix, config)
            .map_err(|e| format!("OpenAPI server `{name}`: {e}"))?;
        let spec_path = config.spec_path.clone().unwrap_or_default();
        let (tx, rx) = watch::channel(LoadState::Loading);
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| format!("OpenAPI server `{name}`: no async runtime to load its spec"))?;
        let task = {
            let name = name.to_string();
            let prefix = prefix.to_string();
            let url = config.url.clone();
            let client = client.shared().clone();
            let permits = permits_fn(&name, &prefix, config);
            let naming = naming_of(config);
            handle.spawn(async move {
                let mut backoff = RETRY_MIN;
                let mut failures = 0u32;
                loop {
                    match load(&client, &spec_path, url.as_deref(), &prefix, Arc::clone(&permits), naming).await {
                        Ok(loaded) => {
                            tracing::info!(
                                server = %name,
                                spec = %redact_source(&spec_path),
                                base_url = %redact_source(&loaded.base_url),
                                tools = loaded.spec.tools().len(),
                                warnings = loaded.spec.warnings().len(),
                                after_failures = failures,
                                "OpenAPI spec loaded"
                            );
                            for w in loaded.spec.warnings() {
                                tracing::debug!(server = %name, "OpenAPI spec warning: {w}");
                            }
                            for s in loaded.spec.skipped() {
                                tracing::warn!(server = %name, "OpenAPI spec: {s}");
                            }
                            let _ = tx.send(LoadState::Ready(Arc::new(loaded)));
                            return;
                        }
                        Err(why) => {
                            // The log names the spec; clients get no URL or path of it.
                            let logged = format!(
                                "OpenAPI server `{name}`: cannot load spec {}: {why}",
                                redact_source(&spec_path)
                            );
                            let msg = meshgate_policy::scrub::scrub_urls(&format!(
                                "OpenAPI server `{name}`: cannot load its spec: {why}"
                            ));
                            if failures == 0 {
                                tracing::error!(
                                    server = %name,
                                    "{logged}; the server is left out until its spec loads (tried again with a backoff of up to {} s)",
                                    RETRY_MAX.as_secs()
                                );
                            } else {
                                tracing::debug!(server = %name, failures, "{logged}");
                            }
                            failures += 1;
                            let _ = tx.send(LoadState::Failed(Arc::from(msg)));
                        }
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(RETRY_MAX);
                }
            })
        };
        Ok(OpenApiUpstream {
            name: name.to_string(),
            prefix: prefix.to_string(),
            client,
            headers,
            allowed_params: config.allowed_params.clone(),
            state: rx,
            loader: Mutex::new(Some(task.abort_handle())),
        })
    }

    /// Waits for the spec (bounded by the caller's timeout).
    async fn loaded(&self) -> Result<Arc<Loaded>, UpstreamError> {
        let mut rx = self.state.clone();
        let state = rx
            .wait_for(|s| !matches!(s, LoadState::Loading))
            .await
            .map(|s| s.clone())
            .map_err(|_| {
                UpstreamError::Unavailable(format!(
                    "OpenAPI server `{}`: its spec loader stopped",
                    self.name
                ))
            })?;
        match state {
            LoadState::Ready(l) => Ok(l),
            LoadState::Failed(why) => Err(UpstreamError::Unavailable(why.to_string())),
            LoadState::Loading => Err(UpstreamError::Unavailable(format!(
                "OpenAPI server `{}`: its spec is still loading",
                self.name
            ))),
        }
    }

    /// The prefixed tool catalog, once the spec is loaded.
    pub async fn catalog(&self) -> Result<Arc<ToolCatalog>, UpstreamError> {
        Ok(Arc::clone(&self.loaded().await?.catalog))
    }

    pub async fn request(
        &self,
        method: &str,
        params: Option<&Value>,
        call: &CallContext<'_>,
    ) -> UpstreamResult {
        match method {
            "tools/list" => {
                let loaded = self.loaded().await?;
                tools_list(&loaded.spec)
            }
            "tools/call" => {
                let loaded = self.loaded().await?;
                let result = self.call(&loaded, params, call).await?;
                serde_json::value::to_raw_value(&result)
                    .map_err(|e| UpstreamError::Protocol(e.to_string()))
            }
            "ping" => RawValue::from_string("{}".into())
                .map_err(|e| UpstreamError::Protocol(e.to_string())),
            other => Err(UpstreamError::Rpc(RpcError::method_not_found(format!(
                "Method not found: {other} (server `{}` is a REST API and only has tools)",
                self.name
            )))),
        }
    }

    /// One `tools/call`: arguments → HTTP request → `CallToolResult`. Argument problems are
    /// `isError` results (the model can fix them); an unreachable API is an error.
    async fn call(
        &self,
        loaded: &Loaded,
        params: Option<&Value>,
        call: &CallContext<'_>,
    ) -> Result<Value, UpstreamError> {
        let bare = params
            .and_then(|p| p.get("name"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                UpstreamError::Rpc(RpcError::invalid_params("tools/call needs a `name`"))
            })?;
        // Messages name the tool as the client knows it.
        let tool = prefixed(&self.prefix, bare);
        let empty = Map::new();
        let args = match params.and_then(|p| p.get("arguments")) {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(m)) => m,
            Some(_) => {
                return Ok(error_result(&format!(
                    "Error: tool '{tool}': `arguments` must be an object"
                )))
            }
        };
        if let Some(refused) = self.refused_params(&loaded.spec, bare, args) {
            return Ok(error_result(&format!(
                "Error: parameters [{refused}] are not allowed for tool '{tool}'."
            )));
        }
        let prepared = match loaded.spec.build_request(bare, args, &loaded.base_url) {
            Ok(p) => p,
            Err(e) => return Ok(error_result(&format!("Error: tool '{tool}': {e}"))),
        };
        let Ok(uri) = prepared.url.parse::<Uri>() else {
            return Ok(error_result(&format!(
                "Error: tool '{tool}': the arguments do not make a valid URL"
            )));
        };
        let mut req = Request::builder()
            .method(prepared.method.clone())
            .uri(uri)
            .body(Full::new(Bytes::from(prepared.body.unwrap_or_default())))
            .map_err(|e| UpstreamError::Protocol(e.to_string()))?;
        let h = req.headers_mut();
        let mut content_type = None;
        for (name, value) in &prepared.headers {
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) else {
                return Ok(error_result(&format!(
                    "Error: tool '{tool}': header argument `{name}` is not a valid HTTP header"
                )));
            };
            if name == header::CONTENT_TYPE {
                content_type = Some(value);
            } else if !is_framing(&name) {
                h.append(name, value);
            }
        }
        // Gateway headers replace arguments of the same name (the model cannot replace a
        // credential)…
        h.extend(Outbound::of(call, &self.headers).headers);
        // …except the body's own content type, which must describe the bytes sent.
        if let Some(ct) = content_type {
            h.insert(header::CONTENT_TYPE, ct);
        }

        let resp = self.client.request(req).await.map_err(|e| {
            UpstreamError::Unavailable(format!(
                "REST API of server `{}` is unreachable: {}",
                self.name,
                e.reason()
            ))
        })?;
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = match Limited::new(resp.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
        {
            Ok(b) => b.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return Ok(error_result(&format!(
                    "Error: tool '{tool}': the response of HTTP {status} is larger than {} MiB",
                    MAX_RESPONSE_BYTES / (1024 * 1024)
                )))
            }
            Err(e) => {
                return Err(UpstreamError::Unavailable(format!(
                    "REST API of server `{}` broke off its response: {e}",
                    self.name
                )))
            }
        };
        Ok(response_to_result(status, ct.as_deref(), &body))
    }

    /// The gateway checked `allowed_params` under the name called; an entry under the
    /// tool's other spelling must hold as well.
    fn refused_params(
        &self,
        spec: &ApiSpec,
        called: &str,
        args: &Map<String, Value>,
    ) -> Option<String> {
        if self.allowed_params.is_empty() {
            return None;
        }
        let t = spec.tool(called)?;
        [Some(t.name.as_str()), t.other_name()]
            .into_iter()
            .flatten()
            .filter(|n| *n != called)
            .map(|n| disallowed_params(&self.allowed_params, n, args.keys().map(String::as_str)))
            .find(|refused| !refused.is_empty())
            .map(|refused| refused.join(", "))
    }

    pub fn shutdown(&self) {
        if let Ok(mut slot) = self.loader.lock() {
            if let Some(task) = slot.take() {
                task.abort();
            }
        }
    }
}

/// Headers the HTTP client sets itself for the request it sends.
fn is_framing(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "host"
            | "content-length"
            | "transfer-encoding"
            | "connection"
            | "keep-alive"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "upgrade"
    )
}

/// `{"tools": [...]}` in one page.
fn tools_list(spec: &ApiSpec) -> UpstreamResult {
    let tools: Vec<String> = spec
        .tools()
        .iter()
        .map(|t| t.to_mcp_json_text(&t.name))
        .collect();
    RawValue::from_string(format!("{{\"tools\":[{}]}}", tools.join(",")))
        .map_err(|e| UpstreamError::Protocol(e.to_string()))
}

/// Reads and parses the spec, and settles the base URL: the configured `url`, else the one
/// the spec gives (resolved against the spec's URL when it is relative).
pub async fn load(
    client: &HttpClient,
    spec_path: &str,
    url: Option<&str>,
    prefix: &str,
    permits: Permits,
    naming: ToolNaming,
) -> Result<Loaded, String> {
    let spec_path = spec_path.trim();
    let is_url = is_http_url(spec_path);
    let bytes = if is_url {
        fetch(client, spec_path).await?
    } else {
        read_file(spec_path.strip_prefix("file://").unwrap_or(spec_path)).await?
    };
    // Parsing a large spec takes up to a second: off the request threads.
    let source = redact_source(spec_path);
    let prefix = prefix.to_string();
    let (spec, catalog) = tokio::task::spawn_blocking(move || {
        ApiSpec::parse_with(&bytes, &source, parse_options(&prefix, naming)).map(|spec| {
            let catalog = Arc::new(catalog(&spec, &prefix, &*permits));
            (spec, catalog)
        })
    })
    .await
    .map_err(|e| format!("the parser stopped: {e}"))?
    .map_err(|e| e.to_string())?;
    let base_url = match url.map(str::trim).filter(|u| !u.is_empty()) {
        Some(u) => u.to_string(),
        None => spec
            .default_base_url(is_url.then_some(spec_path))
            .ok_or_else(|| {
                "no base URL: the spec names no absolute server URL; set `url` for this server"
                    .to_string()
            })?,
    };
    if !is_http_url(&base_url) {
        return Err(format!(
            "the base URL {} is not an http(s) URL; set `url` for this server",
            redact_source(&base_url)
        ));
    }
    Ok(Loaded {
        spec,
        base_url,
        catalog,
    })
}

/// Whether a tool passes the server's `allowed_tools` / `disallowed_tools`, given its listed
/// name and its other spelling: the listed name must be permitted (calls are checked by the
/// name called), and a deny entry in either spelling leaves the tool out altogether.
pub type Permits = Arc<dyn Fn(&str, Option<&str>) -> bool + Send + Sync>;

fn permits_fn(name: &str, prefix: &str, config: &ServerConfig) -> Permits {
    let (name, prefix, config) = (name.to_string(), prefix.to_string(), config.clone());
    Arc::new(move |tool: &str, other: Option<&str>| {
        let rules = ToolRules::for_server(&name, &prefix, &config);
        rules.permits(tool) && other.is_none_or(|o| !rules.denies(o))
    })
}

/// `meshgate.openapi_tool_names` as the converter knows it.
fn naming_of(config: &ServerConfig) -> ToolNaming {
    match config.openapi_tool_names {
        OpenApiToolNames::Litellm => ToolNaming::LiteLlm,
        OpenApiToolNames::Exact => ToolNaming::Exact,
    }
}

/// Names short enough that `{prefix}-{name}` stays within SEP-986's 128 characters.
fn parse_options(prefix: &str, naming: ToolNaming) -> ParseOptions {
    ParseOptions {
        naming,
        max_name_len: 128usize.saturating_sub(prefixed(prefix, "").len()),
    }
}

/// The tools as the gateway lists them: prefixed JSON (numbers exactly as the spec wrote
/// them), and the bare names for routing: the listed name and the other spelling, which
/// the connector resolves too. Tools the server's rules forbid are left out.
fn catalog(
    spec: &ApiSpec,
    prefix: &str,
    permits: &dyn Fn(&str, Option<&str>) -> bool,
) -> ToolCatalog {
    let entries = spec
        .tools()
        .iter()
        .filter(|t| permits(&t.name, t.other_name()))
        .filter_map(|tool| {
            let json = tool.to_mcp_json_text(&prefixed(prefix, &tool.name));
            Some(CatalogEntry {
                name: tool.name.clone(),
                json: RawValue::from_string(json).ok()?,
                // Only when it reaches this very tool (a listed name of another wins).
                alias: tool
                    .other_name()
                    .filter(|other| spec.tool(other).is_some_and(|t| t.name == tool.name))
                    .map(str::to_string),
            })
        });
    ToolCatalog::build(0, entries)
}

fn is_http_url(s: &str) -> bool {
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

async fn read_file(path: &str) -> Result<Vec<u8>, String> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| format!("cannot open the file: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_SPEC_BYTES + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| format!("cannot read the file: {e}"))?;
    if bytes.len() as u64 > MAX_SPEC_BYTES {
        return Err(format!(
            "the file is larger than {} MiB",
            MAX_SPEC_BYTES / (1024 * 1024)
        ));
    }
    Ok(bytes)
}

async fn fetch(client: &HttpClient, url: &str) -> Result<Vec<u8>, String> {
    match tokio::time::timeout(SPEC_FETCH_TIMEOUT, fetch_following(client, url)).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "no complete answer within {} s",
            SPEC_FETCH_TIMEOUT.as_secs()
        )),
    }
}

/// GET with up to five redirects (never from https to http); the spec is fetched without
/// the server's credentials. Errors never contain the URL (it may carry a token).
async fn fetch_following(client: &HttpClient, url: &str) -> Result<Vec<u8>, String> {
    let mut current = url::Url::parse(url).map_err(|_| "not a valid URL".to_string())?;
    for _ in 0..=MAX_REDIRECTS {
        let uri: Uri = current
            .as_str()
            .parse()
            .map_err(|_| "not a valid URL".to_string())?;
        let req = Request::builder()
            .method(Method::GET)
            .uri(uri)
            .header(
                header::ACCEPT,
                "application/json, application/yaml;q=0.9, text/yaml;q=0.9, */*;q=0.5",
            )
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        let resp = client
            .request(req)
            .await
            .map_err(|e| format!("cannot fetch it: {}", connect_reason(&e)))?;
        let status = resp.status();
        if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
            let next = resp
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|loc| current.join(loc).ok())
                .ok_or_else(|| format!("HTTP {} without a usable Location", status.as_u16()))?;
            let downgrade = current.scheme() == "https" && next.scheme() != "https";
            if downgrade || !matches!(next.scheme(), "http" | "https") {
                return Err(format!(
                    "HTTP {} redirects to a non-https URL; refused",
                    status.as_u16()
                ));
            }
            current = next;
            continue;
        }
        if !status.is_success() {
            return Err(format!("the server answered HTTP {}", status.as_u16()));
        }
        let body = Limited::new(resp.into_body(), MAX_SPEC_BYTES as usize)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    format!(
                        "the spec is larger than {} MiB",
                        MAX_SPEC_BYTES / (1024 * 1024)
                    )
                } else {
                    format!("the download broke off: {e}")
                }
            })?;
        return Ok(body.to_bytes().to_vec());
    }
    Err(format!("more than {MAX_REDIRECTS} redirects"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_dir() -> std::path::PathBuf {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let beside = root.join("../../shared/openapi");
        if beside.is_dir() {
            beside
        } else {
            root.join("../../../shared/openapi")
        }
    }

    #[test]
    fn redact_strips_credentials_from_urls() {
        assert_eq!(
            redact_source("https://user:pw@example.com/spec.json?token=s3cret#x"),
            "https://example.com/spec.json?…"
        );
        assert_eq!(redact_source("/etc/specs/a.yaml"), "/etc/specs/a.yaml");
    }

    #[tokio::test]
    async fn load_from_file_with_configured_url() {
        let client = super::super::new_http_client();
        let path = spec_dir().join("swagger-petstore-v3.yaml");
        let loaded = load(
            &client,
            path.to_str().unwrap(),
            Some("http://127.0.0.1:9/api/v3"),
            "pets",
            Arc::new(|_: &str, _: Option<&str>| true),
            ToolNaming::Exact,
        )
        .await
        .unwrap();
        assert_eq!(loaded.base_url, "http://127.0.0.1:9/api/v3");
        assert!(loaded.spec.tool("getPetById").is_some());
        assert!(loaded.catalog.bare_names.contains("getPetById"));
        let first: Value = serde_json::from_str(loaded.catalog.prefixed[0].get()).unwrap();
        assert!(first["name"].as_str().unwrap().starts_with("pets-"));
        assert_eq!(loaded.catalog.prefixed.len(), loaded.spec.tools().len());
        // Without `url`, the spec's own absolute server is used.
        let loaded = load(
            &client,
            path.to_str().unwrap(),
            None,
            "p",
            Arc::new(|_: &str, _: Option<&str>| true),
            ToolNaming::Exact,
        )
        .await
        .unwrap();
        assert_eq!(loaded.base_url, "https://petstore3.swagger.io/api/v3");
    }

    #[tokio::test]
    async fn litellm_names_are_listed_and_both_spellings_route() {
        let client = super::super::new_http_client();
        let path = spec_dir().join("swagger-petstore-v3.yaml");
        let config = ServerConfig {
            disallowed_tools: Some(vec!["pets-deletePet".into()]),
            ..Default::default()
        };
        let loaded = load(
            &client,
            path.to_str().unwrap(),
            Some("http://127.0.0.1:9/api/v3"),
            "pets",
            permits_fn("petstore", "pets", &config),
            naming_of(&config),
        )
        .await
        .unwrap();
        let listed: Vec<String> = loaded
            .catalog
            .prefixed
            .iter()
            .map(|raw| {
                let v: Value = serde_json::from_str(raw.get()).unwrap();
                v["name"].as_str().unwrap().to_string()
            })
            .collect();
        assert!(
            listed.contains(&"pets-getpetbyid".to_string()),
            "{listed:?}"
        );
        assert!(!listed.iter().any(|n| n != &n.to_lowercase()), "{listed:?}");
        let bare = &loaded.catalog.bare_names;
        assert!(bare.contains("getpetbyid") && bare.contains("getPetById"));
        // Denied in its exact spelling: gone in both.
        assert!(!bare.contains("deletepet") && !bare.contains("deletePet"));
        assert!(!listed.contains(&"pets-deletepet".to_string()));
    }

    #[test]
    fn names_leave_room_for_the_prefix() {
        let o = parse_options(&"p".repeat(20), ToolNaming::LiteLlm);
        assert_eq!(o.max_name_len, 128 - 21);
    }

    #[tokio::test]
    async fn load_errors_are_clear() {
        let client = super::super::new_http_client();
        let err = load(
            &client,
            "/nonexistent/spec.yaml",
            None,
            "p",
            Arc::new(|_: &str, _: Option<&str>| true),
            ToolNaming::Exact,
        )
        .await
        .err()
        .unwrap();
        assert!(err.contains("cannot open the file"), "{err}");

        let dir = std::env::temp_dir().join(format!("meshgate-openapi-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let no_servers = dir.join("no-servers.json");
        std::fs::write(
            &no_servers,
            r#"{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{"/a":{"get":{"operationId":"a","responses":{"200":{"description":"ok"}}}}}}"#,
        )
        .unwrap();
        let err = load(
            &client,
            no_servers.to_str().unwrap(),
            None,
            "p",
            Arc::new(|_: &str, _: Option<&str>| true),
            ToolNaming::Exact,
        )
        .await
        .err()
        .unwrap();
        assert!(err.contains("no base URL"), "{err}");
        let not_spec = dir.join("not-spec.json");
        std::fs::write(&not_spec, "{\"hello\": 1}").unwrap();
        let err = load(
            &client,
            not_spec.to_str().unwrap(),
            Some("http://x"),
            "p",
            Arc::new(|_: &str, _: Option<&str>| true),
            ToolNaming::Exact,
        )
        .await
        .err()
        .unwrap();
        assert!(err.contains("not an OpenAPI document"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn unreachable_spec_url_never_shows_its_credentials() {
        let client = super::super::new_http_client();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://u:secretpw@127.0.0.1:{port}/spec.json?token=secrettok");
        let err = load(
            &client,
            &url,
            None,
            "p",
            Arc::new(|_: &str, _: Option<&str>| true),
            ToolNaming::Exact,
        )
        .await
        .err()
        .unwrap();
        assert!(err.contains("cannot fetch it"), "{err}");
        assert!(!err.contains("secret"), "{err}");
    }
}
