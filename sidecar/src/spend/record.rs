//! Building spend rows as LiteLLM logs MCP traffic: `call_mcp_tool` rows with
//! `model = "MCP: <prefixed tool>"` and the configured cost, `list_mcp_tools` rows with
//! `model = "MCP: list_tools"` and cost 0.
//!
//! The cost of a call has one source, [`ToolCallOutcome::cost`]: a custom hook's
//! `cost_override` (LiteLLM's `hidden_params.response_cost`) when set, else the server's
//! `mcp_server_cost_info` (`meshgate_policy::cost`). Only calls that reached the tool
//! (answered `ok` or `isError`) are charged, as LiteLLM charges through its success
//! handler only.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::sync::Arc;
use std::time::Instant;

use meshgate_policy::Principal as Who;
use meshgate_store::SpendRow;

use crate::mcp::context::Ctx;
use crate::upstream::Upstream;

/// LiteLLM's end-user header.
pub const END_USER_HEADER: &str = "x-litellm-end-user-id";

/// Who a key is, for its spend rows (compiled with the policy, per key hash).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyIdentity {
    /// The key's SHA-256 (its principal id is only a prefix of it).
    pub hash: String,
    pub key_alias: Option<String>,
    pub team_id: Option<String>,
    pub organization_id: Option<String>,
    pub user_id: Option<String>,
}

/// How a `tools/call` ended (a spend row's `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStatus {
    /// The tool answered.
    Ok,
    /// The tool answered with `isError: true`.
    IsError,
    /// The gateway refused it (routing, permissions, parameters, guardrails).
    Refused,
    /// The upstream failed (its JSON-RPC error, a timeout, unavailable).
    UpstreamError,
}

impl CallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Ok => "ok",
            CallStatus::IsError => "is_error",
            CallStatus::Refused => "refused",
            CallStatus::UpstreamError => "upstream_error",
        }
    }

    /// A tool result is `ok` unless it says `isError: true` (read without building a tree).
    pub fn of_result(raw: &RawValue) -> CallStatus {
        #[derive(Deserialize)]
        struct Flag {
            #[serde(default, rename = "isError")]
            is_error: bool,
        }
        match serde_json::from_str::<Flag>(raw.get()) {
            Ok(Flag { is_error: true }) => CallStatus::IsError,
            _ => CallStatus::Ok,
        }
    }
}

/// One `tools/call` as it ended: what the spend row is built from.
#[derive(Clone)]
pub struct ToolCallOutcome {
    /// The name as the client called it.
    pub name: String,
    /// The server and bare tool name, once the call was routed.
    pub routed: Option<(Arc<Upstream>, String)>,
    pub status: CallStatus,
    /// **The hook point for a call's cost**: a custom hook's cost for this call wins over
    /// the configured one (LiteLLM's `hidden_params.response_cost`).
    pub cost_override: Option<f64>,
}

impl ToolCallOutcome {
    pub fn new(name: &str) -> Self {
        ToolCallOutcome {
            name: name.to_string(),
            routed: None,
            status: CallStatus::Refused,
            cost_override: None,
        }
    }

    /// What this call costs: the override, else the configured cost of the bare tool on
    /// its server; 0 for calls that did not reach the tool.
    pub fn cost(&self) -> f64 {
        if !matches!(self.status, CallStatus::Ok | CallStatus::IsError) {
            return 0.0;
        }
        if let Some(cost) = self.cost_override.filter(|c| c.is_finite() && *c >= 0.0) {
            return cost;
        }
        self.routed.as_ref().map_or(0.0, |(upstream, bare)| {
            meshgate_policy::cost::tool_call_cost(&upstream.config, bare)
        })
    }

    /// `MCP: <prefixed name>` (the name as the client called it when it was not routed).
    fn model(&self) -> String {
        match &self.routed {
            Some((u, bare)) => format!("MCP: {}", crate::naming::prefixed(&u.prefix, bare)),
            None => format!("MCP: {}", self.name),
        }
    }
}

/// When a request started, by the wall clock (the row) and a monotonic one (latency).
#[derive(Clone, Copy)]
pub struct Started {
    at: DateTime<Utc>,
    clock: Instant,
}

impl Started {
    pub fn now() -> Self {
        Started {
            at: Utc::now(),
            clock: Instant::now(),
        }
    }
}

/// Records a `tools/call`'s row (when spend logs are on).
pub async fn tool_call(ctx: &Ctx<'_>, outcome: &ToolCallOutcome, started: Started) {
    if !ctx.runtime.config.meshgate.spend_logs {
        return;
    }
    let mut row = base_row(ctx, "call_mcp_tool", outcome.model(), started);
    row.spend = outcome.cost();
    row.status = outcome.status.as_str().to_string();
    if let Some((upstream, bare)) = &outcome.routed {
        row.mcp_server = Some(upstream.name.clone());
        row.mcp_tool = Some(bare.clone());
        row.upstream_protocol = Some(upstream.protocol().to_string());
    }
    record_charged(ctx, row).await;
}

/// Records a row; a priced one counts towards the budgets it falls under at once.
async fn record_charged(ctx: &Ctx<'_>, row: SpendRow) {
    // Only a priced row of a gateway with budgets is charged (and copied for it).
    let charged = (row.spend > 0.0 && ctx.state.budget_watch.watches_any()).then(|| row.clone());
    if ctx.state.spend.record(row).await {
        if let Some(row) = charged {
            ctx.state.budget_watch.charge(&row);
        }
    }
}

/// What one LLM request used: its tokens (every round summed) and their cost.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LlmUsage {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cost: f64,
}

/// Records an LLM request's row (LiteLLM's `acompletion` / `aresponses`, `model` the
/// model name the client asked for; `status`: `ok`, or how it failed).
pub async fn llm_request(
    ctx: &Ctx<'_>,
    call_type: &str,
    model: &str,
    usage: LlmUsage,
    status: &str,
    started: Started,
) {
    if !ctx.runtime.config.meshgate.spend_logs {
        return;
    }
    let mut row = base_row(ctx, call_type, model.to_string(), started);
    row.spend = usage.cost;
    row.status = status.to_string();
    row.prompt_tokens = usage.prompt_tokens;
    row.completion_tokens = usage.completion_tokens;
    row.total_tokens = usage.total_tokens;
    record_charged(ctx, row).await;
}

/// Records an aggregated `tools/list`'s row (cost 0): `ok` when a server answered or
/// none was asked, else `upstream_error`.
pub async fn tools_list(ctx: &Ctx<'_>, any_answered: bool, asked: usize, started: Started) {
    if !ctx.runtime.config.meshgate.spend_logs {
        return;
    }
    let mut row = base_row(ctx, "list_mcp_tools", "MCP: list_tools".into(), started);
    row.status = if any_answered || asked == 0 {
        CallStatus::Ok
    } else {
        CallStatus::UpstreamError
    }
    .as_str()
    .to_string();
    ctx.state.spend.record(row).await;
}

fn base_row(ctx: &Ctx<'_>, call_type: &str, model: String, started: Started) -> SpendRow {
    let end = Utc::now();
    let identity = ctx
        .principal
        .key_id()
        .and_then(|id| ctx.runtime.identities.get(id));
    let api_key = match &ctx.principal.who {
        Who::Key(id) => identity.map_or_else(|| id.clone(), |i| i.hash.clone()),
        Who::Master => ctx
            .runtime
            .master_key_hash
            .clone()
            .unwrap_or_else(|| "master".to_string()),
        other => other.encode(),
    };
    let end_user = ctx
        .client_headers
        .get(END_USER_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 256)
        .map(str::to_string);
    SpendRow {
        request_id: request_id(),
        call_type: call_type.to_string(),
        api_key,
        key_alias: identity.and_then(|i| i.key_alias.clone()),
        team_id: identity.and_then(|i| i.team_id.clone()),
        organization_id: identity.and_then(|i| i.organization_id.clone()),
        user_id: identity.and_then(|i| i.user_id.clone()),
        end_user,
        model,
        mcp_server: None,
        mcp_tool: None,
        spend: 0.0,
        status: CallStatus::Ok.as_str().to_string(),
        start_time: started.at,
        end_time: end,
        latency_ms: i64::try_from(started.clock.elapsed().as_millis()).unwrap_or(i64::MAX),
        upstream_protocol: None,
        prompt_tokens: 0,
        completion_tokens: 0,
        total_tokens: 0,
    }
}

/// A UUID (LiteLLM's request ids are UUIDs), version 7: the first 48 bits are the Unix
/// time in milliseconds, the rest random. Ids made later sort later, so each new row's
/// `request_id` lands at the end of the primary-key B-tree instead of on a random page:
/// with random (v4-style) ids a batch dirtied a page per row and SQLite stored ~31k rows/s,
/// with these ~91k (`store/examples/spend_insert.rs`).
pub(crate) fn request_id() -> String {
    let ms = u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0);
    let mut raw = [0u8; 16];
    raw[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    if getrandom::getrandom(&mut raw[6..]).is_err() {
        // Never on a healthy host; a counter keeps ids unique anyway.
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        raw[8..].copy_from_slice(&n.to_be_bytes());
    }
    raw[6] = 0x70 | (raw[6] & 0x0f); // version 7
    raw[8] = 0x80 | (raw[8] & 0x3f); // RFC 9562 variant
    let h = hex::encode(raw);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}
