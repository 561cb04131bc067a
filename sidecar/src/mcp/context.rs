//! What every MCP method handler works with: the request's context ([`Ctx`], built by
//! one constructor), the upstreams it may reach and how names route to them
//! (`policy::routing`), a method's answer before framing ([`Answer`], [`Handled`]),
//! and an upstream failure as the request's error ([`upstream_failed`]). Handlers
//! depend on this file, never on the router (`dispatch.rs`).

use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

use crate::jsonrpc::{self, RpcError};
use crate::relay::{ClientCaps, Exchange};
use crate::sessions::id::ClientSession;
use crate::state::{AppState, Runtime};
use crate::upstream::{CallContext, Upstream, UpstreamError};
use crate::verify::Principal;
use meshgate_policy::routing::{self, Prefixed, Resolution};
use meshgate_policy::scrub::scrub_urls;

/// One client request as the handlers see it.
pub struct Ctx<'a> {
    pub state: &'a AppState,
    pub runtime: Arc<Runtime>,
    pub principal: Principal,
    /// The client's request headers as they reached the sidecar (the filter has removed
    /// the gateway key and any client-sent `x-meshgate-*`); upstreams pick from them what
    /// their configuration forwards.
    pub client_headers: http::HeaderMap,
    /// The client's session, when it has one.
    pub session: Option<ClientSession>,
    /// Where server messages related to this request go, and its cancellation.
    pub exchange: Option<Arc<Exchange>>,
    /// What a sessionless (2026-07-28) request declared in its `_meta`; None: the
    /// session's (see [`Ctx::caps`]).
    pub caps: Option<ClientCaps>,
    /// The `tools/call` arguments of this request came through the filter, which ran the
    /// built-in `pre_mcp_call` guardrails on them. False for calls the gateway itself
    /// makes from elsewhere (the LLM loop's model calls): the sidecar runs those.
    pub arguments_scanned_by_filter: bool,
}

impl<'a> Ctx<'a> {
    /// A request without session, relay or declared capabilities; the `with_*` methods
    /// add those.
    pub fn new(
        state: &'a AppState,
        runtime: Arc<Runtime>,
        principal: Principal,
        client_headers: http::HeaderMap,
    ) -> Self {
        Ctx {
            state,
            runtime,
            principal,
            client_headers,
            session: None,
            exchange: None,
            caps: None,
            arguments_scanned_by_filter: true,
        }
    }

    /// Tool calls whose arguments no filter saw (see [`Ctx::arguments_scanned_by_filter`]).
    pub fn with_unscanned_arguments(mut self) -> Self {
        self.arguments_scanned_by_filter = false;
        self
    }

    pub fn with_session(mut self, session: Option<ClientSession>) -> Self {
        self.session = session;
        self
    }

    pub fn with_exchange(mut self, exchange: Option<Arc<Exchange>>) -> Self {
        self.exchange = exchange;
        self
    }

    /// Capabilities a sessionless (2026-07-28) request declared.
    pub fn with_caps(mut self, caps: ClientCaps) -> Self {
        self.caps = Some(caps);
        self
    }
}

impl Ctx<'_> {
    /// The tools a key may use on a server: None when unrestricted (master key, or no
    /// tool permissions for that server).
    pub fn tool_permissions(&self, server: &str) -> Option<&BTreeSet<String>> {
        let id = self.principal.key_id()?;
        self.runtime
            .principals
            .get(id)?
            .tool_permissions
            .get(server)
    }

    /// Who the request acts as, for custom hooks (`crate::hooks`).
    pub fn hook_who(&self) -> crate::hooks::Who {
        let Some(id) = self.principal.key_id() else {
            return crate::hooks::Who {
                kind: if self.principal.who.is_master() {
                    "master"
                } else {
                    "other"
                },
                ..Default::default()
            };
        };
        let policy = self.runtime.principals.get(id);
        crate::hooks::Who {
            kind: "key",
            key_id: Some(id.to_string()),
            key_alias: policy.and_then(|p| p.key_alias.clone()),
            team_id: policy.and_then(|p| p.team_id.clone()),
            organization_id: policy.and_then(|p| p.organization_id.clone()),
        }
    }

    pub fn caps(&self) -> ClientCaps {
        self.caps
            .or_else(|| self.session.as_ref().map(|s| s.info.caps))
            .unwrap_or_default()
    }

    /// What an upstream call may take from this request.
    pub fn call_context(&self) -> CallContext<'_> {
        CallContext {
            exchange: self.exchange.as_ref(),
            session: self.session.as_ref().map(|s| s.token.as_str()),
            carried: self
                .session
                .as_ref()
                .map(|s| s.info.upstreams.as_slice())
                .unwrap_or_default(),
            caps: self.caps(),
            client_headers: Some(&self.client_headers),
            key_header: self
                .runtime
                .config
                .general_settings
                .litellm_key_header_name
                .as_deref(),
            legacy_auth_header: Some(&self.runtime.client_auth_header),
            known_prefixes: &self.runtime.known_prefixes,
            hook_headers: None,
        }
    }

    /// The upstreams this request may reach, in configuration order.
    pub fn allowed(&self) -> Vec<Arc<Upstream>> {
        self.runtime
            .upstreams
            .values()
            .filter(|u| self.principal.scope.allows(&u.name))
            .cloned()
            .collect()
    }

    /// Steps 1 and 2 of the routing rule (`policy::routing`) for a tool or prompt
    /// name among `allowed`, with the configured separator and every configured
    /// server's prefix.
    pub fn resolve<'t, 'n>(
        &self,
        name: &'n str,
        allowed: &'t [Arc<Upstream>],
    ) -> Resolution<'t, 'n, Arc<Upstream>> {
        let known: Vec<&str> = self
            .runtime
            .upstreams
            .values()
            .map(|u| u.prefix.as_str())
            .collect();
        routing::resolve(name, crate::naming::separator(), &known, allowed)
    }

    /// The allowed upstream with this prefix (exact, then case-insensitive).
    pub fn by_prefix(&self, prefix: &str) -> Option<Arc<Upstream>> {
        routing::by_prefix(&self.allowed(), prefix).cloned()
    }
}

/// A method's answer before framing.
pub enum Answer {
    Raw(Box<RawValue>),
    Value(Value),
    /// `initialize`: the result and the new session id.
    Initialized(Value, Option<String>),
}

/// What a method handler returns: its answer, or the JSON-RPC error to send instead.
pub type Handled = Result<Answer, RpcError>;

/// A handler's outcome as JSON-RPC bytes.
pub fn frame(id: &jsonrpc::Id, handled: &Handled) -> Vec<u8> {
    match handled {
        Ok(Answer::Raw(raw)) => jsonrpc::response(id, raw),
        Ok(Answer::Value(v) | Answer::Initialized(v, _)) => jsonrpc::response_value(id, v),
        Err(e) => e.to_response(Some(id)),
    }
}

/// An upstream's failure at `what` (e.g. `prompt 'x': server 'fs'`) as this request's
/// error: the upstream's own JSON-RPC error unchanged; anything else -32603 saying
/// what failed, with any URL removed (`policy::scrub`).
pub fn upstream_failed(what: &str, e: UpstreamError) -> RpcError {
    match e {
        UpstreamError::Rpc(e) => e,
        other => RpcError::internal(scrub_urls(&format!("{what} failed: {other}"))),
    }
}

impl Prefixed for Upstream {
    fn prefix(&self) -> &str {
        &self.prefix
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn an_upstream_rpc_error_passes_through_unchanged() {
        let theirs = RpcError::new(-32050, "quota");
        let e = upstream_failed(
            "prompt 'p': server 'fs'",
            UpstreamError::Rpc(theirs.clone()),
        );
        assert_eq!(e, theirs);
    }

    #[test]
    fn other_upstream_failures_are_internal_errors_without_urls() {
        let e = upstream_failed(
            "resource 'a': server 'fs'",
            UpstreamError::Unavailable("connect to https://10.0.0.7:8443/mcp refused".into()),
        );
        assert_eq!(e.code, jsonrpc::INTERNAL_ERROR);
        assert!(
            e.message.starts_with("resource 'a': server 'fs' failed: "),
            "{}",
            e.message
        );
        assert!(!e.message.contains("10.0.0.7"), "{}", e.message);
        let e = upstream_failed(
            "completion: server 'x'",
            UpstreamError::Timeout(Duration::from_secs(2)),
        );
        assert_eq!(
            e.message,
            "completion: server 'x' failed: timed out after 2s"
        );
    }

    #[test]
    fn answers_and_errors_frame_as_responses() {
        let id = jsonrpc::Id::from_u64(4);
        let framed = |h: &Handled| -> Value { serde_json::from_slice(&frame(&id, h)).unwrap() };
        let v = framed(&Ok(Answer::Value(serde_json::json!({"a": 1}))));
        assert_eq!(
            (v["id"].clone(), v["result"]["a"].clone()),
            (4.into(), 1.into())
        );
        let v = framed(&Ok(Answer::Initialized(
            serde_json::json!({}),
            Some("s".into()),
        )));
        assert!(v["result"].is_object());
        let v = framed(&Err(RpcError::invalid_params("no")));
        assert_eq!(v["error"]["code"], jsonrpc::INVALID_PARAMS);
    }
}
