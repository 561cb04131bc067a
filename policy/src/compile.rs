//! Configuration + database → what is enforced: the effective server list (the file's
//! servers, then database servers whose names are free), the filter's policy snapshot
//! (virtual keys with their servers resolved) and the sidecar's per-key tool policy.
//!
//! Pure: the sidecar reads the database and loads each stored server through its host
//! policy, then hands the results here as [`Stored`].

use std::collections::{HashMap, HashSet};

use crate::config::GatewayConfig;
use crate::grants::{catalog_from_config, compile_keys, Grants, KeyInput, KeyPolicy, TeamInput};
use crate::snapshot::PolicySnapshot;

/// What the database contributes, already in policy terms.
#[derive(Debug, Clone, Default)]
pub struct Stored {
    pub keys: Vec<KeyInput>,
    /// Team id → team.
    pub teams: HashMap<String, TeamInput>,
    /// Organization id → its grants.
    pub organizations: HashMap<String, Grants>,
    /// Each database server that loaded (as `{"mcp_servers": {name: …}}`), in store order.
    pub servers: Vec<GatewayConfig>,
}

#[derive(Debug, Clone)]
pub struct Compiled {
    /// The file's servers plus the database servers that were added.
    pub config: GatewayConfig,
    pub snapshot: PolicySnapshot,
    /// Key principal id → tool permissions.
    pub principals: HashMap<String, KeyPolicy>,
    /// Names of the servers that came from the database (they run restricted).
    pub database_servers: HashSet<String>,
    /// Database servers left out because the file (or an earlier database server)
    /// already uses their name or prefix.
    pub shadowed: Vec<String>,
}

pub fn compile(file: &GatewayConfig, stored: &Stored) -> Compiled {
    let (mut config, database_servers, shadowed) = with_database_servers(file, &stored.servers);
    // A gateway-wide setting each OpenAPI server is built with (and restarted on change).
    let naming = config.meshgate.openapi_tool_names;
    for server in config.mcp_servers.values_mut() {
        server.openapi_tool_names = naming;
    }
    let catalog = catalog_from_config(&config);
    let (snapshot_keys, principals) =
        compile_keys(&stored.keys, &stored.teams, &stored.organizations, &catalog);
    let snapshot = PolicySnapshot::compile_with_keys(&config, snapshot_keys);
    Compiled {
        config,
        snapshot,
        principals,
        database_servers,
        shadowed,
    }
}

/// Adds the database's servers to the file's; one whose name or prefix is already used
/// is left out (the file wins, then the earlier database server).
fn with_database_servers(
    file: &GatewayConfig,
    servers: &[GatewayConfig],
) -> (GatewayConfig, HashSet<String>, Vec<String>) {
    let mut config = file.clone();
    let mut added = HashSet::new();
    let mut shadowed = Vec::new();
    for parsed in servers {
        for (name, server) in &parsed.mcp_servers {
            let prefix = server.alias.clone().unwrap_or_else(|| name.clone());
            let taken = config.mcp_servers.keys().any(|n| {
                n.eq_ignore_ascii_case(name) || config.prefix_of(n).eq_ignore_ascii_case(&prefix)
            });
            if taken {
                shadowed.push(name.clone());
                continue;
            }
            added.insert(name.clone());
            config.mcp_servers.insert(name.clone(), server.clone());
        }
    }
    (config, added, shadowed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load_config;
    use crate::principal::Principal;
    use crate::scope::Scope;

    fn config(text: &str) -> GatewayConfig {
        load_config(text, None).unwrap()
    }

    fn file() -> GatewayConfig {
        config(
            "general_settings: {master_key: sk-master}\nmeshgate: {openapi_tool_names: litellm}\nmcp_servers:\n  github: {url: \"http://127.0.0.1:1/mcp\", transport: http, access_groups: [dev]}\n  jira: {url: \"http://127.0.0.1:2/mcp\", transport: http, alias: tickets}\n",
        )
    }

    fn db_server(name: &str, extra: &str) -> GatewayConfig {
        config(&format!(
            "mcp_servers:\n  {name}: {{url: \"http://127.0.0.1:3/mcp\", transport: http{extra}}}\n"
        ))
    }

    fn key(hash: &str, grants: Grants, team: Option<&str>) -> KeyInput {
        KeyInput {
            hash: hash.to_string(),
            grants,
            team_id: team.map(str::to_string),
            ..Default::default()
        }
    }

    fn servers(names: &[&str]) -> Grants {
        Grants {
            mcp_servers: Some(names.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn database_servers_follow_the_files_and_never_shadow_them() {
        let stored = Stored {
            servers: vec![
                db_server("web", ""),
                db_server("GitHub", ""),
                db_server("other", ", alias: tickets"),
                db_server("web", ", alias: web2"),
            ],
            ..Default::default()
        };
        let c = compile(&file(), &stored);
        let names: Vec<&str> = c.config.mcp_servers.keys().map(String::as_str).collect();
        assert_eq!(names, ["github", "jira", "web"]);
        assert_eq!(c.database_servers, HashSet::from(["web".to_string()]));
        assert_eq!(c.shadowed, ["GitHub", "other", "web"]);
        let snapshot_names: Vec<&str> =
            c.snapshot.servers.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(snapshot_names, names);
    }

    #[test]
    fn the_gateway_naming_setting_reaches_every_server() {
        let stored = Stored {
            servers: vec![db_server("web", "")],
            ..Default::default()
        };
        let c = compile(&file(), &stored);
        for server in c.config.mcp_servers.values() {
            assert_eq!(
                server.openapi_tool_names,
                c.config.meshgate.openapi_tool_names
            );
        }
    }

    #[test]
    fn keys_get_their_servers_through_team_and_organization() {
        let hash = |c: char| c.to_string().repeat(64);
        let tools = Grants {
            mcp_servers: Some(vec!["github".into()]),
            mcp_tool_permissions: Some([("github".to_string(), vec!["Search".to_string()])].into()),
            ..Default::default()
        };
        let stored = Stored {
            keys: vec![
                key(&hash('a'), servers(&["github"]), None),
                key(&hash('b'), Grants::default(), Some("t1")),
                key(&hash('c'), tools, None),
            ],
            teams: HashMap::from([(
                "t1".to_string(),
                TeamInput {
                    grants: servers(&["tickets"]),
                    blocked: true,
                    rpm_limit: Some(7),
                    ..Default::default()
                },
            )]),
            ..Default::default()
        };
        let c = compile(&file(), &stored);
        let by_id = |id: &str| c.snapshot.keys.iter().find(|k| k.id == id).unwrap();
        let a = by_id(&hash('a')[..16]);
        assert_eq!(a.servers, [0]);
        assert!(!a.blocked);
        let b = by_id(&hash('b')[..16]);
        assert_eq!(b.servers, [1], "the team's grant, by alias");
        assert!(b.blocked, "a blocked team blocks its keys");
        assert_eq!(b.rpm_limit, Some(7));
        let c_id = &hash('c')[..16];
        let tools = &c.principals[c_id].tool_permissions["github"];
        assert!(tools.contains("search"));
        // What the filter seals for such a key and the sidecar reads back.
        assert_eq!(
            Principal::Key(c_id.to_string()).encode(),
            format!("key:{c_id}")
        );
        assert!(Scope::only(&["github"]).allows("github"));
    }

    #[test]
    fn an_empty_database_compiles_the_file_alone() {
        let c = compile(&file(), &Stored::default());
        assert_eq!(c.config.mcp_servers.len(), 2);
        assert!(c.database_servers.is_empty() && c.shadowed.is_empty());
        assert!(c.snapshot.keys.is_empty() && c.principals.is_empty());
        assert!(c.snapshot.master_key_hash.is_some());
    }
}
