//! The database, in policy terms: store records → `meshgate_policy::compile::Stored` (the
//! pure compile lives in policy). Stored servers are loaded here, through the operator's
//! host policy, because that needs the sidecar's environment.

use std::collections::HashMap;

use meshgate_policy::compile::{self, Compiled, Stored};
use meshgate_policy::grants::{Grants, KeyInput, TeamInput};
use meshgate_policy::{load_config, GatewayConfig};
use meshgate_store::{ObjectPermission, Snapshot};

use crate::guard::HostPolicy;

/// Compiles the file's configuration with the database's records; what is left out is
/// logged.
pub fn compile(file_config: &GatewayConfig, db: &Snapshot, host: &HostPolicy) -> Compiled {
    let compiled = compile::compile(file_config, &stored(db, host));
    for name in &compiled.shadowed {
        tracing::warn!(server = %name, "database server left out: the configuration file already has a server with this name or prefix");
    }
    compiled
}

/// The database's keys, teams, organizations and loadable servers.
pub fn stored(db: &Snapshot, host: &HostPolicy) -> Stored {
    let keys = db
        .keys
        .iter()
        .map(|k| KeyInput {
            hash: k.token.to_ascii_lowercase(),
            key_alias: k.key_alias.clone(),
            grants: grants_of(&k.object_permission),
            team_id: k.team_id.clone(),
            organization_id: k.organization_id.clone(),
            blocked: k.blocked,
            expires_ms: k.expires.map(|e| e.timestamp_millis().max(0) as u64),
            rpm_limit: k.rpm_limit.and_then(|r| u32::try_from(r).ok()),
            guardrails: k.guardrails.clone(),
        })
        .collect();
    let teams: HashMap<String, TeamInput> = db
        .teams
        .iter()
        .map(|t| {
            let input = TeamInput {
                grants: grants_of(&t.object_permission),
                organization_id: t.organization_id.clone(),
                blocked: t.blocked,
                rpm_limit: t.rpm_limit.and_then(|r| u32::try_from(r).ok()),
                guardrails: t.guardrails.clone(),
            };
            (t.team_id.clone(), input)
        })
        .collect();
    let organizations = db
        .organizations
        .iter()
        .map(|o| (o.organization_id.clone(), grants_of(&o.object_permission)))
        .collect();
    let servers = db
        .mcp_servers
        .iter()
        .filter_map(|record| {
            load_database_server(
                &record.server_name,
                record.alias.as_deref(),
                &record.config,
                host,
            )
            .inspect_err(|e| {
                tracing::warn!(server = %record.server_name, "database server left out: {e}");
            })
            .ok()
        })
        .collect();
    Stored {
        keys,
        teams,
        organizations,
        servers,
    }
}

/// Key principal id (`grants::key_id`) → who the key is, for its spend rows.
pub fn identities(db: &Snapshot) -> HashMap<String, crate::spend::record::KeyIdentity> {
    db.keys
        .iter()
        .map(|k| {
            let hash = k.token.to_ascii_lowercase();
            let identity = crate::spend::record::KeyIdentity {
                hash: hash.clone(),
                key_alias: k.key_alias.clone(),
                team_id: k.team_id.clone(),
                organization_id: k.organization_id.clone(),
                user_id: k.user_id.clone(),
            };
            (meshgate_policy::grants::key_id(&hash), identity)
        })
        .collect()
}

fn grants_of(p: &ObjectPermission) -> Grants {
    Grants {
        mcp_servers: p.mcp_servers.clone(),
        mcp_access_groups: p.mcp_access_groups.clone(),
        mcp_tool_permissions: p.mcp_tool_permissions.clone(),
    }
}

/// Why a database server cannot be served.
#[derive(Debug)]
pub enum DatabaseServerError {
    Config(meshgate_policy::ConfigError),
    Host(crate::guard::GuardError),
}

impl std::fmt::Display for DatabaseServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseServerError::Config(e) => write!(f, "{e}"),
            DatabaseServerError::Host(e) => write!(f, "{}", e.message),
        }
    }
}

/// A database server as the gateway runs it: `os.environ/` names checked against the
/// operator's list before anything is looked up, `load_config` on `{"mcp_servers":
/// {name: config + alias}}` with only listed variables visible, then the host checks
/// (which may rewrite a local `spec_path` to its canonical form).
pub fn load_database_server(
    name: &str,
    alias: Option<&str>,
    stored: &serde_json::Map<String, serde_json::Value>,
    host: &HostPolicy,
) -> Result<GatewayConfig, DatabaseServerError> {
    host.check_env_refs(stored)
        .map_err(DatabaseServerError::Host)?;
    let mut entry = stored.clone();
    if let Some(alias) = alias {
        entry
            .entry("alias")
            .or_insert_with(|| serde_json::Value::String(alias.to_string()));
    }
    let doc = serde_json::json!({"mcp_servers": {name: entry}});
    let mut parsed =
        load_config(&doc.to_string(), Some(&host.env())).map_err(DatabaseServerError::Config)?;
    for server in parsed.mcp_servers.values_mut() {
        *server = host
            .check_server(server)
            .map_err(DatabaseServerError::Host)?;
    }
    Ok(parsed)
}
