//! The sidecar's live state: the loaded configuration, the database, the policy compiled
//! from both and the upstreams it runs. Swapped atomically when the filter syncs a new
//! document or the database changes.

use arc_swap::ArcSwap;
use bytes::Bytes;
use indexmap::IndexMap;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use meshgate_policy::env::{EnvSource, ProcessEnv};
use meshgate_policy::grants::KeyPolicy;
use meshgate_policy::{load_config, ConfigError, GatewayConfig, PolicySnapshot};
use meshgate_store::Store;

use crate::compile::compile;
use crate::mcp::session::SessionKeys;
use crate::upstream::{HttpClient, Upstream};

/// One loaded configuration and everything derived from it.
pub struct Runtime {
    /// Hash of the filter's document this runtime was built from.
    pub config_hash: String,
    /// The document as loaded (before database servers were added).
    pub file_config: GatewayConfig,
    /// The database revision this runtime reflects.
    pub store_revision: i64,
    /// File servers plus database servers.
    pub config: GatewayConfig,
    pub snapshot: PolicySnapshot,
    pub snapshot_json: Bytes,
    /// Key principal id → tool permissions.
    pub principals: HashMap<String, KeyPolicy>,
    pub upstreams: IndexMap<String, Arc<Upstream>>,
    /// The legacy client-credential header: env `LITELLM_MCP_CLIENT_SIDE_AUTH_HEADER_NAME`,
    /// else `general_settings.mcp_client_side_auth_header_name`, else `x-mcp-auth`.
    pub client_auth_header: String,
}

fn client_auth_header(config: &GatewayConfig) -> String {
    client_auth_header_from(config, &ProcessEnv)
}

/// `LITELLM_MCP_CLIENT_SIDE_AUTH_HEADER_NAME` wins over the configuration, as in LiteLLM.
fn client_auth_header_from(config: &GatewayConfig, env: &dyn EnvSource) -> String {
    env.var("LITELLM_MCP_CLIENT_SIDE_AUTH_HEADER_NAME")
        .filter(|v| !v.trim().is_empty())
        .or_else(|| {
            config
                .general_settings
                .mcp_client_side_auth_header_name
                .clone()
        })
        .unwrap_or_else(|| "x-mcp-auth".to_string())
        .trim()
        .to_ascii_lowercase()
}

impl Runtime {
    pub fn empty() -> Self {
        let config = GatewayConfig::default();
        let snapshot = PolicySnapshot::compile(&config);
        Runtime {
            config_hash: String::new(),
            file_config: config.clone(),
            store_revision: -1,
            snapshot_json: Bytes::from(serde_json::to_vec(&snapshot).unwrap_or_default()),
            client_auth_header: client_auth_header(&config),
            config,
            snapshot,
            principals: HashMap::new(),
            upstreams: IndexMap::new(),
        }
    }

    pub fn list_timeout(&self) -> Duration {
        Duration::from_millis(self.config.meshgate.list_timeout_ms)
    }
    pub fn call_timeout(&self) -> Duration {
        Duration::from_millis(self.config.meshgate.call_timeout_ms)
    }
    pub fn tools_ttl(&self) -> Duration {
        Duration::from_millis(self.config.meshgate.tools_cache_ttl_ms)
    }
}

pub struct AppState {
    pub secret: Vec<u8>,
    pub sessions: SessionKeys,
    pub runtime: ArcSwap<Runtime>,
    pub client: HttpClient,
    pub store: Store,
    /// Streams of clients on the legacy HTTP+SSE transport.
    pub legacy: Arc<crate::mcp::legacy_sse::LegacySessions>,
    /// Relays server→client traffic to the client sessions it belongs to.
    pub hub: Arc<crate::relay::Hub>,
    /// Serializes rebuilds so two syncs at once start upstreams once.
    reload_lock: tokio::sync::Mutex<()>,
}

impl AppState {
    pub fn new(secret: Vec<u8>, client: HttpClient, store: Store) -> Self {
        AppState {
            sessions: SessionKeys::derive(&secret),
            secret,
            runtime: ArcSwap::from_pointee(Runtime::empty()),
            client,
            store,
            legacy: Arc::default(),
            hub: Arc::default(),
            reload_lock: tokio::sync::Mutex::new(()),
        }
    }

    pub fn runtime(&self) -> Arc<Runtime> {
        self.runtime.load_full()
    }

    /// Loads a configuration document if it differs from the current one.
    pub async fn apply_document(&self, text: &str) -> Result<Arc<Runtime>, ConfigError> {
        let hash = hex::encode(Sha256::digest(text.as_bytes()));
        if self.runtime.load().config_hash == hash {
            return Ok(self.runtime());
        }
        let _guard = self.reload_lock.lock().await;
        if self.runtime.load().config_hash == hash {
            return Ok(self.runtime());
        }
        let file_config = load_effective_config(text)?;
        for warning in &file_config.warnings {
            tracing::warn!("configuration: {warning}");
        }
        Ok(self.rebuild(hash, file_config).await)
    }

    /// Recompiles when the database changed since the current runtime was built (called
    /// by a poller and right after admin writes, so keys take effect at once).
    pub async fn refresh_from_store(&self) {
        let Ok(revision) = self.store.revision().await else {
            return;
        };
        if self.runtime.load().store_revision == revision {
            return;
        }
        let _guard = self.reload_lock.lock().await;
        let current = self.runtime();
        if current.store_revision == revision {
            return;
        }
        self.rebuild(current.config_hash.clone(), current.file_config.clone())
            .await;
    }

    /// Builds and installs a runtime from a document and the database as it is now.
    /// Upstreams whose configuration is unchanged keep running; others are stopped.
    async fn rebuild(&self, config_hash: String, file_config: GatewayConfig) -> Arc<Runtime> {
        let db = match self.store.snapshot().await {
            Ok(db) => db,
            Err(e) => {
                tracing::error!(
                    "cannot read the database ({e}); serving the configuration file alone"
                );
                meshgate_store::Snapshot {
                    revision: -1,
                    organizations: vec![],
                    teams: vec![],
                    keys: vec![],
                    mcp_servers: vec![],
                }
            }
        };
        let compiled = compile(&file_config, &db);
        crate::upstream::set_known_prefixes(
            compiled
                .config
                .mcp_servers
                .keys()
                .map(|n| compiled.config.prefix_of(n))
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str),
        );
        let current = self.runtime();
        let mut upstreams = IndexMap::new();
        for (name, server) in &compiled.config.mcp_servers {
            let prefix = compiled.config.prefix_of(name);
            let reused = current
                .upstreams
                .get(name)
                .filter(|u| u.config == *server && u.prefix == prefix)
                .cloned();
            let upstream = reused
                .unwrap_or_else(|| Upstream::start(name, &prefix, server, &self.client, &self.hub));
            upstreams.insert(name.clone(), upstream);
        }
        for (name, old) in &current.upstreams {
            if !upstreams.get(name).is_some_and(|u| Arc::ptr_eq(u, old)) {
                old.shutdown();
            }
        }
        let runtime = Arc::new(Runtime {
            config_hash,
            store_revision: db.revision,
            snapshot_json: Bytes::from(serde_json::to_vec(&compiled.snapshot).unwrap_or_default()),
            client_auth_header: client_auth_header(&compiled.config),
            file_config,
            config: compiled.config,
            snapshot: compiled.snapshot,
            principals: compiled.principals,
            upstreams,
        });
        tracing::info!(
            servers = runtime.upstreams.len(),
            keys = runtime.snapshot.keys.len(),
            revision = runtime.store_revision,
            version = %runtime.snapshot.version,
            "policy compiled"
        );
        self.runtime.store(Arc::clone(&runtime));
        runtime
    }
}

/// The inline document, or — when `meshgate.config_path` is set — the LiteLLM file it
/// names (keeping the inline `meshgate` section). `os.environ/` values are resolved.
pub fn load_effective_config(text: &str) -> Result<GatewayConfig, ConfigError> {
    let inline = load_config(text, Some(&ProcessEnv))?;
    let Some(path) = inline.meshgate.config_path.clone() else {
        return Ok(inline);
    };
    let file = std::fs::read_to_string(&path).map_err(|e| ConfigError::Field {
        field: "meshgate.config_path".into(),
        message: format!("cannot read `{path}`: {e}"),
    })?;
    let mut config = load_config(&file, Some(&ProcessEnv)).map_err(|e| match e {
        ConfigError::Syntax { message } => ConfigError::Syntax {
            message: format!("{path}: {message}"),
        },
        ConfigError::Field { field, message } => ConfigError::Field {
            field: format!("{path}: {field}"),
            message,
        },
        other => other,
    })?;
    config.meshgate = inline.meshgate;
    let mut warnings = inline.warnings;
    warnings.append(&mut config.warnings);
    config.warnings = warnings;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn legacy_auth_header_name_env_wins_over_config() {
        let config = meshgate_policy::load_config(
            "general_settings: {mcp_client_side_auth_header_name: X-My-Auth}",
            None,
        )
        .unwrap();
        let none: HashMap<String, String> = HashMap::new();
        assert_eq!(client_auth_header_from(&config, &none), "x-my-auth");
        let env: HashMap<String, String> = [(
            "LITELLM_MCP_CLIENT_SIDE_AUTH_HEADER_NAME".to_string(),
            "X-Env-Auth".to_string(),
        )]
        .into();
        assert_eq!(client_auth_header_from(&config, &env), "x-env-auth");
        assert_eq!(
            client_auth_header_from(&GatewayConfig::default(), &none),
            "x-mcp-auth"
        );
    }
}
