//! One vocabulary of request paths for the filter and the sidecar, so both classify a
//! path the same way: [`Route::of`] says which part of the gateway answers it,
//! [`path_target`] which servers an MCP path names, [`binds_body`] whether the filter
//! seals the request body. Query strings and fragments are ignored throughout.

use crate::sync::SYNC_PATH;

/// LiteLLM's unauthenticated probes, answered by the sidecar.
pub const LIVENESS_PATH: &str = "/health/liveliness";
pub const READINESS_PATH: &str = "/health/readiness";
/// LiteLLM's `GET /mcp/enabled` (`{"enabled": true}`), open like liveness.
pub const MCP_ENABLED_PATH: &str = "/mcp/enabled";
/// The sidecar's own liveness (Envoy's cluster health check); never signed.
pub const SIDECAR_HEALTH_PATH: &str = "/healthz";
/// Prefix of the filter↔sidecar internal paths (the policy sync).
pub const INTERNAL_PREFIX: &str = "/_meshgate/";
/// Prefix of LiteLLM's REST view of MCP tools (an admin-API route).
pub const REST_PREFIX: &str = "/mcp-rest/";
/// Largest admin body the filter buffers to seal its hash.
pub const MAX_BOUND_BODY_BYTES: usize = 64 * 1024;

/// Who answers a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// `/healthz`: the sidecar's own liveness.
    SidecarHealth,
    /// `GET`/`HEAD` of a LiteLLM probe: no key needed.
    Probe(Probe),
    /// The policy sync (`POST /_meshgate/v1/sync`, the filter's own principal).
    Sync,
    /// Any other `/_meshgate/…` path: nothing answers it, but its body is bound.
    Internal,
    /// `GET /sse`, `GET /mcp/sse`: LiteLLM's legacy HTTP+SSE stream.
    LegacySseStream,
    /// `POST /messages`, `POST /mcp/sse/messages`: a message to a legacy SSE session.
    LegacySseMessage,
    /// The admin API (keys, teams, organizations, MCP servers).
    AdminApi,
    /// `/mcp-rest/…`: LiteLLM's REST view of tools, served with the admin API.
    Rest,
    /// `/mcp/enabled` other than a probe (another method, a trailing slash): admin API.
    McpEnabled,
    /// The OpenAI-compatible LLM routes (`model_list`, the tool loop): authenticated as
    /// MCP requests are, bodies not bound (they stream), answered by the sidecar.
    Llm(LlmRoute),
    /// An MCP endpoint: every allowed server, or the named ones.
    Mcp(PathTarget<'a>),
    /// Nothing: 404 at the sidecar.
    Other,
}

/// The OpenAI-compatible routes, with or without the `/v1` prefix (LiteLLM answers
/// both; the OpenAI SDK pointed at the bare base URL sends the short form).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LlmRoute {
    /// `POST /v1/chat/completions`, `POST /chat/completions`.
    ChatCompletions,
    /// `POST /v1/responses`, `POST /responses`.
    Responses,
    /// `GET /v1/models`, `GET /models`.
    Models,
}

impl LlmRoute {
    /// The route of a method and path (query ignored), if it is one.
    pub fn of(method: &str, path: &str) -> Option<LlmRoute> {
        let path = without_query(path);
        let short = path.strip_prefix("/v1").unwrap_or(path);
        match (method, short.trim_end_matches('/')) {
            ("POST", "/chat/completions") => Some(LlmRoute::ChatCompletions),
            ("POST", "/responses") => Some(LlmRoute::Responses),
            ("GET", "/models") => Some(LlmRoute::Models),
            _ => None,
        }
    }

    /// How LiteLLM names the route in its error messages (`/chat/completions: …`).
    pub fn label(self) -> &'static str {
        match self {
            LlmRoute::ChatCompletions => "/chat/completions",
            LlmRoute::Responses => "/responses",
            LlmRoute::Models => "/models",
        }
    }
}

/// The three LiteLLM probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    Liveness,
    Readiness,
    McpEnabled,
}

impl Probe {
    /// The probe at `path` (exact, query ignored), whatever the method.
    pub fn at(path: &str) -> Option<Probe> {
        match without_query(path) {
            LIVENESS_PATH => Some(Probe::Liveness),
            READINESS_PATH => Some(Probe::Readiness),
            MCP_ENABLED_PATH => Some(Probe::McpEnabled),
            _ => None,
        }
    }

    /// Whether it may be answered before the filter has a policy (readiness may not).
    pub fn needs_no_policy(self) -> bool {
        self != Probe::Readiness
    }
}

/// What an MCP path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathTarget<'a> {
    /// `/mcp`: every allowed server.
    All,
    /// `/mcp/a,b` or `/<name>/mcp`: only the named servers or access groups.
    Named(&'a str),
    /// Anything else: authenticated, passed on, answered by the sidecar.
    Other,
}

impl<'a> Route<'a> {
    /// Classifies a request as the sidecar routes it (and the filter reasons about it).
    pub fn of(method: &str, path: &'a str) -> Route<'a> {
        let path = without_query(path);
        if path == SIDECAR_HEALTH_PATH {
            return Route::SidecarHealth;
        }
        if let Some(probe) = Probe::at(path).filter(|_| method == "GET" || method == "HEAD") {
            return Route::Probe(probe);
        }
        if path == SYNC_PATH {
            return Route::Sync;
        }
        if path.starts_with(INTERNAL_PREFIX) {
            return Route::Internal;
        }
        match (method, path) {
            ("GET", "/sse" | "/mcp/sse") => return Route::LegacySseStream,
            ("POST", "/messages" | "/mcp/sse/messages") => return Route::LegacySseMessage,
            _ => {}
        }
        if path.starts_with(REST_PREFIX) {
            return Route::Rest;
        }
        if let Some(llm) = LlmRoute::of(method, path) {
            return Route::Llm(llm);
        }
        if is_admin_api_path(path) {
            return Route::AdminApi;
        }
        if path.trim_end_matches('/') == MCP_ENABLED_PATH {
            return Route::McpEnabled;
        }
        match path_target(path) {
            PathTarget::Other => Route::Other,
            target => Route::Mcp(target),
        }
    }

    /// Served by the admin API's router.
    pub fn is_admin(&self) -> bool {
        matches!(self, Route::AdminApi | Route::Rest | Route::McpEnabled)
    }
}

/// Classifies an MCP path by the servers it names (query string ignored).
pub fn path_target(path: &str) -> PathTarget<'_> {
    let trimmed = without_query(path).trim_end_matches('/');
    if trimmed == "/mcp" {
        return PathTarget::All;
    }
    // LiteLLM's legacy SSE endpoints: every allowed server, narrowed by header only.
    if trimmed == "/mcp/sse" || trimmed == "/mcp/sse/messages" {
        return PathTarget::All;
    }
    // LiteLLM's `GET /mcp/enabled`: an admin-style route of the sidecar, not a server.
    if trimmed == MCP_ENABLED_PATH {
        return PathTarget::Other;
    }
    if let Some(rest) = trimmed.strip_prefix("/mcp/") {
        let names = rest.split('/').next().unwrap_or(rest);
        return if names.is_empty() {
            PathTarget::All
        } else {
            PathTarget::Named(names)
        };
    }
    if let Some(name) = trimmed
        .strip_prefix('/')
        .and_then(|p| p.strip_suffix("/mcp"))
    {
        if !name.is_empty() && !name.contains('/') {
            return PathTarget::Named(name);
        }
    }
    PathTarget::Other
}

/// A `GET`/`HEAD` of a health probe path (query ignored).
pub fn is_health_probe(method: &str, path: &str) -> bool {
    matches!(Route::of(method, path), Route::Probe(_))
}

/// Paths whose request body the filter reads and seals (they change what the sidecar
/// runs or who may use it): the admin API and the policy sync. Small bodies only — the
/// filter refuses larger ones with 413 ([`MAX_BOUND_BODY_BYTES`]).
pub fn binds_body(path: &str) -> bool {
    let path = without_query(path);
    is_admin_api_path(path) || path.starts_with(INTERNAL_PREFIX)
}

/// The admin API's paths (keys, teams, organizations, MCP servers, `/mcp-rest`,
/// `/guardrails/` — the sidecar's guardrail counters, `/audit/` — the audit trail): one
/// list, so every admin route the sidecar serves has its body bound by the filter.
pub fn is_admin_api_path(path: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "/key/",
        "/team/",
        "/organization/",
        "/v1/mcp/",
        "/guardrails/",
        "/audit/",
        "/spend/",
        REST_PREFIX,
    ];
    PREFIXES.iter().any(|p| path.starts_with(p)) || path == "/v1/mcp/server"
}

fn without_query(path: &str) -> &str {
    path.split(['?', '#']).next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcp_targets() {
        assert_eq!(path_target("/mcp"), PathTarget::All);
        assert_eq!(path_target("/mcp/"), PathTarget::All);
        assert_eq!(path_target("/mcp?x=1"), PathTarget::All);
        assert_eq!(path_target("/mcp/a,b"), PathTarget::Named("a,b"));
        assert_eq!(path_target("/mcp/a,b/tail"), PathTarget::Named("a,b"));
        assert_eq!(path_target("/github/mcp"), PathTarget::Named("github"));
        assert_eq!(path_target("/a/b/mcp"), PathTarget::Other);
        assert_eq!(path_target("/healthz"), PathTarget::Other);
        assert_eq!(path_target("/mcp/sse"), PathTarget::All);
        assert_eq!(path_target("/mcp/enabled"), PathTarget::Other);
        assert_eq!(
            path_target("/mcp/sse/messages?sessionId=x"),
            PathTarget::All
        );
        assert_eq!(path_target("/sse"), PathTarget::Other);
    }

    #[test]
    fn routes_as_the_sidecar_serves_them() {
        let cases = [
            ("GET", "/healthz", Route::SidecarHealth),
            ("POST", "/healthz", Route::SidecarHealth),
            ("GET", "/health/liveliness", Route::Probe(Probe::Liveness)),
            (
                "HEAD",
                "/health/readiness?x=1",
                Route::Probe(Probe::Readiness),
            ),
            ("GET", "/mcp/enabled", Route::Probe(Probe::McpEnabled)),
            ("POST", "/mcp/enabled", Route::McpEnabled),
            ("GET", "/mcp/enabled/", Route::McpEnabled),
            ("POST", "/health/liveliness", Route::Other),
            ("POST", "/_meshgate/v1/sync", Route::Sync),
            ("POST", "/_meshgate/other", Route::Internal),
            ("GET", "/sse", Route::LegacySseStream),
            ("GET", "/mcp/sse", Route::LegacySseStream),
            ("POST", "/mcp/sse", Route::Mcp(PathTarget::All)),
            ("POST", "/sse", Route::Other),
            ("POST", "/messages?session_id=x", Route::LegacySseMessage),
            ("POST", "/mcp/sse/messages", Route::LegacySseMessage),
            ("GET", "/messages", Route::Other),
            ("POST", "/key/generate", Route::AdminApi),
            ("GET", "/v1/mcp/server", Route::AdminApi),
            ("GET", "/audit/logs?page=2", Route::AdminApi),
            ("POST", "/mcp-rest/tools/call", Route::Rest),
            (
                "POST",
                "/v1/chat/completions",
                Route::Llm(LlmRoute::ChatCompletions),
            ),
            (
                "POST",
                "/chat/completions?x=1",
                Route::Llm(LlmRoute::ChatCompletions),
            ),
            ("POST", "/v1/responses", Route::Llm(LlmRoute::Responses)),
            ("POST", "/responses", Route::Llm(LlmRoute::Responses)),
            ("GET", "/v1/models", Route::Llm(LlmRoute::Models)),
            ("GET", "/models", Route::Llm(LlmRoute::Models)),
            ("GET", "/v1/chat/completions", Route::Other),
            ("POST", "/v1/models", Route::Other),
            ("POST", "/mcp", Route::Mcp(PathTarget::All)),
            ("DELETE", "/mcp/a,b", Route::Mcp(PathTarget::Named("a,b"))),
            (
                "GET",
                "/github/mcp",
                Route::Mcp(PathTarget::Named("github")),
            ),
            ("GET", "/keys", Route::Other),
        ];
        for (method, path, route) in cases {
            assert_eq!(Route::of(method, path), route, "{method} {path}");
        }
        assert!(Route::of("POST", "/mcp-rest/tools/list").is_admin());
        assert!(Route::of("POST", "/mcp/enabled").is_admin());
        assert!(!Route::of("POST", "/mcp").is_admin());
    }

    #[test]
    fn probes() {
        assert!(is_health_probe("GET", "/health/readiness?x=1"));
        assert!(is_health_probe("HEAD", "/mcp/enabled"));
        assert!(!is_health_probe("POST", "/health/liveliness"));
        assert!(!is_health_probe("GET", "/health/other"));
        assert!(Probe::Liveness.needs_no_policy());
        assert!(Probe::McpEnabled.needs_no_policy());
        assert!(!Probe::Readiness.needs_no_policy());
    }

    #[test]
    fn admin_and_sync_paths_bind_their_body() {
        for p in [
            "/key/generate",
            "/team/new?x=1",
            "/v1/mcp/server",
            "/v1/mcp/server/a",
            "/mcp-rest/tools/call",
            "/_meshgate/v1/sync",
        ] {
            assert!(binds_body(p), "{p}");
        }
        for p in ["/mcp", "/mcp/a", "/sse", "/a/mcp", "/keys", "/mcp/enabled"] {
            assert!(!binds_body(p), "{p}");
        }
    }
}
