//! The filter's per-request decision: who is calling, which servers they may reach on
//! this request, and which headers must not travel further.

use crate::auth::{find_gateway_key, hash_key, hashes_equal, KeyLookupError, KeySource};
use crate::mcp_headers::{shown, RequestIntent};
use crate::paths::Route;
use crate::ratelimit::RateGate;
use crate::request_head::wants_jsonrpc;
use crate::snapshot::{PolicySnapshot, SnapshotServer};
use crate::tool_rules::ToolRules;

pub use crate::paths::{
    is_health_probe, path_target, PathTarget, LIVENESS_PATH, MCP_ENABLED_PATH, READINESS_PATH,
};
pub use crate::principal::Principal;
pub use crate::scope::Scope;

/// Header that narrows the servers of a request (LiteLLM's).
pub const SERVERS_FILTER_HEADER: &str = "x-mcp-servers";
/// Wire form of the master key's principal (see [`Principal`]).
pub const MASTER_PRINCIPAL: &str = crate::principal::MASTER;
/// Wire form of "every configured server" (see [`Scope`]).
pub const ALL_SERVERS: &str = crate::scope::ALL;
/// Wire form of the health probes' principal.
pub const HEALTH_PRINCIPAL: &str = crate::principal::HEALTH;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Forward(Forward),
    Reject(Rejection),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub principal: Principal,
    /// The servers the request may reach.
    pub servers: Scope,
    /// Request headers to remove before forwarding (the gateway key's header).
    pub remove_headers: Vec<String>,
    /// The key's request limit, when it has one: a batch is charged once per request it
    /// carries (the filter counts them in the body; one was charged here).
    pub rate_limit: Option<RateLimited>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimited {
    pub key_id: String,
    pub rpm_limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub error: &'static str,
    pub message: String,
    /// Value for `WWW-Authenticate`, on 401s.
    pub www_authenticate: Option<&'static str>,
    /// Seconds for `Retry-After`, on 429s.
    pub retry_after: Option<u64>,
    /// The client speaks MCP 2026-07-28: the body is a JSON-RPC error response.
    pub jsonrpc: bool,
    /// LiteLLM's `ProxyException` body (`{"error": {"message", "type", "param",
    /// "code"}}`) instead of `{"error", "message"}` (budget refusals).
    pub litellm_shape: bool,
}

/// JSON-RPC code of a refusal of a malformed request (400).
pub const INVALID_REQUEST_CODE: i64 = -32600;
/// JSON-RPC code of every other header-time refusal (implementation-defined server
/// error; -32020..-32099 are MCP's own).
pub const REFUSED_CODE: i64 = -32000;

impl Rejection {
    pub(crate) fn new(status: u16, error: &'static str, message: impl Into<String>) -> Self {
        Rejection {
            status,
            error,
            message: message.into(),
            www_authenticate: None,
            retry_after: None,
            jsonrpc: false,
            litellm_shape: false,
        }
    }

    fn unauthorized(error: &'static str, message: impl Into<String>) -> Self {
        Rejection {
            www_authenticate: Some("Bearer realm=\"meshgate\""),
            ..Self::new(401, error, message)
        }
    }

    /// The JSON body sent with the rejection: `{"error", "message"}`, or for a 2026-07-28
    /// client a JSON-RPC error response (its SDK shows `error.message`; the kind is in
    /// `error.data.error`). The id is `null`: headers never carry the JSON-RPC id
    /// (2026-07-28 mirrors only the method and the name) and the body is not read here.
    pub fn body(&self) -> String {
        if !self.jsonrpc && self.litellm_shape {
            return serde_json::json!({"error": {
                "message": self.message,
                "type": self.error,
                "param": null,
                "code": self.status.to_string(),
            }})
            .to_string();
        }
        if !self.jsonrpc {
            return serde_json::json!({"error": self.error, "message": self.message}).to_string();
        }
        let code = if self.status == 400 {
            INVALID_REQUEST_CODE
        } else {
            REFUSED_CODE
        };
        serde_json::json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": {
                "code": code,
                "message": self.message,
                "data": {"error": self.error, "status": self.status},
            },
        })
        .to_string()
    }
}

/// Decides one request. `headers` are all request headers as Envoy gives them
/// (pseudo-headers included); `gate` counts the requests of keys that have a rate limit.
pub fn decide(
    snapshot: Option<&PolicySnapshot>,
    path: &str,
    headers: &[(String, String)],
    now_ms: u64,
    gate: &mut dyn RateGate,
) -> Decision {
    match decide_request(snapshot, path, headers, now_ms, gate) {
        Decision::Reject(mut rejection) => {
            rejection.jsonrpc = wants_jsonrpc(headers);
            Decision::Reject(rejection)
        }
        forward => forward,
    }
}

fn decide_request(
    snapshot: Option<&PolicySnapshot>,
    path: &str,
    headers: &[(String, String)],
    now_ms: u64,
    gate: &mut dyn RateGate,
) -> Decision {
    let method = header(headers, ":method").unwrap_or("GET");
    // Liveness needs no policy; readiness does (without a snapshot: the 503 below).
    let probe = match Route::of(method, path) {
        Route::Probe(probe) => Some(probe),
        _ => None,
    };
    if probe.is_some_and(|p| snapshot.is_some() || p.needs_no_policy()) {
        return Decision::Forward(Forward {
            principal: Principal::Health,
            servers: Scope::Only(Vec::new()),
            remove_headers: Vec::new(),
            rate_limit: None,
        });
    }
    let Some(snapshot) = snapshot else {
        return Decision::Reject(Rejection::new(
            503,
            "gateway_not_ready",
            "the gateway has not loaded its policy from the sidecar yet; retry shortly",
        ));
    };
    let presented = match find_gateway_key(headers, &snapshot.key_header) {
        Ok(k) => k,
        Err(KeyLookupError::Missing) => {
            return Decision::Reject(Rejection::unauthorized(
                "authentication_required",
                format!(
                    "send the gateway key as `{}: Bearer <key>` or `Authorization: Bearer <key>`",
                    snapshot.key_header
                ),
            ))
        }
        Err(KeyLookupError::Empty) => {
            return Decision::Reject(Rejection::unauthorized(
                "invalid_key",
                "the gateway key is empty",
            ))
        }
        Err(KeyLookupError::DuplicateAuthorization) => {
            return Decision::Reject(Rejection::new(
                400,
                "duplicate_authorization",
                "multiple Authorization headers are not allowed: send one credential",
            ))
        }
        Err(KeyLookupError::DuplicateKeyHeader) => {
            return Decision::Reject(Rejection::new(
                400,
                "duplicate_key_header",
                format!(
                    "multiple `{}` headers are not allowed: send one gateway key",
                    snapshot.key_header
                ),
            ))
        }
    };
    let (principal, allowed, sees_all, rate_limit) =
        match authenticate(snapshot, presented.key, now_ms, gate) {
            Ok(found) => found,
            Err(rejection) => return Decision::Reject(rejection),
        };

    let narrowed = match path_target(path) {
        PathTarget::Named(list) => match narrow(snapshot, &allowed, list) {
            Some(servers) => Some(servers),
            None => {
                return Decision::Reject(Rejection::new(
                    404,
                    "server_not_found",
                    format!(
                        "no MCP server or access group named `{list}` is available to this key"
                    ),
                ))
            }
        },
        // A narrowing header never widens: present but naming nothing (empty, blank, only
        // commas) is refused like one naming only unknown servers.
        PathTarget::All | PathTarget::Other => match header(headers, SERVERS_FILTER_HEADER) {
            Some(list) => match narrow(snapshot, &allowed, list) {
                Some(servers) => Some(servers),
                None => {
                    return Decision::Reject(Rejection::new(
                        403,
                        "no_matching_servers",
                        if list.split(',').all(|t| t.trim().is_empty()) {
                            format!("{SERVERS_FILTER_HEADER} is empty: name at least one MCP server or access group, or leave the header out")
                        } else {
                            format!(
                                "{SERVERS_FILTER_HEADER} names no MCP server or access group this key may use: `{}`",
                                list.trim()
                            )
                        },
                    ))
                }
            },
            None => None,
        },
    };
    let scope = match &narrowed {
        Some(names) => Some(names.as_slice()),
        None if sees_all => None,
        None => Some(allowed.as_slice()),
    };
    if let Err(rejection) = check_mcp_headers(snapshot, headers, scope) {
        return Decision::Reject(rejection);
    }
    let servers = match narrowed {
        Some(names) => Scope::only(&names),
        None if sees_all => Scope::All,
        None => Scope::only(&allowed),
    };
    let remove_headers = vec![match presented.source {
        KeySource::KeyHeader => snapshot.key_header.clone(),
        KeySource::Authorization => "authorization".to_string(),
    }];
    Decision::Forward(Forward {
        principal,
        servers,
        remove_headers,
        rate_limit,
    })
}

/// `Mcp-Method` / `Mcp-Name` (MCP 2026-07-28), read at header time without the body.
/// A malformed value is a 400. A `tools/call` or `prompts/get` of `{prefix}-{name}`, or
/// a `resources/read` of `meshgate://{prefix}/…`, whose prefix names a known server
/// outside `scope` (None: every server) is a 403, as the sidecar would refuse it.
/// Requests without the headers, bare names and unknown prefixes are left to the
/// sidecar, which also checks the headers against the body.
fn check_mcp_headers(
    snapshot: &PolicySnapshot,
    headers: &[(String, String)],
    scope: Option<&[&str]>,
) -> Result<(), Rejection> {
    let intent = RequestIntent::from_headers(headers)
        .map_err(|bad| Rejection::new(400, "invalid_mcp_header", bad.to_string()))?;
    let known = snapshot.servers.iter().map(|s| s.prefix.as_str());
    let Some(prefix) = intent.addressed_prefix_in(&snapshot.separator, known) else {
        return Ok(());
    };
    let mut outside = None;
    for server in &snapshot.servers {
        if !server.prefix.eq_ignore_ascii_case(prefix) {
            continue;
        }
        if scope.is_none_or(|s| s.contains(&server.name.as_str())) {
            return check_tool_rules(snapshot, server, &intent);
        }
        outside.get_or_insert(server);
    }
    let Some(server) = outside else {
        return Ok(());
    };
    let (what, name) = match (intent.method(), intent.name()) {
        (Some("tools/call"), Some(name)) => ("tool", name),
        (Some("prompts/get"), Some(name)) => ("prompt", name),
        (_, name) => ("resource", name.unwrap_or_default()),
    };
    Err(Rejection::new(
        403,
        "server_not_allowed",
        format!(
            "{what} `{}` is on MCP server `{}`, which this key or request may not use",
            shown(name),
            server.prefix
        ),
    ))
}

/// A `tools/call` the server's `allowed_tools` / `disallowed_tools` refuse is a 403
/// at header time (the sidecar refuses it too, from the body).
fn check_tool_rules(
    snapshot: &PolicySnapshot,
    server: &SnapshotServer,
    intent: &RequestIntent<'_>,
) -> Result<(), Rejection> {
    let (Some("tools/call"), Some(name)) = (intent.method(), intent.name()) else {
        return Ok(());
    };
    let Some((_, tool)) = snapshot.split_name(name) else {
        return Ok(());
    };
    let rules = ToolRules::new(
        &server.name,
        &server.prefix,
        &server.allowed_tools,
        &server.disallowed_tools,
    );
    if rules.permits(tool) {
        return Ok(());
    }
    Err(Rejection::new(
        403,
        "tool_not_allowed",
        format!(
            "tool `{}` is not allowed on MCP server `{}` (allowed_tools / disallowed_tools)",
            shown(name),
            server.prefix
        ),
    ))
}

/// (principal, allowed server names, sees every server, the key's rate limit).
type Authenticated<'a> = (Principal, Vec<&'a str>, bool, Option<RateLimited>);

/// Finds the principal of a key.
fn authenticate<'a>(
    snapshot: &'a PolicySnapshot,
    key: &str,
    now_ms: u64,
    gate: &mut dyn RateGate,
) -> Result<Authenticated<'a>, Rejection> {
    let hashed = hash_key(key);
    let is_master = snapshot
        .master_key_hash
        .as_deref()
        .is_some_and(|m| hashes_equal(m, &hashed));
    if is_master {
        let all = snapshot.servers.iter().map(|s| s.name.as_str()).collect();
        return Ok((Principal::Master, all, true, None));
    }
    let Some(found) = snapshot.key_by_hash(&hashed) else {
        return Err(Rejection::unauthorized(
            "invalid_key",
            "the gateway key is not valid",
        ));
    };
    if found.blocked {
        return Err(Rejection::unauthorized(
            "key_blocked",
            "the gateway key (or its team) is blocked",
        ));
    }
    if found.expires_ms.is_some_and(|e| e <= now_ms) {
        return Err(Rejection::unauthorized(
            "key_expired",
            "the gateway key has expired",
        ));
    }
    if let Some(limit) = found.rpm_limit {
        if let Err(wait) = gate.admit(&found.id, limit, now_ms) {
            return Err(Rejection {
                retry_after: Some(wait),
                ..Rejection::new(
                    429,
                    "rate_limited",
                    format!("the key's limit of {limit} requests per minute is used up"),
                )
            });
        }
    }
    let allowed = found
        .servers
        .iter()
        .filter_map(|i| snapshot.servers.get(usize::from(*i)))
        .map(|s| s.name.as_str())
        .collect();
    let rate_limit = found.rpm_limit.map(|rpm_limit| RateLimited {
        key_id: found.id.clone(),
        rpm_limit,
    });
    Ok((Principal::Key(found.id.clone()), allowed, false, rate_limit))
}

/// Resolves a comma list of server names, aliases or access groups against the allowed
/// servers (case-insensitive; never grants). None when nothing matched.
fn narrow<'a>(
    snapshot: &'a PolicySnapshot,
    allowed: &[&'a str],
    list: &str,
) -> Option<Vec<&'a str>> {
    let mut picked: Vec<&'a str> = Vec::new();
    for token in list.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        for server in &snapshot.servers {
            let by_name = server.prefix.eq_ignore_ascii_case(token)
                || server.name.eq_ignore_ascii_case(token);
            let by_group = server
                .access_groups
                .iter()
                .any(|g| g.eq_ignore_ascii_case(token));
            if (by_name || by_group)
                && allowed.contains(&server.name.as_str())
                && !picked.contains(&server.name.as_str())
            {
                picked.push(server.name.as_str());
            }
        }
    }
    // Keep configuration order, whatever order the client named them in.
    picked.sort_by_key(|name| allowed.iter().position(|a| a == name));
    (!picked.is_empty()).then_some(picked)
}

/// The first value of a header (names compare case-insensitively).
pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GatewayConfig;
    use crate::ratelimit::LocalRateGate;
    use crate::snapshot::SnapshotKey;

    fn decide_now(
        snapshot: Option<&PolicySnapshot>,
        path: &str,
        headers: &[(String, String)],
    ) -> Decision {
        decide(
            snapshot,
            path,
            headers,
            1_000,
            &mut LocalRateGate::default(),
        )
    }

    fn snapshot() -> PolicySnapshot {
        let cfg = GatewayConfig::parse(
            r#"
general_settings: {master_key: sk-master}
mcp_servers:
  github_mcp: {url: "http://127.0.0.1:1/mcp", transport: http, alias: github, access_groups: [dev]}
  jira: {url: "http://127.0.0.1:2/mcp", transport: http, access_groups: [dev, ops]}
  local: {command: demo}
"#,
        )
        .unwrap();
        PolicySnapshot::compile(&cfg)
    }

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn forward(d: Decision) -> Forward {
        match d {
            Decision::Forward(f) => f,
            Decision::Reject(r) => panic!("rejected: {r:?}"),
        }
    }

    fn reject(d: Decision) -> Rejection {
        match d {
            Decision::Reject(r) => r,
            Decision::Forward(f) => panic!("forwarded: {f:?}"),
        }
    }

    #[test]
    fn master_key_sees_everything_and_key_header_is_removed() {
        let s = snapshot();
        let f = forward(decide_now(
            Some(&s),
            "/mcp",
            &h(&[("x-litellm-api-key", "Bearer sk-master")]),
        ));
        assert_eq!(f.servers.encode(), "*");
        assert_eq!(f.principal, Principal::Master);
        assert_eq!(f.remove_headers, vec!["x-litellm-api-key".to_string()]);
        let f = forward(decide_now(
            Some(&s),
            "/mcp",
            &h(&[("authorization", "Bearer sk-master")]),
        ));
        assert_eq!(f.remove_headers, vec!["authorization".to_string()]);
    }

    #[test]
    fn rejections() {
        let s = snapshot();
        let r = reject(decide_now(Some(&s), "/mcp", &[]));
        assert_eq!((r.status, r.error), (401, "authentication_required"));
        assert!(r.www_authenticate.is_some());
        let r = reject(decide_now(
            Some(&s),
            "/mcp",
            &h(&[("authorization", "Bearer sk-wrong")]),
        ));
        assert_eq!((r.status, r.error), (401, "invalid_key"));
        assert!(!r.body().contains("sk-wrong"));
        let r = reject(decide_now(None, "/mcp", &[]));
        assert_eq!(r.status, 503);
    }

    #[test]
    fn narrowing_by_path_and_header() {
        let s = snapshot();
        let key = ("authorization", "Bearer sk-master");
        assert_eq!(
            forward(decide_now(Some(&s), "/github/mcp", &h(&[key])))
                .servers
                .encode(),
            "github_mcp"
        );
        assert_eq!(
            forward(decide_now(Some(&s), "/mcp/OPS,local", &h(&[key])))
                .servers
                .encode(),
            "jira,local"
        );
        assert_eq!(
            forward(decide_now(Some(&s), "/mcp/dev", &h(&[key])))
                .servers
                .encode(),
            "github_mcp,jira"
        );
        assert_eq!(
            reject(decide_now(Some(&s), "/nope/mcp", &h(&[key]))).status,
            404
        );
        let f = forward(decide_now(
            Some(&s),
            "/mcp",
            &h(&[key, ("x-mcp-servers", "Local, unknown")]),
        ));
        assert_eq!(f.servers.encode(), "local");
        let r = reject(decide_now(
            Some(&s),
            "/mcp",
            &h(&[key, ("x-mcp-servers", "unknown")]),
        ));
        assert_eq!((r.status, r.error), (403, "no_matching_servers"));
        // Path wins over the header.
        let f = forward(decide_now(
            Some(&s),
            "/jira/mcp",
            &h(&[key, ("x-mcp-servers", "local")]),
        ));
        assert_eq!(f.servers.encode(), "jira");
        // Present but naming nothing: refused, never "every server".
        for empty in ["", " ", ",", " , ,"] {
            let r = reject(decide_now(
                Some(&s),
                "/mcp",
                &h(&[key, ("x-mcp-servers", empty)]),
            ));
            assert_eq!(
                (r.status, r.error),
                (403, "no_matching_servers"),
                "{empty:?}"
            );
        }
    }

    fn with_keys() -> PolicySnapshot {
        let cfg = GatewayConfig::parse(
            "general_settings: {master_key: sk-master}\nmcp_servers:\n  a: {command: x}\n  b: {command: y}\n  c: {command: z}\n",
        )
        .unwrap();
        let key = |k: &str, id: &str, servers: Vec<u16>| SnapshotKey {
            hash: hash_key(k),
            id: id.into(),
            servers,
            ..Default::default()
        };
        let mut limited = key("sk-limited", "lim", vec![0]);
        limited.rpm_limit = Some(2);
        let mut blocked = key("sk-blocked", "blk", vec![0]);
        blocked.blocked = true;
        let mut expired = key("sk-expired", "exp", vec![0]);
        expired.expires_ms = Some(500);
        let keys = vec![
            key("sk-ab", "ab", vec![0, 1]),
            key("sk-none", "none", vec![]),
            limited,
            blocked,
            expired,
        ];
        PolicySnapshot::compile_with_keys(&cfg, keys)
    }

    #[test]
    fn virtual_keys() {
        let s = with_keys();
        let auth = |k: &str| h(&[("authorization", &format!("Bearer {k}"))]);
        let f = forward(decide_now(Some(&s), "/mcp", &auth("sk-ab")));
        assert_eq!(
            (f.principal.encode().as_str(), f.servers.encode().as_str()),
            ("key:ab", "a,b")
        );
        assert_eq!(
            forward(decide_now(Some(&s), "/mcp", &auth("sk-none")))
                .servers
                .encode(),
            ""
        );
        // Narrowing never grants.
        assert_eq!(
            reject(decide_now(Some(&s), "/mcp/c", &auth("sk-ab"))).status,
            404
        );
        assert_eq!(
            forward(decide_now(Some(&s), "/mcp/b", &auth("sk-ab")))
                .servers
                .encode(),
            "b"
        );
        assert_eq!(
            reject(decide_now(Some(&s), "/mcp", &auth("sk-blocked"))).error,
            "key_blocked"
        );
        assert_eq!(
            reject(decide_now(Some(&s), "/mcp", &auth("sk-expired"))).error,
            "key_expired"
        );
        let mut gate = LocalRateGate::default();
        for _ in 0..2 {
            assert!(matches!(
                decide(Some(&s), "/mcp", &auth("sk-limited"), 1_000, &mut gate),
                Decision::Forward(_)
            ));
        }
        let r = reject(decide(
            Some(&s),
            "/mcp",
            &auth("sk-limited"),
            1_000,
            &mut gate,
        ));
        assert_eq!((r.status, r.retry_after), (429, Some(60)));
        assert!(matches!(
            decide(Some(&s), "/mcp", &auth("sk-limited"), 61_000, &mut gate),
            Decision::Forward(_)
        ));
    }

    fn mcp(key: &str, method: &str, name: &str) -> Vec<(String, String)> {
        h(&[
            ("authorization", &format!("Bearer {key}")),
            ("mcp-method", method),
            ("mcp-name", name),
        ])
    }

    #[test]
    fn mcp_name_of_a_server_outside_the_key_is_refused_at_header_time() {
        let s = with_keys();
        let r = reject(decide_now(
            Some(&s),
            "/mcp",
            &mcp("sk-ab", "tools/call", "c-tool"),
        ));
        assert_eq!((r.status, r.error), (403, "server_not_allowed"));
        assert_eq!(
            r.message,
            "tool `c-tool` is on MCP server `c`, which this key or request may not use"
        );
        assert!(r.www_authenticate.is_none() && r.retry_after.is_none());
        // Mcp-Method marks a 2026-07-28 client: a JSON-RPC error body.
        let body: serde_json::Value = serde_json::from_str(&r.body()).unwrap();
        assert_eq!(body["jsonrpc"], "2.0");
        assert!(body["id"].is_null());
        assert_eq!(body["error"]["code"], REFUSED_CODE);
        assert_eq!(body["error"]["message"], r.message.as_str());
        assert_eq!(body["error"]["data"]["error"], "server_not_allowed");
        // Prefixes match case-insensitively, as the sidecar routes them.
        let r = reject(decide_now(
            Some(&s),
            "/mcp",
            &mcp("sk-ab", "tools/call", "C-Tool-x"),
        ));
        assert!(r.message.contains("`C-Tool-x`"), "{}", r.message);
        // A key without servers may reach none.
        let r = reject(decide_now(
            Some(&s),
            "/mcp",
            &mcp("sk-none", "tools/call", "a-tool"),
        ));
        assert_eq!(r.status, 403);
        // The base64 form is decoded first ("c-tool").
        let r = reject(decide_now(
            Some(&s),
            "/mcp",
            &mcp("sk-ab", "tools/call", "=?base64?Yy10b29s?="),
        ));
        assert!(r.message.contains("`c-tool`"), "{}", r.message);
    }

    #[test]
    fn tools_the_server_rules_refuse_are_403_at_header_time_for_every_key() {
        let cfg = GatewayConfig::parse(
            r#"
general_settings: {master_key: sk-master}
mcp_servers:
  github_mcp: {url: "http://127.0.0.1:1/mcp", transport: http, alias: github, disallowed_tools: [delete_repo]}
  jira: {url: "http://127.0.0.1:2/mcp", transport: http, allowed_tools: [jira-search]}
"#,
        )
        .unwrap();
        let s = PolicySnapshot::compile(&cfg);
        for (name, allowed) in [
            ("github-delete_repo", false),
            ("GITHUB-DELETE_REPO", false),
            ("github-list_repos", true),
            ("jira-search", true),
            ("jira-create", false),
        ] {
            let d = decide_now(Some(&s), "/mcp", &mcp("sk-master", "tools/call", name));
            if allowed {
                assert!(matches!(d, Decision::Forward(_)), "{name}");
            } else {
                let r = reject(d);
                assert_eq!((r.status, r.error), (403, "tool_not_allowed"), "{name}");
                assert!(r.message.contains(name), "{}", r.message);
            }
        }
        // Prompts and other methods are not tools.
        let d = decide_now(
            Some(&s),
            "/mcp",
            &mcp("sk-master", "prompts/get", "github-delete_repo"),
        );
        assert!(matches!(d, Decision::Forward(_)));
    }

    #[test]
    fn mcp_name_within_the_key_or_not_addressing_a_server_is_forwarded() {
        let s = with_keys();
        for (method, name) in [
            ("tools/call", "a-tool"),
            ("tools/call", "B-tool"),
            ("tools/call", "tool"),     // bare: the sidecar resolves it
            ("tools/call", "zzz-tool"), // unknown prefix: maybe a bare name
            ("tools/call", "-c"),       // no prefix
            ("tools/list", "c-tool"),   // no target for this method
            ("initialize", "c-tool"),
            ("prompts/get", "a-greet"),
            ("resources/read", "meshgate://b/file:///x"),
            ("resources/read", "file:///c"), // plain URI
            ("resources/read", "c-tool"),    // not a gateway URI
            ("resources/read", "meshgate://c/"),
        ] {
            let f = forward(decide_now(Some(&s), "/mcp", &mcp("sk-ab", method, name)));
            assert_eq!(f.servers.encode(), "a,b", "{method} {name}");
        }
        // Only one of the two headers: nothing to decide on.
        let only_name = h(&[("authorization", "Bearer sk-ab"), ("mcp-name", "c-tool")]);
        assert_eq!(
            forward(decide_now(Some(&s), "/mcp", &only_name))
                .servers
                .encode(),
            "a,b"
        );
        let only_method = h(&[
            ("authorization", "Bearer sk-ab"),
            ("mcp-method", "tools/call"),
        ]);
        assert_eq!(
            forward(decide_now(Some(&s), "/mcp", &only_method))
                .servers
                .encode(),
            "a,b"
        );
        // The master key reaches every server.
        let f = forward(decide_now(
            Some(&s),
            "/mcp",
            &mcp("sk-master", "tools/call", "c-tool"),
        ));
        assert_eq!(f.servers.encode(), "*");
    }

    #[test]
    fn prompts_and_resources_outside_the_key_are_refused() {
        let s = with_keys();
        let r = reject(decide_now(
            Some(&s),
            "/mcp",
            &mcp("sk-ab", "prompts/get", "c-greet"),
        ));
        assert_eq!(r.status, 403);
        assert!(r
            .message
            .starts_with("prompt `c-greet` is on MCP server `c`"));
        let r = reject(decide_now(
            Some(&s),
            "/mcp",
            &mcp("sk-ab", "resources/read", "meshgate://c/file:///etc/x"),
        ));
        assert_eq!(r.status, 403);
        assert!(
            r.message
                .starts_with("resource `meshgate://c/file:///etc/x` is on MCP server `c`"),
            "{}",
            r.message
        );
    }

    #[test]
    fn mcp_name_follows_narrowing_and_aliases() {
        let s = snapshot();
        let master = |path: &str, extra: &[(&str, &str)], name: &str| {
            let mut headers = mcp("sk-master", "tools/call", name);
            headers.extend(h(extra));
            decide_now(Some(&s), path, &headers)
        };
        // Narrowed by path: the master key is held to the named servers too.
        let r = reject(master("/jira/mcp", &[], "github-search"));
        assert_eq!(r.status, 403);
        assert!(r.message.contains("MCP server `github`"), "{}", r.message);
        assert_eq!(
            forward(master("/jira/mcp", &[], "jira-search"))
                .servers
                .encode(),
            "jira"
        );
        assert_eq!(
            forward(master("/mcp/dev", &[], "GITHUB-search"))
                .servers
                .encode(),
            "github_mcp,jira"
        );
        // Narrowed by header.
        let r = reject(master("/mcp", &[("x-mcp-servers", "local")], "jira-search"));
        assert_eq!(r.status, 403);
        // Tools are prefixed by alias; the server name is not a prefix the sidecar
        // routes by, so it is left to the sidecar (as a possible bare name).
        assert!(matches!(
            master("/jira/mcp", &[], "github_mcp-search"),
            Decision::Forward(_)
        ));
        assert!(matches!(
            master("/mcp", &[], "github-search"),
            Decision::Forward(_)
        ));
    }

    #[test]
    fn malformed_mcp_headers_are_400() {
        let s = with_keys();
        for (key, headers) in [
            (
                "sk-ab",
                vec![("mcp-method", "tools/call"), ("mcp-name", "=?base64?a-b?=")],
            ),
            (
                "sk-master",
                vec![
                    ("mcp-method", "tools/call"),
                    ("mcp-name", "=?base64?//4=?="),
                ],
            ),
            ("sk-ab", vec![("mcp-method", "=?base64?!?=")]),
            ("sk-ab", vec![("mcp-name", "a-x"), ("mcp-name", "a-y")]),
        ] {
            let mut all = h(&[("authorization", &format!("Bearer {key}"))]);
            all.extend(h(&headers));
            let r = reject(decide_now(Some(&s), "/mcp", &all));
            assert_eq!(
                (r.status, r.error),
                (400, "invalid_mcp_header"),
                "{headers:?}"
            );
            assert!(r.message.contains("header Mcp-"), "{}", r.message);
        }
        // Authentication comes first.
        let r = reject(decide_now(
            Some(&s),
            "/mcp",
            &h(&[("mcp-method", "tools/call"), ("mcp-name", "=?base64?!?=")]),
        ));
        assert_eq!(r.status, 401);
        let r = reject(decide_now(
            Some(&s),
            "/mcp",
            &mcp("sk-wrong", "tools/call", "c-tool"),
        ));
        assert_eq!(r.status, 401);
    }

    #[test]
    fn two_credentials_are_a_400_naming_the_problem() {
        let s = snapshot();
        for headers in [
            h(&[
                ("authorization", "Bearer sk-master"),
                ("authorization", "Bearer other"),
            ]),
            // Envoy joins repeated Authorization headers with a comma.
            h(&[("authorization", "Bearer sk-master,Bearer other")]),
        ] {
            let r = reject(decide_now(Some(&s), "/mcp", &headers));
            assert_eq!((r.status, r.error), (400, "duplicate_authorization"));
            assert!(
                r.message.contains("multiple Authorization headers"),
                "{}",
                r.message
            );
        }
        let r = reject(decide_now(
            Some(&s),
            "/mcp",
            &h(&[
                ("x-litellm-api-key", "sk-master"),
                ("x-litellm-api-key", "sk-other"),
            ]),
        ));
        assert_eq!((r.status, r.error), (400, "duplicate_key_header"));
        assert!(r.message.contains("`x-litellm-api-key`"), "{}", r.message);
    }

    #[test]
    fn health_probes_need_no_key_and_readiness_needs_a_policy() {
        let s = snapshot();
        let get = |path: &str| h(&[(":method", "GET"), (":path", path)]);
        for path in [
            "/health/liveliness",
            "/health/readiness",
            "/health/readiness?x=1",
            "/mcp/enabled",
        ] {
            let f = forward(decide_now(Some(&s), path, &get(path)));
            assert_eq!(
                (f.principal.encode().as_str(), f.servers.encode().as_str()),
                ("_health", "")
            );
            assert!(f.remove_headers.is_empty());
        }
        // Liveness (and /mcp/enabled) hold before the first policy sync; readiness does not.
        for path in ["/health/liveliness", "/mcp/enabled"] {
            assert!(matches!(
                decide_now(None, path, &get(path)),
                Decision::Forward(_)
            ));
        }
        assert_eq!(
            reject(decide_now(
                None,
                "/health/readiness",
                &get("/health/readiness")
            ))
            .status,
            503
        );
        // Other methods and paths are not probes.
        let post = h(&[(":method", "POST")]);
        assert_eq!(
            reject(decide_now(Some(&s), "/health/liveliness", &post)).status,
            401
        );
        assert_eq!(
            reject(decide_now(Some(&s), "/health/other", &get("/health/other"))).status,
            401
        );
    }

    #[test]
    fn refusals_of_modern_clients_are_jsonrpc_errors_with_a_null_id() {
        let s = snapshot();
        let modern = h(&[("mcp-protocol-version", "2026-07-28")]);
        let r = reject(decide_now(Some(&s), "/mcp", &modern));
        assert!(r.jsonrpc);
        let body: serde_json::Value = serde_json::from_str(&r.body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "jsonrpc": "2.0",
                "id": null,
                "error": {
                    "code": REFUSED_CODE,
                    "message": r.message,
                    "data": {"error": "authentication_required", "status": 401},
                },
            })
        );
        let mut bad = mcp("sk-master", "tools/call", "=?base64?!?=");
        bad.push(("mcp-protocol-version".into(), "2026-07-28".into()));
        let r = reject(decide_now(Some(&s), "/mcp", &bad));
        let body: serde_json::Value = serde_json::from_str(&r.body()).unwrap();
        assert_eq!(body["error"]["code"], INVALID_REQUEST_CODE);
        assert_eq!(body["error"]["data"]["error"], "invalid_mcp_header");
        // Older clients keep the plain shape.
        let older = h(&[("mcp-protocol-version", "2025-11-25")]);
        let r = reject(decide_now(Some(&s), "/mcp", &older));
        assert!(!r.jsonrpc);
        let body: serde_json::Value = serde_json::from_str(&r.body()).unwrap();
        assert_eq!(body["error"], "authentication_required");
    }
}
