//! The policy snapshot: what the filter needs to decide a request inline, compiled by
//! the sidecar from the configuration (with secrets resolved and keys hashed) and
//! fetched by the filter. It never holds a plaintext secret.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::OnceLock;

use crate::auth::{hash_key, DEFAULT_KEY_HEADER};
use crate::config::GatewayConfig;
use crate::guardrails::{GuardrailSpec, Provider};

fn default_separator() -> String {
    crate::names::DEFAULT_SEPARATOR.to_string()
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PolicySnapshot {
    /// Changes whenever anything below changes (the sidecar's ETag).
    pub version: String,
    /// SHA-256 of the master key; None means no key can authenticate as master.
    pub master_key_hash: Option<String>,
    /// Header carrying the gateway key (LiteLLM's `litellm_key_header_name`).
    pub key_header: String,
    pub servers: Vec<SnapshotServer>,
    /// Between server prefix and tool name (`MCP_TOOL_PREFIX_SEPARATOR`, read by the
    /// sidecar), so `Mcp-Name` is split at header time as the sidecar splits the body.
    #[serde(default = "default_separator")]
    pub separator: String,
    /// Virtual keys with their grants already resolved (team, org, groups applied).
    #[serde(default)]
    pub keys: Vec<SnapshotKey>,
    /// The built-in (`meshgate`) guardrails, every mode: the filter compiles them once
    /// per snapshot and runs the `pre_mcp_call` ones inline. External guardrails are
    /// not here (their settings may hold secrets; the sidecar runs them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guardrails: Vec<GuardrailSpec>,
    /// Every configured guardrail name, built-in or not, so the filter can tell a name
    /// the sidecar runs from one that does not exist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guardrail_names: Vec<String>,
    /// hash → index into `keys`, built on first lookup.
    #[serde(skip)]
    index: OnceLock<HashMap<String, usize>>,
    /// id → index into `keys`, built on first lookup.
    #[serde(skip)]
    id_index: OnceLock<HashMap<String, usize>>,
}

impl PartialEq for PolicySnapshot {
    fn eq(&self, other: &Self) -> bool {
        self.version == other.version
            && self.master_key_hash == other.master_key_hash
            && self.key_header == other.key_header
            && self.servers == other.servers
            && self.separator == other.separator
            && self.keys == other.keys
            && self.guardrails == other.guardrails
            && self.guardrail_names == other.guardrail_names
    }
}

/// A virtual key as the filter needs it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SnapshotKey {
    /// SHA-256 hex of the key.
    pub hash: String,
    /// Short id signed as the principal ([`crate::Principal::Key`]); the sidecar finds
    /// the key's tool permissions by it.
    pub id: String,
    /// Indices into `PolicySnapshot::servers`.
    #[serde(default)]
    pub servers: Vec<u16>,
    /// Expiry, ms since the epoch.
    #[serde(default)]
    pub expires_ms: Option<u64>,
    /// The key or its team is blocked.
    #[serde(default)]
    pub blocked: bool,
    #[serde(default)]
    pub rpm_limit: Option<u32>,
    /// Guardrail names attached to the key and its team (key's first, each once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guardrails: Vec<String>,
    /// The key's, its team's or its organization's budget is used up: its tool calls
    /// are refused (`crate::budget`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_exceeded: Option<crate::budget::BudgetExceeded>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SnapshotServer {
    pub name: String,
    /// Alias or name: the tool-name prefix and the usual way clients name the server.
    pub prefix: String,
    #[serde(default)]
    pub access_groups: Vec<String>,
    #[serde(default)]
    pub allow_all_keys: bool,
    /// The server's tool rules, so the filter can refuse a call by `Mcp-Name` alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_tools: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disallowed_tools: Vec<String>,
}

impl PolicySnapshot {
    /// Compiles a snapshot from a configuration whose `os.environ/` values are resolved.
    pub fn compile(config: &GatewayConfig) -> Self {
        Self::compile_with_keys(config, Vec::new())
    }

    /// As [`PolicySnapshot::compile`], with virtual keys resolved by the caller.
    pub fn compile_with_keys(config: &GatewayConfig, keys: Vec<SnapshotKey>) -> Self {
        let servers = config
            .mcp_servers
            .iter()
            .map(|(name, s)| SnapshotServer {
                name: name.clone(),
                prefix: config.prefix_of(name),
                access_groups: s.access_groups.clone(),
                allow_all_keys: s.allow_all_keys,
                allowed_tools: s.allowed_tools.clone().unwrap_or_default(),
                disallowed_tools: s.disallowed_tools.clone().unwrap_or_default(),
            })
            .collect();
        let mut snapshot = PolicySnapshot {
            version: String::new(),
            master_key_hash: config
                .general_settings
                .master_key
                .as_deref()
                .filter(|k| !k.is_empty())
                .map(hash_key),
            key_header: config
                .general_settings
                .litellm_key_header_name
                .clone()
                .unwrap_or_else(|| DEFAULT_KEY_HEADER.to_string())
                .to_ascii_lowercase(),
            servers,
            separator: config.separator().to_string(),
            keys,
            guardrails: config
                .guardrail_specs
                .iter()
                .filter(|g| g.provider == Provider::Builtin)
                .cloned()
                .collect(),
            guardrail_names: config
                .guardrail_specs
                .iter()
                .map(|g| g.name.clone())
                .collect(),
            index: OnceLock::new(),
            id_index: OnceLock::new(),
        };
        snapshot.version = snapshot.content_hash();
        snapshot
    }

    /// Marks the keys whose budget is used up (`over(key hash)`) and moves the version.
    pub fn set_budgets(&mut self, over: impl Fn(&str) -> Option<crate::budget::BudgetExceeded>) {
        for key in &mut self.keys {
            key.budget_exceeded = over(&key.hash);
        }
        self.version = self.content_hash();
    }

    /// The virtual key with this SHA-256 hash.
    pub fn key_by_hash(&self, hash: &str) -> Option<&SnapshotKey> {
        let index = self.index.get_or_init(|| {
            self.keys
                .iter()
                .enumerate()
                .map(|(i, k)| (k.hash.clone(), i))
                .collect()
        });
        index.get(hash).and_then(|i| self.keys.get(*i))
    }

    /// The virtual key with this principal id.
    pub fn key_by_id(&self, id: &str) -> Option<&SnapshotKey> {
        let index = self.id_index.get_or_init(|| {
            self.keys
                .iter()
                .enumerate()
                .map(|(i, k)| (k.id.clone(), i))
                .collect()
        });
        index.get(id).and_then(|i| self.keys.get(*i))
    }

    /// Index of a server by name.
    pub fn server_index(&self, name: &str) -> Option<u16> {
        self.servers
            .iter()
            .position(|s| s.name == name)
            .and_then(|i| u16::try_from(i).ok())
    }

    /// A stable hash of the content, used as the version.
    fn content_hash(&self) -> String {
        let body = serde_json::to_vec(&(
            &self.master_key_hash,
            &self.key_header,
            &self.servers,
            &self.keys,
            &self.separator,
            &self.guardrails,
            &self.guardrail_names,
        ))
        .unwrap_or_default();
        hash_key(&String::from_utf8_lossy(&body))[..16].to_string()
    }

    /// Splits a tool or prompt name into (prefix, rest) as the sidecar does: with the
    /// configured separator, at the longest known prefix.
    pub fn split_name<'n>(&self, name: &'n str) -> Option<(&'n str, &'n str)> {
        crate::names::split_known(
            name,
            &self.separator,
            self.servers.iter().map(|s| s.prefix.as_str()),
        )
    }

    /// Finds a server by name, alias/prefix, case-insensitively.
    pub fn server_by_any_name(&self, name: &str) -> Option<&SnapshotServer> {
        self.servers
            .iter()
            .find(|s| s.prefix.eq_ignore_ascii_case(name) || s.name.eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compile_hashes_master_key_and_versions_content() {
        let cfg = GatewayConfig::parse(
            "general_settings: {master_key: sk-abc}\nmcp_servers:\n  github_mcp: {url: 'http://x/mcp', transport: http, alias: gh}\n",
        )
        .unwrap();
        let s = PolicySnapshot::compile(&cfg);
        assert_eq!(
            s.master_key_hash.as_deref(),
            Some(hash_key("sk-abc").as_str())
        );
        assert_eq!(s.servers[0].prefix, "gh");
        assert_eq!(s.key_header, "x-litellm-api-key");
        assert!(!serde_json::to_string(&s).unwrap().contains("sk-abc"));
        let again = PolicySnapshot::compile(&cfg);
        assert_eq!(s.version, again.version);
        // Keys are part of the version: a new, blocked or deleted key must reach the filter.
        let with_key = PolicySnapshot::compile_with_keys(
            &cfg,
            vec![SnapshotKey {
                hash: hash_key("sk-k"),
                id: "k".into(),
                ..Default::default()
            }],
        );
        assert_ne!(with_key.version, s.version);
        let mut blocked = with_key.keys.clone();
        blocked[0].blocked = true;
        assert_ne!(
            PolicySnapshot::compile_with_keys(&cfg, blocked).version,
            with_key.version
        );
        // The separator reaches the filter, and a change of it is a new version.
        assert_eq!(s.separator, "-");
        let mut underscored = cfg.clone();
        underscored.tool_separator = Some("__".into());
        let u = PolicySnapshot::compile(&underscored);
        assert_eq!(u.separator, "__");
        assert_ne!(u.version, s.version);
        assert_eq!(u.split_name("gh__a-b"), Some(("gh", "a-b")));
        let back: PolicySnapshot =
            serde_json::from_str(&serde_json::to_string(&u).unwrap()).unwrap();
        assert_eq!(back.separator, "__");
        let other = GatewayConfig::parse("general_settings: {master_key: sk-def}").unwrap();
        assert_ne!(PolicySnapshot::compile(&other).version, s.version);
    }

    #[test]
    fn builtin_guardrails_travel_and_external_ones_only_by_name() {
        let cfg = crate::load_config(
            "guardrails:\n  - guardrail_name: cards\n    litellm_params: {guardrail: meshgate, mode: pre_mcp_call, pii_entities_config: {CREDIT_CARD: BLOCK}}\n  - guardrail_name: ext\n    litellm_params: {guardrail: generic_guardrail_api, mode: pre_mcp_call, api_base: 'http://127.0.0.1:1', api_key: sk-secret-value}\n",
            None,
        )
        .unwrap();
        let s = PolicySnapshot::compile(&cfg);
        let names: Vec<&str> = s.guardrails.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["cards"]);
        assert_eq!(s.guardrail_names, ["cards", "ext"]);
        let text = serde_json::to_string(&s).unwrap();
        assert!(
            !text.contains("sk-secret-value"),
            "external settings stay in the sidecar"
        );
        let back: PolicySnapshot = serde_json::from_str(&text).unwrap();
        assert_eq!(back, s);
        let plain = PolicySnapshot::compile(&GatewayConfig::parse("{}").unwrap());
        assert_ne!(plain.version, s.version);
        let key = SnapshotKey {
            id: "k1".into(),
            guardrails: vec!["cards".into()],
            ..Default::default()
        };
        let with_key = PolicySnapshot::compile_with_keys(&cfg, vec![key]);
        assert_eq!(with_key.key_by_id("k1").unwrap().guardrails, ["cards"]);
        assert!(with_key.key_by_id("k2").is_none());
    }

    #[test]
    fn other_master_key_other_version() {
        let cfg = GatewayConfig::parse("general_settings: {master_key: sk-abc}").unwrap();
        let s = PolicySnapshot::compile(&cfg);
        let other = GatewayConfig::parse("general_settings: {master_key: sk-def}").unwrap();
        assert_ne!(PolicySnapshot::compile(&other).version, s.version);
    }
}
