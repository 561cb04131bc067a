//! Spend rows (LiteLLM's `LiteLLM_SpendLogs`, MCP columns): written in batches, read by
//! filters with pagination, summed per key / team / organization and per server / tool.
//! Writes here do not move [`Store::revision`] (they are bookkeeping, not policy).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::db::{Row, Tx, Q};
use crate::error::StoreError;
use crate::open::Store;

/// One spend row. `api_key` is the key's SHA-256 (`master` for the master key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpendRow {
    pub request_id: String,
    /// `call_mcp_tool`, `list_mcp_tools`, or an LLM request's `acompletion` /
    /// `aresponses`.
    pub call_type: String,
    pub api_key: String,
    pub key_alias: Option<String>,
    pub team_id: Option<String>,
    pub organization_id: Option<String>,
    /// The key's user.
    pub user_id: Option<String>,
    /// The end user the client named (`x-litellm-end-user-id`).
    pub end_user: Option<String>,
    /// `MCP: <prefixed tool>`, `MCP: list_tools`, or an LLM request's model name.
    pub model: String,
    pub mcp_server: Option<String>,
    pub mcp_tool: Option<String>,
    pub spend: f64,
    /// `ok`, `is_error`, `refused` or `upstream_error`.
    pub status: String,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    pub latency_ms: i64,
    /// `stdio`, `http`, `sse`, `openapi` (the upstream's transport).
    pub upstream_protocol: Option<String>,
    /// An LLM request's tokens (every round summed); 0 on MCP rows.
    #[serde(default)]
    pub prompt_tokens: i64,
    #[serde(default)]
    pub completion_tokens: i64,
    #[serde(default)]
    pub total_tokens: i64,
}

const COLUMNS: &str = "request_id, call_type, api_key, key_alias, team_id, organization_id, \
     user_id, end_user, model, mcp_server, mcp_tool, spend, status, start_time, end_time, \
     latency_ms, upstream_protocol, prompt_tokens, completion_tokens, total_tokens";
const COLUMN_COUNT: usize = 20;
/// Rows per transaction (the sidecar's writer batches up to this many).
pub const MAX_BATCH: usize = 256;
/// Rows per multi-row INSERT (20 parameters each).
const ROWS_PER_STATEMENT: usize = 16;

/// `INSERT … VALUES (…), (…) ON CONFLICT (request_id) DO NOTHING` for these rows.
fn insert_statement(rows: &[SpendRow]) -> Q {
    let mut sql = format!("INSERT INTO spend_logs ({COLUMNS}) VALUES ");
    for i in 0..rows.len() {
        if i > 0 {
            sql.push(',');
        }
        let base = i * COLUMN_COUNT;
        let params: Vec<String> = (1..=COLUMN_COUNT)
            .map(|c| format!("${}", base + c))
            .collect();
        sql.push('(');
        sql.push_str(&params.join(","));
        sql.push(')');
    }
    sql.push_str(" ON CONFLICT (request_id) DO NOTHING");
    let mut q = Q::new(sql);
    for r in rows {
        q = q
            .text(&r.request_id)
            .text(&r.call_type)
            .text(&r.api_key)
            .opt_text(r.key_alias.as_deref())
            .opt_text(r.team_id.as_deref())
            .opt_text(r.organization_id.as_deref())
            .opt_text(r.user_id.as_deref())
            .opt_text(r.end_user.as_deref())
            .text(&r.model)
            .opt_text(r.mcp_server.as_deref())
            .opt_text(r.mcp_tool.as_deref())
            .float(Some(r.spend))
            .text(&r.status)
            .time(Some(crate::validate::timestamp(r.start_time)))
            .time(Some(crate::validate::timestamp(r.end_time)))
            .int(Some(r.latency_ms))
            .opt_text(r.upstream_protocol.as_deref())
            .int(Some(r.prompt_tokens))
            .int(Some(r.completion_tokens))
            .int(Some(r.total_tokens));
    }
    q
}

/// PostgreSQL: a whole batch in one statement, each column bound as one array
/// (`UNNEST`): one Bind and one plan per batch instead of one per 16 rows.
async fn insert_unnest(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    rows: &[SpendRow],
) -> Result<u64, StoreError> {
    fn col<T>(rows: &[SpendRow], f: impl Fn(&SpendRow) -> T) -> Vec<T> {
        rows.iter().map(f).collect()
    }
    let sql = format!(
        "INSERT INTO spend_logs ({COLUMNS}) SELECT * FROM UNNEST(\
         $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
         $8::text[], $9::text[], $10::text[], $11::text[], $12::float8[], $13::text[], \
         $14::timestamptz[], $15::timestamptz[], $16::int8[], $17::text[], $18::int8[], \
         $19::int8[], $20::int8[]) \
         ON CONFLICT (request_id) DO NOTHING"
    );
    let done = sqlx::query(&sql)
        .bind(col(rows, |r| r.request_id.clone()))
        .bind(col(rows, |r| r.call_type.clone()))
        .bind(col(rows, |r| r.api_key.clone()))
        .bind(col(rows, |r| r.key_alias.clone()))
        .bind(col(rows, |r| r.team_id.clone()))
        .bind(col(rows, |r| r.organization_id.clone()))
        .bind(col(rows, |r| r.user_id.clone()))
        .bind(col(rows, |r| r.end_user.clone()))
        .bind(col(rows, |r| r.model.clone()))
        .bind(col(rows, |r| r.mcp_server.clone()))
        .bind(col(rows, |r| r.mcp_tool.clone()))
        .bind(col(rows, |r| r.spend))
        .bind(col(rows, |r| r.status.clone()))
        .bind(col(rows, |r| crate::validate::timestamp(r.start_time)))
        .bind(col(rows, |r| crate::validate::timestamp(r.end_time)))
        .bind(col(rows, |r| r.latency_ms))
        .bind(col(rows, |r| r.upstream_protocol.clone()))
        .bind(col(rows, |r| r.prompt_tokens))
        .bind(col(rows, |r| r.completion_tokens))
        .bind(col(rows, |r| r.total_tokens))
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected())
}

fn from_row(r: &Row) -> Result<SpendRow, StoreError> {
    Ok(SpendRow {
        request_id: r.get("request_id")?,
        call_type: r.get("call_type")?,
        api_key: r.get("api_key")?,
        key_alias: r.get("key_alias")?,
        team_id: r.get("team_id")?,
        organization_id: r.get("organization_id")?,
        user_id: r.get("user_id")?,
        end_user: r.get("end_user")?,
        model: r.get("model")?,
        mcp_server: r.get("mcp_server")?,
        mcp_tool: r.get("mcp_tool")?,
        spend: r.get("spend")?,
        status: r.get("status")?,
        start_time: r.get("start_time")?,
        end_time: r.get("end_time")?,
        latency_ms: r.get("latency_ms")?,
        upstream_protocol: r.get("upstream_protocol")?,
        prompt_tokens: r.get("prompt_tokens")?,
        completion_tokens: r.get("completion_tokens")?,
        total_tokens: r.get("total_tokens")?,
    })
}

/// `/spend/logs` filters; all optional, combined with AND.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpendFilter {
    /// The key's hash (`api_key` column).
    pub api_key: Option<String>,
    pub team_id: Option<String>,
    pub organization_id: Option<String>,
    pub user_id: Option<String>,
    pub end_user: Option<String>,
    /// Rows that started at or after this instant.
    pub start: Option<DateTime<Utc>>,
    /// Rows that started before this instant.
    pub end: Option<DateTime<Utc>>,
}

impl SpendFilter {
    /// `WHERE …` and its parameters, numbered from `$1`.
    fn clause(&self, q: Q) -> (String, Q) {
        let mut conds = Vec::new();
        let mut q = q;
        let mut n = 0;
        let mut text = |col: &str, v: &Option<String>, q: Q, conds: &mut Vec<String>| {
            if let Some(v) = v {
                n += 1;
                conds.push(format!("{col} = ${n}"));
                q.text(v)
            } else {
                q
            }
        };
        q = text("api_key", &self.api_key, q, &mut conds);
        q = text("team_id", &self.team_id, q, &mut conds);
        q = text("organization_id", &self.organization_id, q, &mut conds);
        q = text("user_id", &self.user_id, q, &mut conds);
        q = text("end_user", &self.end_user, q, &mut conds);
        if let Some(start) = self.start {
            n += 1;
            conds.push(format!("start_time >= ${n}"));
            q = q.time(Some(start));
        }
        if let Some(end) = self.end {
            n += 1;
            conds.push(format!("start_time < ${n}"));
            q = q.time(Some(end));
        }
        let clause = if conds.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conds.join(" AND "))
        };
        (clause, q)
    }
}

/// A group of `/spend/summary`: one server and tool, their calls and cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpendGroup {
    pub mcp_server: Option<String>,
    pub mcp_tool: Option<String>,
    pub call_type: String,
    pub calls: i64,
    pub spend: f64,
}

/// Which column a spend total is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendOwner {
    Key,
    Team,
    Organization,
}

impl SpendOwner {
    fn column(self) -> &'static str {
        match self {
            SpendOwner::Key => "api_key",
            SpendOwner::Team => "team_id",
            SpendOwner::Organization => "organization_id",
        }
    }
}

impl Store {
    /// Writes rows in one transaction per [`MAX_BATCH`]; a row whose `request_id` is
    /// already stored is skipped (a retried batch writes nothing twice). Returns how
    /// many rows were new. Statements come in two shapes only — [`ROWS_PER_STATEMENT`]
    /// rows, and one row for the remainder — so both drivers' prepared-statement caches
    /// hold them whatever the batch size (a statement per size would be prepared anew
    /// all the time).
    pub async fn insert_spend(&self, rows: &[SpendRow]) -> Result<u64, StoreError> {
        let mut written = 0;
        for batch in rows.chunks(MAX_BATCH) {
            let mut tx = self.write_unversioned().await?;
            if let Tx::Postgres(pg) = &mut tx {
                written += insert_unnest(pg, batch).await?;
            } else {
                let mut chunks = batch.chunks_exact(ROWS_PER_STATEMENT);
                for chunk in chunks.by_ref() {
                    written += tx.execute(insert_statement(chunk)).await?;
                }
                for row in chunks.remainder() {
                    written += tx
                        .execute(insert_statement(std::slice::from_ref(row)))
                        .await?;
                }
            }
            tx.commit().await?;
        }
        Ok(written)
    }

    /// Rows matching `filter`, newest first, `page_size` per page (page 1 first), and the
    /// total count of matching rows.
    pub async fn spend_logs(
        &self,
        filter: &SpendFilter,
        page: u32,
        page_size: u32,
    ) -> Result<(Vec<SpendRow>, i64), StoreError> {
        let (clause, q) = filter.clause(Q::new(String::new()));
        let page = i64::from(page.max(1));
        let size = i64::from(page_size.clamp(1, 1000));
        let mut tx = self.read().await?;
        let total: i64 = tx
            .fetch_one(q.with_sql(format!("SELECT COUNT(*) AS n FROM spend_logs {clause}")))
            .await?
            .get("n")?;
        let (clause, q) = filter.clause(Q::new(String::new()));
        let rows = tx
            .fetch_all(q.with_sql(format!(
                "SELECT {COLUMNS} FROM spend_logs {clause} \
                 ORDER BY start_time DESC, request_id LIMIT {size} OFFSET {}",
                (page - 1) * size
            )))
            .await?;
        tx.commit().await?;
        let rows = rows.iter().map(from_row).collect::<Result<_, _>>()?;
        Ok((rows, total))
    }

    /// Calls and cost per server and tool for rows matching `filter`, costliest first.
    pub async fn spend_summary(&self, filter: &SpendFilter) -> Result<Vec<SpendGroup>, StoreError> {
        let (clause, q) = filter.clause(Q::new(String::new()));
        let mut tx = self.read().await?;
        let rows = tx
            .fetch_all(q.with_sql(format!(
                "SELECT mcp_server, mcp_tool, call_type, COUNT(*) AS calls, \
                 COALESCE(SUM(spend), 0.0) AS spend FROM spend_logs {clause} \
                 GROUP BY mcp_server, mcp_tool, call_type \
                 ORDER BY spend DESC, calls DESC, mcp_server, mcp_tool"
            )))
            .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| {
                Ok(SpendGroup {
                    mcp_server: r.get("mcp_server")?,
                    mcp_tool: r.get("mcp_tool")?,
                    call_type: r.get("call_type")?,
                    calls: r.get("calls")?,
                    spend: r.get("spend")?,
                })
            })
            .collect()
    }

    /// The spend of a key (by hash), team or organization: every row, or those that
    /// started at or after `since` (a budget window).
    pub async fn spend_of(
        &self,
        owner: SpendOwner,
        id: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<f64, StoreError> {
        let col = owner.column();
        let q = match since {
            Some(t) => Q::new(format!(
                "SELECT COALESCE(SUM(spend), 0.0) AS s FROM spend_logs \
                 WHERE {col} = $1 AND start_time >= $2"
            ))
            .text(id)
            .time(Some(crate::validate::timestamp(t))),
            None => Q::new(format!(
                "SELECT COALESCE(SUM(spend), 0.0) AS s FROM spend_logs WHERE {col} = $1"
            ))
            .text(id),
        };
        let mut tx = self.read().await?;
        let spend: f64 = tx.fetch_one(q).await?.get("s")?;
        tx.commit().await?;
        Ok(spend)
    }
}
