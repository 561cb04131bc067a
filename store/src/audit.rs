//! The audit trail (migration 5): one row per request Envoy logged, the filter's
//! refusals included. Rows are appended in batches by the sidecar's audit writer and read
//! back, filtered and paged, by the admin route. Writes do not move [`Store::revision`]
//! (they are not policy).

use crate::db::Q;
use crate::error::StoreError;
use crate::open::Store;

/// Most rows one page returns.
pub const MAX_PAGE_SIZE: i64 = 1000;

/// One audit row as written (no secrets, no query strings; argument values only when
/// `meshgate.audit_arguments` asks for them, migration 7).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct NewAuditRow {
    /// When the request started, Unix ms.
    pub at_ms: i64,
    pub request_id: Option<String>,
    /// `allowed` or `refused`.
    pub decision: String,
    /// `ok` or the refusal's error kind.
    pub reason: String,
    pub http_status: Option<i64>,
    /// `master`, `key:<id>`, `_health`, or `unknown:<hash prefix>` for a key that was not
    /// recognised.
    pub principal: Option<String>,
    pub key_alias: Option<String>,
    pub team_id: Option<String>,
    pub organization_id: Option<String>,
    pub http_method: Option<String>,
    pub path: Option<String>,
    pub mcp_method: Option<String>,
    pub server: Option<String>,
    pub tool: Option<String>,
    pub guardrail: Option<String>,
    /// A `tools/call`'s arguments, when configured (JSON, ASCII, at most 2 KiB).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

/// A stored row: its id (increasing in insertion order) and what was written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditRow {
    pub id: i64,
    #[serde(flatten)]
    pub row: NewAuditRow,
}

/// Which rows to read: every given filter must match; newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub principal: Option<String>,
    pub team_id: Option<String>,
    pub organization_id: Option<String>,
    pub decision: Option<String>,
    pub reason: Option<String>,
    pub server: Option<String>,
    pub request_id: Option<String>,
    /// Inclusive lower bound, Unix ms.
    pub since_ms: Option<i64>,
    /// Exclusive upper bound, Unix ms.
    pub until_ms: Option<i64>,
    /// 1-based.
    pub page: i64,
    /// 1 to [`MAX_PAGE_SIZE`].
    pub page_size: i64,
}

/// Rows per `INSERT` statement: 100 × 16 parameters stays far below SQLite's (32,766) and
/// PostgreSQL's (65,535) limits.
const ROWS_PER_STATEMENT: usize = 100;
/// Columns written per row (the parameters of one tuple).
const FIELDS: usize = 16;

const COLUMNS: &str = "at_ms, request_id, decision, reason, http_status, principal, key_alias, \
     team_id, organization_id, http_method, path, mcp_method, server, tool, guardrail, arguments";

impl Store {
    /// Appends rows in one transaction (all or none), [`ROWS_PER_STATEMENT`] rows per
    /// `INSERT`.
    pub async fn insert_audit_rows(&self, rows: &[NewAuditRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.write_unversioned().await?;
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let tuples: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let params: Vec<String> = (1..=FIELDS)
                        .map(|j| format!("${}", i * FIELDS + j))
                        .collect();
                    format!("({})", params.join(", "))
                })
                .collect();
            let mut q = Q::new(format!(
                "INSERT INTO audit_log ({COLUMNS}) VALUES {}",
                tuples.join(", ")
            ));
            for r in chunk {
                q = q
                    .int(Some(r.at_ms))
                    .opt_text(r.request_id.as_deref())
                    .text(r.decision.as_str())
                    .text(r.reason.as_str())
                    .int(r.http_status)
                    .opt_text(r.principal.as_deref())
                    .opt_text(r.key_alias.as_deref())
                    .opt_text(r.team_id.as_deref())
                    .opt_text(r.organization_id.as_deref())
                    .opt_text(r.http_method.as_deref())
                    .opt_text(r.path.as_deref())
                    .opt_text(r.mcp_method.as_deref())
                    .opt_text(r.server.as_deref())
                    .opt_text(r.tool.as_deref())
                    .opt_text(r.guardrail.as_deref())
                    .opt_text(r.arguments.as_deref());
            }
            tx.execute(q).await?;
        }
        tx.commit().await
    }

    /// One page of matching rows, newest first, and how many match in all.
    pub async fn audit_rows(&self, q: &AuditQuery) -> Result<(Vec<AuditRow>, i64), StoreError> {
        if q.page < 1 {
            return Err(invalid("page", "must be 1 or more"));
        }
        if !(1..=MAX_PAGE_SIZE).contains(&q.page_size) {
            return Err(invalid(
                "page_size",
                &format!("must be 1 to {MAX_PAGE_SIZE}"),
            ));
        }
        let mut clauses = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        let mut ints: Vec<i64> = Vec::new();
        for (column, value) in [
            ("principal", &q.principal),
            ("team_id", &q.team_id),
            ("organization_id", &q.organization_id),
            ("decision", &q.decision),
            ("reason", &q.reason),
            ("server", &q.server),
            ("request_id", &q.request_id),
        ] {
            if let Some(v) = value {
                texts.push(v.clone());
                clauses.push(format!("{column} = ${}", texts.len()));
            }
        }
        // Integer parameters follow the text ones.
        let int_clause = |op: &str, v: i64, texts: &[String], ints: &mut Vec<i64>| {
            ints.push(v);
            format!("at_ms {op} ${}", texts.len() + ints.len())
        };
        if let Some(since) = q.since_ms {
            clauses.push(int_clause(">=", since, &texts, &mut ints));
        }
        if let Some(until) = q.until_ms {
            clauses.push(int_clause("<", until, &texts, &mut ints));
        }
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        let bind = |mut query: Q| {
            for t in &texts {
                query = query.text(t.as_str());
            }
            for i in &ints {
                query = query.int(Some(*i));
            }
            query
        };
        let offset = (q.page - 1).saturating_mul(q.page_size);
        let mut tx = self.read().await?;
        let total: i64 = tx
            .fetch_one(bind(Q::new(format!(
                "SELECT COUNT(*) AS n FROM audit_log{filter}"
            ))))
            .await?
            .get("n")?;
        let rows = tx
            .fetch_all(bind(Q::new(format!(
                "SELECT id, {COLUMNS} FROM audit_log{filter} ORDER BY at_ms DESC, id DESC \
                 LIMIT {} OFFSET {offset}",
                q.page_size
            ))))
            .await?;
        tx.commit().await?;
        let rows = rows
            .iter()
            .map(|r| {
                Ok(AuditRow {
                    id: r.get("id")?,
                    row: NewAuditRow {
                        at_ms: r.get("at_ms")?,
                        request_id: r.get("request_id")?,
                        decision: r.get("decision")?,
                        reason: r.get("reason")?,
                        http_status: r.get("http_status")?,
                        principal: r.get("principal")?,
                        key_alias: r.get("key_alias")?,
                        team_id: r.get("team_id")?,
                        organization_id: r.get("organization_id")?,
                        http_method: r.get("http_method")?,
                        path: r.get("path")?,
                        mcp_method: r.get("mcp_method")?,
                        server: r.get("server")?,
                        tool: r.get("tool")?,
                        guardrail: r.get("guardrail")?,
                        arguments: r.get("arguments")?,
                    },
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((rows, total))
    }
}

fn invalid(field: &str, message: &str) -> StoreError {
    StoreError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}
