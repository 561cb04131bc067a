//! MCP servers defined in the database.

use crate::crypt::{is_sealed, StoreKeys};
use crate::db::{Row, Tx, Q};
use crate::error::StoreError;
use crate::open::Store;
use crate::records::{McpServerPatch, McpServerRecord, NewMcpServer};
use crate::{columns, validate};

const KIND: &str = "mcp_server";

fn select_sql(filter: &str) -> String {
    format!(
        "SELECT server_id, server_name, alias, description, config, created_at, updated_at \
         FROM mcp_servers {filter}"
    )
}

/// The associated data a row's sealed config is bound to.
fn sealed_row(server_id: &str) -> String {
    format!("mcp_servers.config\0{server_id}")
}

/// The `config` column as stored: sealed with the current key when the store has keys.
fn config_column(
    keys: Option<&StoreKeys>,
    server_id: &str,
    config: &crate::records::JsonObject,
) -> Result<Option<serde_json::Value>, StoreError> {
    let Some(keys) = keys else {
        return Ok(columns::object_value(config));
    };
    let plain = serde_json::to_vec(config)
        .map_err(|e| StoreError::Database(format!("cannot serialize a server config: {e}")))?;
    Ok(Some(serde_json::Value::String(
        keys.seal(&sealed_row(server_id), &plain)?,
    )))
}

/// The `config` column read back: a sealed string is opened, a plain object (written
/// before encryption) taken as it is.
fn config_from_row(
    row: &Row,
    keys: Option<&StoreKeys>,
    server_id: &str,
) -> Result<crate::records::JsonObject, StoreError> {
    match row.json("config")? {
        Some(serde_json::Value::String(s)) if is_sealed(&s) => {
            let keys = keys.ok_or_else(|| {
                StoreError::Database(
                    "an MCP server's config is sealed but the store was opened without a key (MESHGATE_STORE_KEY)"
                        .into(),
                )
            })?;
            let plain = keys.open(&sealed_row(server_id), &s)?;
            serde_json::from_slice(&plain)
                .map_err(|e| StoreError::Database(format!("a sealed config holds bad JSON: {e}")))
        }
        _ => columns::object_from_row(row, "config"),
    }
}

fn from_row(row: &Row, keys: Option<&StoreKeys>) -> Result<McpServerRecord, StoreError> {
    let server_id: String = row.get("server_id")?;
    Ok(McpServerRecord {
        config: config_from_row(row, keys, &server_id)?,
        server_id,
        server_name: row.get("server_name")?,
        alias: row.get("alias")?,
        description: row.get("description")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

async fn load(
    tx: &mut Tx,
    server_id: &str,
    keys: Option<&StoreKeys>,
) -> Result<McpServerRecord, StoreError> {
    tx.fetch_optional(Q::new(select_sql("WHERE server_id = $1")).text(server_id))
        .await?
        .as_ref()
        .map(|r| from_row(r, keys))
        .transpose()?
        .ok_or_else(|| StoreError::not_found(KIND, server_id))
}

pub(crate) async fn list(
    tx: &mut Tx,
    keys: Option<&StoreKeys>,
) -> Result<Vec<McpServerRecord>, StoreError> {
    tx.fetch_all(Q::new(select_sql("ORDER BY lower(server_name), server_id")))
        .await?
        .iter()
        .map(|r| from_row(r, keys))
        .collect()
}

/// Seals every config that is plain or under a previous key with the current key (run
/// when the store opens: finishes an upgrade to encryption or a key rotation). Returns
/// how many rows were rewritten; nothing is written (no revision bump) when none is due.
pub(crate) async fn reseal_all(store: &Store, keys: &StoreKeys) -> Result<usize, StoreError> {
    let mut tx = store.read().await?;
    let rows = tx
        .fetch_all(Q::new("SELECT server_id, config FROM mcp_servers"))
        .await?;
    tx.commit().await?;
    let mut due = Vec::new();
    for row in &rows {
        let id: String = row.get("server_id")?;
        let current = matches!(row.json("config")?, Some(serde_json::Value::String(s)) if keys.is_current(&s));
        if !current {
            due.push(id);
        }
    }
    if due.is_empty() {
        return Ok(0);
    }
    let mut tx = store.write().await?;
    for id in &due {
        let record = load(&mut tx, id, Some(keys)).await?;
        tx.execute(
            Q::new("UPDATE mcp_servers SET config = $1 WHERE server_id = $2")
                .json(config_column(Some(keys), id, &record.config)?)
                .text(id),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(due.len())
}

fn validate_record(s: &McpServerRecord) -> Result<(), StoreError> {
    validate::text("server_id", &s.server_id)?;
    validate::server_name("server_name", &s.server_name)?;
    if let Some(alias) = &s.alias {
        validate::server_name("alias", alias)?;
    }
    validate::opt_text_long("description", s.description.as_deref())?;
    validate::json_object("config", &s.config)
}

/// Server names and aliases share one case-insensitive namespace (both are tool prefixes and
/// `x-mcp-servers` matches them case-insensitively): neither may equal another server's name or
/// alias.
async fn check_names(tx: &mut Tx, s: &McpServerRecord) -> Result<(), StoreError> {
    let candidates = std::iter::once(("server_name", &s.server_name))
        .chain(s.alias.as_ref().map(|a| ("alias", a)));
    for (field, name) in candidates {
        let taken = tx
            .fetch_optional(
                Q::new(
                    "SELECT server_name FROM mcp_servers WHERE server_id <> $1 \
                     AND (lower(server_name) = lower($2) OR lower(alias) = lower($2))",
                )
                .text(&s.server_id)
                .text(name),
            )
            .await?;
        if let Some(row) = taken {
            let other: String = row.get("server_name")?;
            return Err(StoreError::conflict(format!(
                "{field} `{name}` is already used by MCP server `{other}`"
            )));
        }
    }
    Ok(())
}

impl Store {
    pub async fn create_mcp_server(
        &self,
        req: NewMcpServer,
    ) -> Result<McpServerRecord, StoreError> {
        let now = validate::now();
        let record = McpServerRecord {
            server_id: req
                .server_id
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            server_name: req.server_name,
            alias: req.alias,
            description: req.description,
            config: req.config,
            created_at: now,
            updated_at: now,
        };
        validate_record(&record)?;
        let mut tx = self.write().await?;
        let exists = tx
            .exists(
                Q::new("SELECT 1 FROM mcp_servers WHERE server_id = $1").text(&record.server_id),
            )
            .await?;
        if exists {
            return Err(StoreError::conflict(format!(
                "MCP server `{}` already exists",
                record.server_id
            )));
        }
        check_names(&mut tx, &record).await?;
        tx.execute(
            Q::new(
                "INSERT INTO mcp_servers (server_id, server_name, alias, description, config, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .text(&record.server_id)
            .text(&record.server_name)
            .opt_text(record.alias.as_deref())
            .opt_text(record.description.as_deref())
            .json(config_column(
                self.keys(),
                &record.server_id,
                &record.config,
            )?)
            .time(Some(record.created_at))
            .time(Some(record.updated_at)),
        )
        .await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Changes a server; fields absent from `patch` are unchanged, `config` is replaced whole.
    pub async fn update_mcp_server(
        &self,
        server_id: &str,
        patch: McpServerPatch,
    ) -> Result<McpServerRecord, StoreError> {
        let mut tx = self.write().await?;
        let mut s = load(&mut tx, server_id, self.keys()).await?;
        if let Some(name) = patch.server_name {
            s.server_name = name;
        }
        columns::patch(&mut s.alias, patch.alias);
        columns::patch(&mut s.description, patch.description);
        if let Some(config) = patch.config {
            s.config = config;
        }
        s.updated_at = validate::now().max(s.created_at);
        validate_record(&s)?;
        check_names(&mut tx, &s).await?;
        tx.execute(
            Q::new(
                "UPDATE mcp_servers SET server_name = $1, alias = $2, description = $3, \
                 config = $4, updated_at = $5 WHERE server_id = $6",
            )
            .text(&s.server_name)
            .opt_text(s.alias.as_deref())
            .opt_text(s.description.as_deref())
            .json(config_column(self.keys(), &s.server_id, &s.config)?)
            .time(Some(s.updated_at))
            .text(&s.server_id),
        )
        .await?;
        tx.commit().await?;
        Ok(s)
    }

    /// Deletes a server. Permission lists naming it are left as they are (they may also name a
    /// config-file server of the same name); such entries simply match nothing.
    pub async fn delete_mcp_server(&self, server_id: &str) -> Result<McpServerRecord, StoreError> {
        let mut tx = self.write().await?;
        let s = load(&mut tx, server_id, self.keys()).await?;
        tx.execute(Q::new("DELETE FROM mcp_servers WHERE server_id = $1").text(server_id))
            .await?;
        tx.commit().await?;
        Ok(s)
    }

    pub async fn get_mcp_server(&self, server_id: &str) -> Result<McpServerRecord, StoreError> {
        let mut tx = self.read().await?;
        let s = load(&mut tx, server_id, self.keys()).await;
        tx.commit().await?;
        s
    }

    /// The server whose name or alias equals `name` case-insensitively.
    pub async fn find_mcp_server(&self, name: &str) -> Result<McpServerRecord, StoreError> {
        let mut tx = self.read().await?;
        let row = tx
            .fetch_optional(
                Q::new(select_sql(
                    "WHERE lower(server_name) = lower($1) OR lower(alias) = lower($1)",
                ))
                .text(name),
            )
            .await?;
        tx.commit().await?;
        row.as_ref()
            .map(|r| from_row(r, self.keys()))
            .transpose()?
            .ok_or_else(|| StoreError::not_found(KIND, name))
    }

    /// Every server, by name.
    pub async fn list_mcp_servers(&self) -> Result<Vec<McpServerRecord>, StoreError> {
        let mut tx = self.read().await?;
        let servers = list(&mut tx, self.keys()).await?;
        tx.commit().await?;
        Ok(servers)
    }
}
