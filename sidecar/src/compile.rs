//! Configuration + database → what is enforced: the effective server list (config
//! servers, then database servers whose names are free), the filter's policy snapshot
//! (virtual keys with their servers resolved) and the sidecar's per-key tool policy.

use std::collections::{HashMap, HashSet};

use meshgate_policy::grants::{self, catalog_from_config, Grants, KeyInput, KeyPolicy, TeamInput};
use meshgate_policy::{load_config, GatewayConfig, PolicySnapshot};
use meshgate_store::{ObjectPermission, Snapshot};

use crate::guard::HostPolicy;

pub struct Compiled {
    pub config: GatewayConfig,
    pub snapshot: PolicySnapshot,
    pub principals: HashMap<String, KeyPolicy>,
    /// Names of the servers that came from the database (they run restricted).
    pub database_servers: HashSet<String>,
}

pub fn compile(file_config: &GatewayConfig, db: &Snapshot, host: &HostPolicy) -> Compiled {
    let (mut config, database_servers) = with_database_servers(file_config, db, host);
    // A gateway-wide setting each OpenAPI server is built with (and restarted on change).
    let naming = config.meshgate.openapi_tool_names;
    for server in config.mcp_servers.values_mut() {
        server.openapi_tool_names = naming;
    }
    let catalog = catalog_from_config(&config);
    let keys: Vec<KeyInput> = db
        .keys
        .iter()
        .map(|k| KeyInput {
            hash: k.token.to_ascii_lowercase(),
            grants: grants_of(&k.object_permission),
            team_id: k.team_id.clone(),
            organization_id: k.organization_id.clone(),
            blocked: k.blocked,
            expires_ms: k.expires.map(|e| e.timestamp_millis().max(0) as u64),
            rpm_limit: k.rpm_limit.and_then(|r| u32::try_from(r).ok()),
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
            };
            (t.team_id.clone(), input)
        })
        .collect();
    let orgs: HashMap<String, Grants> = db
        .organizations
        .iter()
        .map(|o| (o.organization_id.clone(), grants_of(&o.object_permission)))
        .collect();
    let (snapshot_keys, principals) = grants::compile_keys(&keys, &teams, &orgs, &catalog);
    let snapshot = PolicySnapshot::compile_with_keys(&config, snapshot_keys);
    Compiled {
        config,
        snapshot,
        principals,
        database_servers,
    }
}

fn grants_of(p: &ObjectPermission) -> Grants {
    Grants {
        mcp_servers: p.mcp_servers.clone(),
        mcp_access_groups: p.mcp_access_groups.clone(),
        mcp_tool_permissions: p.mcp_tool_permissions.clone(),
    }
}

/// Adds the database's MCP servers (`/v1/mcp/server`) to the configuration's. A
/// database server whose name or prefix the file already uses, whose stored config no
/// longer validates, or that the operator's host policy refuses (`crate::guard`: stdio
/// command, `os.environ/` names, spec file, literal addresses) is left out with a warning.
fn with_database_servers(
    file: &GatewayConfig,
    db: &Snapshot,
    host: &HostPolicy,
) -> (GatewayConfig, HashSet<String>) {
    let mut config = file.clone();
    let mut added = HashSet::new();
    for record in &db.mcp_servers {
        let parsed = match load_database_server(
            &record.server_name,
            record.alias.as_deref(),
            &record.config,
            host,
        ) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(server = %record.server_name, "database server left out: {e}");
                continue;
            }
        };
        for (name, server) in parsed.mcp_servers {
            let prefix = server.alias.clone().unwrap_or_else(|| name.clone());
            let taken = config.mcp_servers.keys().any(|n| {
                n.eq_ignore_ascii_case(&name) || config.prefix_of(n).eq_ignore_ascii_case(&prefix)
            });
            if taken {
                tracing::warn!(server = %name, "database server left out: the configuration file already has a server with this name or prefix");
                continue;
            }
            added.insert(name.clone());
            config.mcp_servers.insert(name, server);
        }
    }
    (config, added)
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
