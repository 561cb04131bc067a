//! Spend routes: LiteLLM's `GET /spend/logs` (rows, filtered and paged), meshgate's
//! `GET /spend/summary` (calls and cost per server and tool) and `GET /spend/metrics`
//! (the spend queue's counters). A virtual key sees only its own rows; the master key
//! sees all and may filter.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;

use meshgate_store::{hash_key, SpendFilter, SpendOwner};

use super::error::ApiError;
use super::request::{ok, AdminRequest, AdminResult};
use crate::state::AppState;

/// Most rows on one page of `/spend/logs`.
const MAX_PAGE_SIZE: u32 = 1000;
const DEFAULT_PAGE_SIZE: u32 = 50;

/// The filter a request asks for: `api_key` (hash or `sk-…`), `team_id`,
/// `organization_id`, `user_id`, `end_user`, `start_date` / `end_date` (`YYYY-MM-DD`, the
/// end day included, or RFC 3339 instants, the end excluded). A virtual key's filter is
/// always its own key.
async fn filter(state: &AppState, req: &AdminRequest) -> Result<SpendFilter, ApiError> {
    let text = |name: &str| req.query(name).map(|v| v.trim().to_string());
    let mut f = SpendFilter {
        api_key: text("api_key").map(|k| {
            if k.starts_with("sk-") {
                hash_key(&k)
            } else {
                k.to_ascii_lowercase()
            }
        }),
        team_id: text("team_id"),
        organization_id: text("organization_id"),
        user_id: text("user_id"),
        end_user: text("end_user"),
        start: date(req, "start_date", false)?,
        end: date(req, "end_date", true)?,
    };
    if !req.is_master() {
        let own = own_hash(state, req)?;
        if f.api_key.as_ref().is_some_and(|k| *k != own) {
            return Err(ApiError::Forbidden(
                "a virtual key may only read its own spend; other keys need the master key".into(),
            ));
        }
        f.api_key = Some(own);
    }
    Ok(f)
}

fn own_hash(state: &AppState, req: &AdminRequest) -> Result<String, ApiError> {
    let id = req
        .key_id()
        .ok_or_else(|| ApiError::Forbidden("this principal has no key".into()))?;
    state
        .runtime()
        .identities
        .get(id)
        .map(|i| i.hash.clone())
        .ok_or_else(|| ApiError::not_found("this key no longer exists"))
}

fn date(req: &AdminRequest, name: &str, end: bool) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(v) = req.query(name).map(str::trim) else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    let day = NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
        ApiError::invalid(
            name,
            format!("invalid {name}: `{v}` is neither YYYY-MM-DD nor an RFC 3339 time"),
        )
    })?;
    let day = if end { day.succ_opt() } else { Some(day) };
    Ok(day
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc()))
}

fn number(req: &AdminRequest, name: &str, default: u32, max: u32) -> Result<u32, ApiError> {
    match req.query(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(
                    name,
                    format!("invalid {name}: `{v}` is not a number from 1 to {max}"),
                )
            }),
    }
}

/// `GET /spend/logs` → `{"data": [row…], "total", "page", "page_size", "total_pages"}`,
/// newest first (LiteLLM's paged `/spend/logs/v2` shape).
pub async fn logs(state: &AppState, req: &AdminRequest) -> AdminResult {
    let f = filter(state, req).await?;
    let page = number(req, "page", 1, u32::MAX)?;
    let size = number(req, "page_size", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)?;
    let (rows, total) = state.store.spend_logs(&f, page, size).await?;
    let pages = (total.max(0) as u64).div_ceil(u64::from(size)).max(1);
    ok(&json!({
        "data": rows,
        "total": total,
        "page": page,
        "page_size": size,
        "total_pages": pages,
    }))
}

/// `GET /spend/summary` (same filters) → `{"total_spend", "total_calls", "by_tool":
/// [{"mcp_server", "mcp_tool", "call_type", "calls", "spend"}…], "by_server": [...]}`.
pub async fn summary(state: &AppState, req: &AdminRequest) -> AdminResult {
    let f = filter(state, req).await?;
    let groups = state.store.spend_summary(&f).await?;
    let mut servers: std::collections::BTreeMap<Option<String>, (i64, f64)> = Default::default();
    for g in &groups {
        let e = servers.entry(g.mcp_server.clone()).or_default();
        e.0 += g.calls;
        e.1 += g.spend;
    }
    let mut by_server: Vec<_> = servers
        .into_iter()
        .map(|(server, (calls, spend))| json!({"mcp_server": server, "calls": calls, "spend": spend}))
        .collect();
    by_server.sort_by(|a, b| {
        b["spend"]
            .as_f64()
            .partial_cmp(&a["spend"].as_f64())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    ok(&json!({
        "total_spend": groups.iter().map(|g| g.spend).sum::<f64>(),
        "total_calls": groups.iter().map(|g| g.calls).sum::<i64>(),
        "by_tool": groups,
        "by_server": by_server,
    }))
}

/// `GET /spend/metrics` (master key): the spend queue's counters.
pub fn metrics(state: &AppState, req: &AdminRequest) -> AdminResult {
    req.require_master()?;
    ok(&state.spend.metrics())
}

/// The spend of a key (by hash), team or organization for their `/…/info`: in the
/// current budget window when it has a `budget_duration` (LiteLLM resets `spend` at
/// `budget_reset_at`), else all of it.
pub async fn total(
    state: &AppState,
    owner: SpendOwner,
    id: &str,
    budget: &meshgate_store::Budget,
) -> Result<f64, ApiError> {
    Ok(state
        .store
        .spend_of(owner, id, budget.window_start())
        .await?)
}
