//! The policy snapshot: what the filter needs to decide a request inline, compiled by
//! the sidecar from the configuration (with secrets resolved and keys hashed) and
//! fetched by the filter. It never holds a plaintext secret.

use serde::{Deserialize, Serialize};

use crate::auth::{hash_key, DEFAULT_KEY_HEADER};
use crate::config::GatewayConfig;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicySnapshot {
    /// Changes whenever anything below changes (the sidecar's ETag).
    pub version: String,
    /// SHA-256 of the master key; None means no key can authenticate as master.
    pub master_key_hash: Option<String>,
    /// Header carrying the gateway key (LiteLLM's `litellm_key_header_name`).
    pub key_header: String,
    pub servers: Vec<SnapshotServer>,
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
}

impl PolicySnapshot {
    /// Compiles a snapshot from a configuration whose `os.environ/` values are resolved.
    pub fn compile(config: &GatewayConfig) -> Self {
        let servers = config
            .mcp_servers
            .iter()
            .map(|(name, s)| SnapshotServer {
                name: name.clone(),
                prefix: config.prefix_of(name),
                access_groups: s.access_groups.clone(),
                allow_all_keys: s.allow_all_keys,
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
        };
        snapshot.version = snapshot.content_hash();
        snapshot
    }

    /// A stable hash of the content, used as the version.
    fn content_hash(&self) -> String {
        let body = serde_json::to_vec(&(&self.master_key_hash, &self.key_header, &self.servers))
            .unwrap_or_default();
        hash_key(&String::from_utf8_lossy(&body))[..16].to_string()
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
        let other = GatewayConfig::parse("general_settings: {master_key: sk-def}").unwrap();
        assert_ne!(PolicySnapshot::compile(&other).version, s.version);
    }
}
