//! MCP server management: `GET|POST|PUT /v1/mcp/server`, `GET|DELETE
//! /v1/mcp/server/{id}`, `GET /v1/mcp/access_groups`. Configuration-file servers and
//! database servers are listed together, each marked with its `source`; only database
//! servers can be changed here. Secrets are never shown (see `redact.rs`).
//!
//! Reads are open to virtual keys but show only the servers in the key's scope (LiteLLM
//! refuses virtual keys here, issues #20325/#31016); writes need the master key.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use meshgate_policy::{GatewayConfig, ServerConfig};
use meshgate_store::{McpServerPatch, McpServerRecord, NewMcpServer, StoreError};

use super::error::{from_server_config, ApiError};
use super::redact::{redact_config, restore_redacted};
use super::request::{ok, required_str, type_name, AdminRequest, AdminResult};
use crate::guard::HostPolicy;
use crate::state::{AppState, Runtime};
use crate::stored::{load_database_server, DatabaseServerError};

/// Body fields that describe the record rather than the server's configuration, or that
/// LiteLLM's UI sends back from a GET; never stored in `config`.
const NOT_CONFIG: &[&str] = &[
    "server_id",
    "server_name",
    "alias",
    "description",
    "config",
    "source",
    "active",
    "status",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
    "teams",
    "last_health_check",
    "health_check_error",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Config,
    Database,
}

/// One server as the management API shows it.
pub struct ServerEntry {
    pub id: String,
    pub name: String,
    /// The tool prefix when it differs from the name (alias or `mcp_aliases`).
    pub alias: Option<String>,
    pub description: Option<String>,
    pub source: Source,
    /// Served right now (a database server whose name the file already uses, or whose
    /// configuration no longer validates, is not).
    pub active: bool,
    /// The configuration as stored (database) or loaded (file), not yet redacted.
    pub config: Map<String, Value>,
    pub record: Option<McpServerRecord>,
}

impl ServerEntry {
    pub fn matches(&self, ident: &str) -> bool {
        self.id == ident
            || self.name.eq_ignore_ascii_case(ident)
            || self
                .alias
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(ident))
    }

    pub fn access_groups(&self) -> Vec<String> {
        ["access_groups", "mcp_access_groups"]
            .iter()
            .filter_map(|f| self.config.get(*f).and_then(Value::as_array))
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    }

    /// The JSON shown to clients: LiteLLM's flat server object, redacted.
    pub fn view(&self) -> Value {
        let mut out = Map::new();
        out.insert("server_id".into(), self.id.clone().into());
        out.insert("server_name".into(), self.name.clone().into());
        out.insert("alias".into(), self.alias.clone().into());
        out.insert("description".into(), self.description.clone().into());
        out.insert(
            "source".into(),
            match self.source {
                Source::Config => "config",
                Source::Database => "database",
            }
            .into(),
        );
        out.insert("active".into(), self.active.into());
        let mut config = self.config.clone();
        redact_config(&mut config);
        for (k, v) in config {
            let empty = match &v {
                Value::Null => true,
                Value::Array(a) => a.is_empty(),
                Value::Object(o) => o.is_empty(),
                _ => false,
            };
            if !empty && !out.contains_key(&k) {
                out.insert(k, v);
            }
        }
        out.insert("mcp_access_groups".into(), self.access_groups().into());
        if let Some(r) = &self.record {
            out.insert(
                "created_at".into(),
                Value::String(r.created_at.to_rfc3339()),
            );
            out.insert(
                "updated_at".into(),
                Value::String(r.updated_at.to_rfc3339()),
            );
        }
        Value::Object(out)
    }
}

/// A configuration-file server's id, computed as LiteLLM does
/// (`sha256("name|url|transport|auth_type|alias")[:32]`) so it is stable across restarts.
pub fn config_server_id(name: &str, server: &ServerConfig, alias: Option<&str>) -> String {
    let text = |v: Value| v.as_str().map(str::to_string).unwrap_or_default();
    // A URL server without `transport` counts as `http`, LiteLLM's config-loader default.
    let transport = text(
        serde_json::to_value(
            server
                .effective_transport()
                .unwrap_or(meshgate_policy::Transport::Http),
        )
        .unwrap_or_default(),
    );
    let auth = server
        .auth_type
        .map(|a| text(serde_json::to_value(a).unwrap_or_default()))
        .unwrap_or_default();
    let joined = format!(
        "{name}|{}|{transport}|{auth}|{}",
        server.url.as_deref().unwrap_or_default(),
        alias.unwrap_or_default()
    );
    hex::encode(Sha256::digest(joined.as_bytes()))
        .chars()
        .take(32)
        .collect()
}

fn config_entries(runtime: &Runtime) -> Vec<ServerEntry> {
    let file = &runtime.file_config;
    file.mcp_servers
        .iter()
        .map(|(name, server)| {
            let prefix = file.prefix_of(name);
            let alias = (prefix != *name).then_some(prefix);
            let config = match serde_json::to_value(server) {
                Ok(Value::Object(m)) => m,
                _ => Map::new(),
            };
            ServerEntry {
                id: config_server_id(name, server, alias.as_deref()),
                name: name.clone(),
                description: server.description.clone(),
                alias,
                source: Source::Config,
                active: runtime.upstreams.contains_key(name),
                config,
                record: None,
            }
        })
        .collect()
}

fn database_entry(runtime: &Runtime, record: McpServerRecord) -> ServerEntry {
    let name = record.server_name.clone();
    let active = !runtime.file_config.mcp_servers.contains_key(&name)
        && runtime.upstreams.contains_key(&name);
    ServerEntry {
        id: record.server_id.clone(),
        alias: record.alias.clone(),
        description: record.description.clone(),
        source: Source::Database,
        active,
        config: record.config.clone(),
        name,
        record: Some(record),
    }
}

/// Every server: configuration file first, then the database.
pub async fn all_entries(
    state: &AppState,
    runtime: &Runtime,
) -> Result<Vec<ServerEntry>, ApiError> {
    let mut out = config_entries(runtime);
    for record in state.store.list_mcp_servers().await? {
        out.push(database_entry(runtime, record));
    }
    Ok(out)
}

/// What this principal may see: everything for the master key, else the active servers
/// in the request's scope.
fn visible(req: &AdminRequest, entry: &ServerEntry) -> bool {
    req.is_master() || (entry.active && req.principal.scope.allows(&entry.name))
}

/// `GET /v1/mcp/server` → `[server…]`.
pub async fn list(state: &AppState, req: &AdminRequest) -> AdminResult {
    let runtime = state.runtime();
    let views: Vec<Value> = all_entries(state, &runtime)
        .await?
        .iter()
        .filter(|e| visible(req, e))
        .map(ServerEntry::view)
        .collect();
    ok(&views)
}

/// `GET /v1/mcp/server/{id or name or alias}` → the server.
pub async fn get(state: &AppState, req: &AdminRequest, ident: &str) -> AdminResult {
    let runtime = state.runtime();
    let entries = all_entries(state, &runtime).await?;
    let found = entries
        .iter()
        .find(|e| e.id == ident)
        .or_else(|| entries.iter().find(|e| e.matches(ident)))
        .filter(|e| visible(req, e))
        .ok_or_else(|| server_not_found(ident))?;
    ok(&found.view())
}

/// `GET /v1/mcp/access_groups` → `{"access_groups": [...]}` (sorted, unique).
pub async fn access_groups(state: &AppState, req: &AdminRequest) -> AdminResult {
    let runtime = state.runtime();
    let mut groups: Vec<String> = all_entries(state, &runtime)
        .await?
        .iter()
        .filter(|e| visible(req, e))
        .flat_map(ServerEntry::access_groups)
        .collect();
    groups.sort_by_key(|g| g.to_ascii_lowercase());
    groups.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    ok(&serde_json::json!({ "access_groups": groups }))
}

/// A create or update body, split into record fields and configuration fields.
struct ServerInput {
    server_id: Option<String>,
    server_name: Option<String>,
    /// absent / null (clear) / value.
    alias: Option<Option<String>>,
    description: Option<Option<String>>,
    /// `config: {...}`: replaces the whole configuration.
    config: Option<Map<String, Value>>,
    /// Flat LiteLLM fields (`url`, `transport`, …); `null` removes one on update.
    fields: Map<String, Value>,
}

fn opt_string(body: &Map<String, Value>, field: &str) -> Result<Option<Option<String>>, ApiError> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(other) => Err(ApiError::invalid(
            field,
            format!(
                "invalid {field}: expected a string, found {}",
                type_name(other)
            ),
        )),
    }
}

fn server_input(body: Map<String, Value>) -> Result<ServerInput, ApiError> {
    let server_id = opt_string(&body, "server_id")?.flatten();
    let server_name = opt_string(&body, "server_name")?.flatten();
    let alias = opt_string(&body, "alias")?;
    let description = opt_string(&body, "description")?;
    let config = match body.get("config") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(other) => {
            return Err(ApiError::invalid(
                "config",
                format!(
                    "invalid config: expected an object, found {}",
                    type_name(other)
                ),
            ))
        }
    };
    let mut fields = Map::new();
    for (k, v) in body {
        if NOT_CONFIG.contains(&k.as_str()) {
            continue;
        }
        match k.as_str() {
            // LiteLLM's API name for a server's access groups.
            "mcp_access_groups" => {
                fields.insert("access_groups".into(), v);
            }
            // LiteLLM's API groups credentials in one object.
            "credentials" => match v {
                Value::Object(m) => fields.extend(m),
                Value::Null => {}
                other => {
                    return Err(ApiError::invalid(
                        "credentials",
                        format!(
                            "invalid credentials: expected an object, found {}",
                            type_name(&other)
                        ),
                    ))
                }
            },
            _ => {
                fields.insert(k, v);
            }
        }
    }
    Ok(ServerInput {
        server_id,
        server_name,
        alias,
        description,
        config,
        fields,
    })
}

/// Refuses a name or alias that a configuration-file server uses (as name or prefix).
fn check_free_of_file(
    file: &GatewayConfig,
    name: &str,
    alias: Option<&str>,
) -> Result<(), ApiError> {
    for (field, wanted) in std::iter::once(("server_name", name)).chain(alias.map(|a| ("alias", a)))
    {
        for existing in file.mcp_servers.keys() {
            if existing.eq_ignore_ascii_case(wanted)
                || file.prefix_of(existing).eq_ignore_ascii_case(wanted)
            {
                return Err(ApiError::Conflict(format!(
                    "{field} `{wanted}` is already used by server `{existing}` of the configuration file"
                )));
            }
        }
    }
    Ok(())
}

/// Validates a server as the gateway will load it (`stored::load_database_server`: the
/// operator's host policy, then `load_config` on `{"mcp_servers": {name: config +
/// alias}}` with only the allowed `os.environ/` names visible), then resolves its URLs
/// and checks every address.
async fn validate_config(
    host: &HostPolicy,
    name: &str,
    alias: Option<&str>,
    config: &Map<String, Value>,
) -> Result<(), ApiError> {
    let parsed = load_database_server(name, alias, config, host).map_err(|e| match e {
        DatabaseServerError::Config(e) => from_server_config(name, e),
        DatabaseServerError::Host(g) => ApiError::Invalid {
            field: g.field,
            message: g.message,
        },
    })?;
    for server in parsed.mcp_servers.values() {
        host.check_addresses(server)
            .await
            .map_err(|g| ApiError::Invalid {
                field: g.field,
                message: g.message,
            })?;
    }
    Ok(())
}

/// `alias` and `description` are record fields; a copy inside `config` is moved out.
fn take_record_fields(config: &mut Map<String, Value>) -> (Option<String>, Option<String>) {
    let mut take = |f: &str| match config.remove(f) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    (take("alias"), take("description"))
}

/// `POST /v1/mcp/server`: LiteLLM's flat body (`server_name`, `alias`, `description`,
/// `url`, `transport`, `auth_type`, `credentials`, `mcp_access_groups`, …) or
/// `{"server_name", "alias", "description", "config": {...}}` → the server (redacted).
pub async fn create(state: &AppState, req: &AdminRequest) -> AdminResult {
    req.require_master()?;
    let input = server_input(req.object()?)?;
    let name = input
        .server_name
        .clone()
        .ok_or_else(|| ApiError::missing("server_name"))?;
    let mut config = input.config.unwrap_or_default();
    for (k, v) in input.fields {
        if !v.is_null() {
            config.insert(k, v);
        }
    }
    let (config_alias, config_description) = take_record_fields(&mut config);
    let alias = input.alias.flatten().or(config_alias);
    let description = input.description.flatten().or(config_description);
    let runtime = state.runtime();
    check_free_of_file(&runtime.file_config, &name, alias.as_deref())?;
    validate_config(&state.host, &name, alias.as_deref(), &config).await?;
    let record = state
        .store
        .create_mcp_server(NewMcpServer {
            server_id: input.server_id,
            server_name: name,
            alias,
            description,
            config,
        })
        .await?;
    state.refresh_from_store().await;
    ok(&database_entry(&state.runtime(), record).view())
}

/// `PUT /v1/mcp/server`: `{"server_id": id or name, …}`. Flat fields are merged into the
/// stored configuration (`null` removes one); `config` replaces it whole. Redaction
/// markers sent back unchanged keep the stored secrets.
pub async fn update(state: &AppState, req: &AdminRequest) -> AdminResult {
    req.require_master()?;
    let body = req.object()?;
    let ident = required_str(&body, "server_id")?.to_string();
    let runtime = state.runtime();
    let record = find_database_server(state, &runtime, &ident).await?;
    let input = server_input(body)?;
    let mut config = input.config.unwrap_or_else(|| record.config.clone());
    for (k, v) in input.fields {
        if v.is_null() {
            config.remove(&k);
        } else {
            config.insert(k, v);
        }
    }
    restore_redacted(&mut config, &record.config);
    let (config_alias, config_description) = take_record_fields(&mut config);
    let name = input
        .server_name
        .unwrap_or_else(|| record.server_name.clone());
    let alias = match input.alias {
        Some(a) => a,
        None => config_alias.or_else(|| record.alias.clone()),
    };
    let description = match input.description {
        Some(d) => d,
        None => config_description.or_else(|| record.description.clone()),
    };
    check_free_of_file(&runtime.file_config, &name, alias.as_deref())?;
    validate_config(&state.host, &name, alias.as_deref(), &config).await?;
    let updated = state
        .store
        .update_mcp_server(
            &record.server_id,
            McpServerPatch {
                server_name: Some(name),
                alias: Some(alias),
                description: Some(description),
                config: Some(config),
            },
        )
        .await?;
    state.refresh_from_store().await;
    ok(&database_entry(&state.runtime(), updated).view())
}

/// `DELETE /v1/mcp/server/{id or name}` → the deleted server (redacted).
pub async fn delete(state: &AppState, req: &AdminRequest, ident: &str) -> AdminResult {
    req.require_master()?;
    let runtime = state.runtime();
    let record = find_database_server(state, &runtime, ident).await?;
    let deleted = state.store.delete_mcp_server(&record.server_id).await?;
    state.refresh_from_store().await;
    let mut entry = database_entry(&state.runtime(), deleted);
    entry.active = false;
    ok(&entry.view())
}

/// A database server by id, else by name or alias. A configuration-file server is a 409
/// (change it in the file), anything else a 404.
async fn find_database_server(
    state: &AppState,
    runtime: &Runtime,
    ident: &str,
) -> Result<McpServerRecord, ApiError> {
    match state.store.get_mcp_server(ident).await {
        Ok(r) => return Ok(r),
        Err(StoreError::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    match state.store.find_mcp_server(ident).await {
        Ok(r) => return Ok(r),
        Err(StoreError::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    if config_entries(runtime).iter().any(|e| e.matches(ident)) {
        return Err(ApiError::Conflict(format!(
            "MCP server `{ident}` comes from the configuration file; change it there"
        )));
    }
    Err(server_not_found(ident))
}

pub fn server_not_found(ident: &str) -> ApiError {
    ApiError::NotFound {
        code: "server_not_found",
        message: format!("MCP server `{ident}` not found"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flat_litellm_bodies_become_a_config() {
        let body = json!({
            "server_name": "web", "alias": "w", "url": "http://h/mcp", "transport": "http",
            "mcp_access_groups": ["dev"], "credentials": {"auth_value": "tok"},
            "status": "active", "created_at": "x",
        });
        let input = server_input(body.as_object().cloned().unwrap()).unwrap();
        assert_eq!(input.server_name.as_deref(), Some("web"));
        assert_eq!(input.alias, Some(Some("w".into())));
        assert_eq!(
            Value::Object(input.fields),
            json!({"url": "http://h/mcp", "transport": "http", "access_groups": ["dev"], "auth_value": "tok"})
        );
    }

    fn validate_config(
        name: &str,
        alias: Option<&str>,
        config: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(super::validate_config(
            &HostPolicy::default(),
            name,
            alias,
            config,
        ))
    }

    #[test]
    fn validation_names_the_field_and_file_names_are_reserved() {
        let cfg = json!({"url": "http://h/mcp", "transport": "carrier-pigeon"});
        let e = validate_config("web", None, cfg.as_object().unwrap()).unwrap_err();
        assert!(
            matches!(&e, ApiError::Invalid { field, .. } if field == "transport"),
            "{e:?}"
        );
        let cfg = json!({"url": "http://h/mcp", "trasport": "http"});
        let e = validate_config("web", None, cfg.as_object().unwrap()).unwrap_err();
        assert!(
            matches!(&e, ApiError::Invalid { field, .. } if field == "trasport"),
            "{e:?}"
        );
        let ok_cfg = json!({"url": "http://93.184.216.34/mcp", "transport": "http"});
        validate_config("web", Some("w"), ok_cfg.as_object().unwrap()).unwrap();

        let file = GatewayConfig::parse(
            "mcp_servers:\n  github_mcp: {url: 'http://h/mcp', transport: http, alias: gh}\n",
        )
        .unwrap();
        assert!(matches!(
            check_free_of_file(&file, "GH", None),
            Err(ApiError::Conflict(_))
        ));
        assert!(matches!(
            check_free_of_file(&file, "x", Some("github_mcp")),
            Err(ApiError::Conflict(_))
        ));
        check_free_of_file(&file, "other", Some("o")).unwrap();
    }

    #[test]
    fn config_ids_are_stable_and_views_redacted() {
        let s = ServerConfig {
            url: Some("http://h/mcp".into()),
            auth_value: Some("tok".into()),
            ..Default::default()
        };
        assert_eq!(
            config_server_id("a", &s, None),
            config_server_id("a", &s, None)
        );
        assert_eq!(config_server_id("a", &s, None).len(), 32);
        assert_ne!(
            config_server_id("a", &s, None),
            config_server_id("b", &s, None)
        );
        let entry = ServerEntry {
            id: "id".into(),
            name: "a".into(),
            alias: None,
            description: None,
            source: Source::Config,
            active: true,
            config: serde_json::to_value(&s)
                .unwrap()
                .as_object()
                .cloned()
                .unwrap(),
            record: None,
        };
        let v = entry.view();
        assert!(!v.to_string().contains("tok"), "{v}");
        assert_eq!(v["source"], "config");
    }
}
