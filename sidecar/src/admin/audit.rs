//! `GET /audit/logs` (master key): the audit trail, newest first, filtered and paged.
//!
//! Filters (query parameters, all optional, combined with AND): `key` (`master`,
//! `key:<id>`, a key id — the first 16 hex digits of its hash —, a whole key hash, or
//! `unknown:<hash prefix>`), `team_id`, `organization_id`, `decision` (`allowed`,
//! `refused`, `unrecorded`), `reason`, `server`, `request_id`, `start_date` (inclusive)
//! and `end_date` (exclusive), each RFC 3339, `YYYY-MM-DD` or Unix milliseconds.
//! Paging: `page` (from 1), `page_size` (1 to 1000, default 50; the store checks both).

use chrono::{DateTime, NaiveDate, Utc};
use meshgate_store::AuditQuery;
use serde_json::json;

use super::error::ApiError;
use super::request::{ok, AdminRequest, AdminResult};
use crate::state::AppState;

const DEFAULT_PAGE_SIZE: i64 = 50;
const DECISIONS: &[&str] = &["allowed", "refused", crate::audit::entry::UNRECORDED];

/// `GET /audit/metrics`: rows received, written and dropped since the sidecar started.
pub fn metrics(state: &AppState, req: &AdminRequest) -> AdminResult {
    req.require_master()?;
    ok(&state.audit.snapshot())
}

pub async fn logs(state: &AppState, req: &AdminRequest) -> AdminResult {
    req.require_master()?;
    let query = query_of(req)?;
    let (rows, total) = state.store.audit_rows(&query).await?;
    let data: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap_or_default();
            if let Some(time) = DateTime::<Utc>::from_timestamp_millis(r.row.at_ms) {
                v["time"] = json!(time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
            }
            v
        })
        .collect();
    ok(&json!({
        "data": data,
        "total": total,
        "page": query.page,
        "page_size": query.page_size,
        "total_pages": ((total + query.page_size - 1) / query.page_size).max(1),
    }))
}

fn query_of(req: &AdminRequest) -> Result<AuditQuery, ApiError> {
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        match req.query(name) {
            Some(v) if v.len() > 256 => Err(ApiError::invalid(
                name,
                format!("invalid {name}: longer than 256 characters"),
            )),
            v => Ok(v.map(|v| v.trim().to_string())),
        }
    };
    let decision = text("decision")?;
    if let Some(d) = decision.as_deref() {
        if !DECISIONS.contains(&d) {
            return Err(ApiError::invalid(
                "decision",
                format!(
                    "invalid decision: `{d}` is not one of {}",
                    DECISIONS.join(", ")
                ),
            ));
        }
    }
    Ok(AuditQuery {
        principal: text("key")?.map(|k| principal_of(&k)),
        team_id: text("team_id")?,
        organization_id: text("organization_id")?,
        decision,
        reason: text("reason")?,
        server: text("server")?,
        request_id: text("request_id")?,
        since_ms: time_param(req, "start_date")?,
        until_ms: time_param(req, "end_date")?,
        page: number(req, "page")?.unwrap_or(1),
        page_size: number(req, "page_size")?.unwrap_or(DEFAULT_PAGE_SIZE),
    })
}

/// The stored principal a `key` filter means: a bare id or whole hash is a virtual key.
fn principal_of(key: &str) -> String {
    let is_hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
    match key {
        k if k.len() == 64 && is_hex(k) => format!("key:{}", k[..16].to_ascii_lowercase()),
        k if k.len() == 16 && is_hex(k) => format!("key:{}", k.to_ascii_lowercase()),
        k => k.to_string(),
    }
}

fn number(req: &AdminRequest, name: &str) -> Result<Option<i64>, ApiError> {
    req.query(name)
        .map(|v| {
            v.trim().parse::<i64>().map_err(|_| {
                ApiError::invalid(name, format!("invalid {name}: `{v}` is not a number"))
            })
        })
        .transpose()
}

/// RFC 3339, `YYYY-MM-DD` (midnight UTC) or Unix milliseconds.
fn time_param(req: &AdminRequest, name: &str) -> Result<Option<i64>, ApiError> {
    let Some(v) = req.query(name).map(str::trim) else {
        return Ok(None);
    };
    if let Ok(ms) = v.parse::<i64>() {
        return Ok(Some(ms));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(Some(t.timestamp_millis()));
    }
    if let Some(t) = NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
    {
        return Ok(Some(t.and_utc().timestamp_millis()));
    }
    Err(ApiError::invalid(
        name,
        format!(
            "invalid {name}: `{v}` is not an RFC 3339 time, a YYYY-MM-DD date or Unix milliseconds"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::principal_of;

    #[test]
    fn key_filters_name_the_stored_principal() {
        let hash = "ABCDEF0123456789".repeat(4);
        assert_eq!(principal_of(&hash), "key:abcdef0123456789");
        assert_eq!(principal_of("0123456789abcdef"), "key:0123456789abcdef");
        assert_eq!(principal_of("master"), "master");
        assert_eq!(principal_of("key:x"), "key:x");
    }
}
