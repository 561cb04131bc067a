//! Who may reach which servers and tools: LiteLLM's permission rules for keys, teams
//! and organizations, as pure functions over plain inputs (the sidecar maps its
//! database records onto these).
//!
//! Servers: key grants (servers ∪ servers of its access groups), intersected with the
//! team's when both are set, inherited from the team when the key sets none; then the
//! organization narrows (or, when nothing below is set, decides); `allow_all_keys`
//! servers are added; no grants → no servers. Unlike LiteLLM, tool permissions never
//! grant a server (LiteLLM issue #33397): they only restrict tools of granted servers.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

use crate::config::GatewayConfig;

/// LiteLLM's `object_permission` MCP fields. `None` = not set; `Some(vec![])` = nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants {
    #[serde(default)]
    pub mcp_servers: Option<Vec<String>>,
    #[serde(default)]
    pub mcp_access_groups: Option<Vec<String>>,
    /// server (name, alias or id) → allowed bare tool names.
    #[serde(default)]
    pub mcp_tool_permissions: Option<BTreeMap<String, Vec<String>>>,
}

impl Grants {
    /// True when neither servers nor access groups are set.
    pub fn sets_no_servers(&self) -> bool {
        self.mcp_servers.is_none() && self.mcp_access_groups.is_none()
    }
}

/// The servers a deployment knows: name, prefix (alias or name), access groups,
/// `allow_all_keys`. Built from config plus database servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerCatalogEntry {
    pub name: String,
    pub prefix: String,
    pub access_groups: Vec<String>,
    pub allow_all_keys: bool,
}

pub fn catalog_from_config(config: &GatewayConfig) -> Vec<ServerCatalogEntry> {
    config
        .mcp_servers
        .iter()
        .map(|(name, s)| ServerCatalogEntry {
            name: name.clone(),
            prefix: config.prefix_of(name),
            access_groups: s.access_groups.clone(),
            allow_all_keys: s.allow_all_keys,
        })
        .collect()
}

/// Expands one grant set to server names: listed servers (by name or alias,
/// case-insensitive) ∪ servers in the listed access groups. None when not set.
pub fn expand(grants: &Grants, catalog: &[ServerCatalogEntry]) -> Option<BTreeSet<String>> {
    if grants.sets_no_servers() {
        return None;
    }
    let mut out = BTreeSet::new();
    for wanted in grants.mcp_servers.iter().flatten() {
        for s in catalog {
            if s.name.eq_ignore_ascii_case(wanted) || s.prefix.eq_ignore_ascii_case(wanted) {
                out.insert(s.name.clone());
            }
        }
    }
    for group in grants.mcp_access_groups.iter().flatten() {
        for s in catalog {
            if s.access_groups
                .iter()
                .any(|g| g.eq_ignore_ascii_case(group))
            {
                out.insert(s.name.clone());
            }
        }
    }
    Some(out)
}

/// The servers a key may reach. `team`/`org` are None when the key has none.
pub fn allowed_servers(
    key: &Grants,
    team: Option<&Grants>,
    org: Option<&Grants>,
    catalog: &[ServerCatalogEntry],
) -> BTreeSet<String> {
    let key_set = expand(key, catalog);
    let team_set = team.and_then(|t| expand(t, catalog));
    let lower = match (key_set, team_set) {
        (Some(k), Some(t)) => Some(k.intersection(&t).cloned().collect()),
        (Some(k), None) => Some(k),
        (None, Some(t)) => Some(t),
        (None, None) => None,
    };
    let org_set = org.and_then(|o| expand(o, catalog));
    let mut allowed: BTreeSet<String> = match (lower, org_set) {
        (Some(l), Some(o)) => l.intersection(&o).cloned().collect(),
        (Some(l), None) => l,
        (None, Some(o)) => o,
        (None, None) => BTreeSet::new(),
    };
    allowed.extend(
        catalog
            .iter()
            .filter(|s| s.allow_all_keys)
            .map(|s| s.name.clone()),
    );
    allowed
}

/// Tool permissions per server name: key ∩ team when both set; else whichever is
/// set; then ∩ organization. A server absent from the result is unrestricted.
pub fn tool_permissions(
    key: &Grants,
    team: Option<&Grants>,
    org: Option<&Grants>,
    catalog: &[ServerCatalogEntry],
) -> BTreeMap<String, BTreeSet<String>> {
    let normalize = |g: Option<&Grants>| -> Option<BTreeMap<String, BTreeSet<String>>> {
        let perms = g?.mcp_tool_permissions.as_ref()?;
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (server, tools) in perms {
            let Some(s) = catalog.iter().find(|s| {
                s.name.eq_ignore_ascii_case(server) || s.prefix.eq_ignore_ascii_case(server)
            }) else {
                continue;
            };
            out.entry(s.name.clone())
                .or_default()
                .extend(tools.iter().map(|t| t.to_ascii_lowercase()));
        }
        Some(out)
    };
    let combine = |a: Option<BTreeMap<String, BTreeSet<String>>>,
                   b: Option<BTreeMap<String, BTreeSet<String>>>| match (a, b) {
        (Some(a), Some(b)) => {
            let mut out = a.clone();
            for (server, tools) in b {
                match out.get_mut(&server) {
                    Some(existing) => *existing = existing.intersection(&tools).cloned().collect(),
                    None => {
                        out.insert(server, tools);
                    }
                }
            }
            Some(out)
        }
        (a, None) => a,
        (None, b) => b,
    };
    combine(
        combine(normalize(Some(key)), normalize(team)),
        normalize(org),
    )
    .unwrap_or_default()
}

/// The argument names of a call that `allowed_params` forbids (empty when all pass).
pub fn disallowed_params<'a>(
    allowed_params: &BTreeMap<String, Vec<String>>,
    tool: &str,
    argument_names: impl Iterator<Item = &'a str>,
) -> Vec<&'a str> {
    let Some(allowed) = allowed_params
        .iter()
        .find(|(t, _)| t.eq_ignore_ascii_case(tool))
        .map(|(_, p)| p)
    else {
        return Vec::new();
    };
    argument_names
        .filter(|a| !allowed.iter().any(|p| p == a))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Vec<ServerCatalogEntry> {
        let s = |name: &str, prefix: &str, groups: &[&str], all: bool| ServerCatalogEntry {
            name: name.into(),
            prefix: prefix.into(),
            access_groups: groups.iter().map(|g| g.to_string()).collect(),
            allow_all_keys: all,
        };
        vec![
            s("github_mcp", "github", &["dev"], false),
            s("jira", "jira", &["dev", "ops"], false),
            s("pager", "pager", &["ops"], false),
            s("docs", "docs", &[], true),
        ]
    }

    fn g(servers: Option<&[&str]>, groups: Option<&[&str]>) -> Grants {
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        Grants {
            mcp_servers: servers.map(v),
            mcp_access_groups: groups.map(v),
            mcp_tool_permissions: None,
        }
    }

    fn names(set: BTreeSet<String>) -> Vec<String> {
        set.into_iter().collect()
    }

    #[test]
    fn key_grants_union_servers_and_groups() {
        let c = catalog();
        let key = g(Some(&["GitHub"]), Some(&["ops"]));
        assert_eq!(
            names(allowed_servers(&key, None, None, &c)),
            ["docs", "github_mcp", "jira", "pager"]
        );
    }

    #[test]
    fn team_intersects_or_is_inherited() {
        let c = catalog();
        let key = g(Some(&["github", "pager"]), None);
        let team = g(None, Some(&["dev"]));
        assert_eq!(
            names(allowed_servers(&key, Some(&team), None, &c)),
            ["docs", "github_mcp"]
        );
        assert_eq!(
            names(allowed_servers(&Grants::default(), Some(&team), None, &c)),
            ["docs", "github_mcp", "jira"]
        );
        // A team without MCP settings does not restrict the key.
        assert_eq!(
            names(allowed_servers(&key, Some(&Grants::default()), None, &c)),
            ["docs", "github_mcp", "pager"]
        );
    }

    #[test]
    fn organization_narrows_or_decides() {
        let c = catalog();
        let org = g(Some(&["jira", "pager"]), None);
        let key = g(None, Some(&["dev"]));
        assert_eq!(
            names(allowed_servers(&key, None, Some(&org), &c)),
            ["docs", "jira"]
        );
        assert_eq!(
            names(allowed_servers(&Grants::default(), None, Some(&org), &c)),
            ["docs", "jira", "pager"]
        );
    }

    #[test]
    fn no_grants_sees_only_allow_all_keys_and_empty_list_means_nothing() {
        let c = catalog();
        assert_eq!(
            names(allowed_servers(&Grants::default(), None, None, &c)),
            ["docs"]
        );
        let team = g(Some(&["jira"]), None);
        let key = g(Some(&[]), None);
        assert_eq!(
            names(allowed_servers(&key, Some(&team), None, &c)),
            ["docs"]
        );
    }

    #[test]
    fn tool_permissions_intersect_and_never_grant() {
        let c = catalog();
        let mut key = g(Some(&["jira"]), None);
        key.mcp_tool_permissions = Some(
            [
                ("jira".to_string(), vec!["Search".into(), "get".into()]),
                ("pager".to_string(), vec!["page".into()]),
            ]
            .into(),
        );
        let team = Grants {
            mcp_tool_permissions: Some([("JIRA".to_string(), vec!["search".into()])].into()),
            ..Default::default()
        };
        let perms = tool_permissions(&key, Some(&team), None, &c);
        assert_eq!(perms["jira"], BTreeSet::from(["search".to_string()]));
        assert_eq!(perms["pager"], BTreeSet::from(["page".to_string()]));
        assert!(
            !allowed_servers(&key, Some(&team), None, &c).contains("pager"),
            "tool permissions grant nothing"
        );
        assert!(tool_permissions(&Grants::default(), None, None, &c).is_empty());
    }

    #[test]
    fn allowed_params() {
        let rules: BTreeMap<String, Vec<String>> =
            [("search".to_string(), vec!["query".to_string()])].into();
        assert_eq!(
            disallowed_params(&rules, "Search", ["query", "limit"].into_iter()),
            vec!["limit"]
        );
        assert!(disallowed_params(&rules, "other", ["x"].into_iter()).is_empty());
    }
}

/// A virtual key as the permission compiler needs it.
#[derive(Debug, Clone, Default)]
pub struct KeyInput {
    pub hash: String,
    /// LiteLLM's `key_alias` (what hooks and logs name the key by).
    pub key_alias: Option<String>,
    pub grants: Grants,
    pub team_id: Option<String>,
    pub organization_id: Option<String>,
    pub blocked: bool,
    pub expires_ms: Option<u64>,
    pub rpm_limit: Option<u32>,
    /// Guardrail names attached to the key (LiteLLM's `guardrails` on `/key/generate`).
    pub guardrails: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct TeamInput {
    pub grants: Grants,
    pub organization_id: Option<String>,
    pub blocked: bool,
    pub rpm_limit: Option<u32>,
    /// Guardrail names attached to the team (`guardrails` on `/team/new`).
    pub guardrails: Vec<String>,
}

/// What the sidecar keeps per key principal (the filter only needs servers).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPolicy {
    /// server name → allowed bare tool names (lowercase); absent = unrestricted.
    pub tool_permissions: BTreeMap<String, BTreeSet<String>>,
    pub team_id: Option<String>,
    pub key_alias: Option<String>,
    /// The key's organization, else its team's.
    pub organization_id: Option<String>,
    /// Guardrail names attached to the key or its team (key's first, each once): the
    /// sidecar selects its guardrails with them as the filter does with
    /// `SnapshotKey::guardrails`.
    pub guardrails: Vec<String>,
}

/// The key's guardrail names, then its team's, each once.
fn attached_guardrails(key: &KeyInput, team: Option<&TeamInput>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in key
        .guardrails
        .iter()
        .chain(team.into_iter().flat_map(|t| t.guardrails.iter()))
    {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

/// The principal id signed for a key: a prefix of its hash (enough to be unique, short
/// in headers, useless to an attacker).
pub fn key_id(hash: &str) -> String {
    hash.chars().take(16).collect()
}

/// Resolves every key against its team and organization: the filter's snapshot keys
/// (server indices follow `catalog`'s order) and the sidecar's per-key tool policy.
pub fn compile_keys(
    keys: &[KeyInput],
    teams: &std::collections::HashMap<String, TeamInput>,
    orgs: &std::collections::HashMap<String, Grants>,
    catalog: &[ServerCatalogEntry],
) -> (
    Vec<crate::snapshot::SnapshotKey>,
    std::collections::HashMap<String, KeyPolicy>,
) {
    let mut snapshot_keys = Vec::with_capacity(keys.len());
    let mut policies = std::collections::HashMap::with_capacity(keys.len());
    for key in keys {
        let team = key.team_id.as_ref().and_then(|t| teams.get(t));
        let org_id = key
            .organization_id
            .as_ref()
            .or(team.and_then(|t| t.organization_id.as_ref()));
        let org = org_id.and_then(|o| orgs.get(o));
        let servers = allowed_servers(&key.grants, team.map(|t| &t.grants), org, catalog);
        let indices = catalog
            .iter()
            .enumerate()
            .filter(|(_, s)| servers.contains(&s.name))
            .filter_map(|(i, _)| u16::try_from(i).ok())
            .collect();
        let id = key_id(&key.hash);
        let guardrails = attached_guardrails(key, team);
        snapshot_keys.push(crate::snapshot::SnapshotKey {
            hash: key.hash.clone(),
            id: id.clone(),
            servers: indices,
            expires_ms: key.expires_ms,
            blocked: key.blocked || team.is_some_and(|t| t.blocked),
            rpm_limit: key.rpm_limit.or(team.and_then(|t| t.rpm_limit)),
            guardrails: guardrails.clone(),
            // Set by the sidecar from the spend it reads (`PolicySnapshot::set_budgets`).
            budget_exceeded: None,
        });
        policies.insert(
            id,
            KeyPolicy {
                tool_permissions: tool_permissions(
                    &key.grants,
                    team.map(|t| &t.grants),
                    org,
                    catalog,
                ),
                team_id: key.team_id.clone(),
                key_alias: key.key_alias.clone(),
                organization_id: org_id.cloned(),
                guardrails,
            },
        );
    }
    (snapshot_keys, policies)
}

#[cfg(test)]
mod compile_tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn keys_inherit_team_block_limit_and_org() {
        let catalog = vec![
            ServerCatalogEntry {
                name: "a".into(),
                prefix: "a".into(),
                access_groups: vec![],
                allow_all_keys: false,
            },
            ServerCatalogEntry {
                name: "b".into(),
                prefix: "b".into(),
                access_groups: vec!["g".into()],
                allow_all_keys: false,
            },
        ];
        let team = TeamInput {
            grants: Grants {
                mcp_servers: Some(vec!["a".into(), "b".into()]),
                ..Default::default()
            },
            organization_id: Some("o".into()),
            blocked: true,
            rpm_limit: Some(7),
            guardrails: vec!["team-g".into(), "both".into()],
        };
        let org = Grants {
            mcp_access_groups: Some(vec!["g".into()]),
            ..Default::default()
        };
        let key = KeyInput {
            hash: "ab".repeat(32),
            team_id: Some("t".into()),
            guardrails: vec!["both".into(), "key-g".into()],
            ..Default::default()
        };
        let (keys, policies) = compile_keys(
            &[key],
            &HashMap::from([("t".to_string(), team)]),
            &HashMap::from([("o".to_string(), org)]),
            &catalog,
        );
        assert_eq!(keys[0].servers, vec![1]);
        assert!(keys[0].blocked);
        assert_eq!(keys[0].rpm_limit, Some(7));
        assert_eq!(keys[0].id.len(), 16);
        // The key's guardrails then its team's, each once, the same for filter and sidecar.
        assert_eq!(keys[0].guardrails, ["both", "key-g", "team-g"]);
        assert_eq!(policies[&keys[0].id].guardrails, keys[0].guardrails);
        assert_eq!(policies[&keys[0].id].team_id.as_deref(), Some("t"));
    }
}
