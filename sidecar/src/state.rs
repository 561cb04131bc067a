//! The sidecar's live state: the loaded configuration, the database, the policy compiled
//! from both and the upstreams it runs. Swapped atomically when the filter syncs a new
//! document or the database changes.

use arc_swap::ArcSwap;
use bytes::Bytes;
use indexmap::IndexMap;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use meshgate_policy::env::{EnvSource, ProcessEnv};
use meshgate_policy::grants::KeyPolicy;
use meshgate_policy::{load_config, ConfigError, GatewayConfig, PolicySnapshot};
use meshgate_store::Store;

use crate::guard::HostPolicy;
use crate::sessions::id::SessionKeys;
use crate::stored::compile;
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
    /// Key principal id → alias, team, organization, user (for spend rows).
    pub identities: HashMap<String, crate::spend::record::KeyIdentity>,
    /// SHA-256 of the master key: the master key's spend rows carry it, as LiteLLM's.
    pub master_key_hash: Option<String>,
    /// Keys, teams and organizations with a `max_budget` (`crate::spend::budget`).
    pub budgets: Vec<crate::spend::budget::Budgeted>,
    /// The configuration's guardrails, compiled once per runtime (`crate::guardrails`).
    pub guardrails: Arc<meshgate_policy::guardrails::GuardrailSet>,
    /// The document's custom hooks (`meshgate.hooks`), loaded with it (`crate::hooks`).
    pub hooks: Arc<crate::hooks::HookSet>,
    pub upstreams: IndexMap<String, Arc<Upstream>>,
    /// Servers from the database: they run on the guarded client (`crate::guard`).
    pub database_servers: HashSet<String>,
    /// The legacy client-credential header: env `LITELLM_MCP_CLIENT_SIDE_AUTH_HEADER_NAME`,
    /// else `general_settings.mcp_client_side_auth_header_name`, else `x-mcp-auth`.
    pub client_auth_header: String,
    /// Every server prefix, lowercased: `x-mcp-<prefix>-…` headers go to the server
    /// with the longest one that matches.
    pub known_prefixes: Vec<String>,
    /// `model_list`'s providers and the keys' `models` (`crate::llm`).
    pub llm: Arc<crate::llm::LlmState>,
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
            identities: HashMap::new(),
            master_key_hash: None,
            budgets: Vec::new(),
            guardrails: Arc::default(),
            hooks: Arc::default(),
            upstreams: IndexMap::new(),
            database_servers: HashSet::new(),
            known_prefixes: Vec::new(),
            llm: Arc::default(),
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
    /// The client of database servers: outbound addresses checked.
    pub guarded_client: HttpClient,
    /// What database servers may do on this host.
    pub host: Arc<HostPolicy>,
    pub store: Store,
    /// Streams of clients on the legacy HTTP+SSE transport.
    pub legacy: Arc<crate::sessions::legacy_streams::LegacySessions>,
    /// Relays server→client traffic to the client sessions it belongs to.
    pub hub: Arc<crate::relay::Hub>,
    /// Client sessions' idle time and revocations.
    pub session_life: crate::sessions::life::SessionLife,
    /// Serializes rebuilds so two syncs at once start upstreams once.
    reload_lock: tokio::sync::Mutex<()>,
    /// Decisions already used (single use).
    pub replay: crate::replay::ReplayGuard,
    /// Filter VMs syncing with this sidecar and what they hold.
    pub sync: crate::sync_book::SyncBook,
    /// Spend rows on their way to the store (`crate::spend`).
    pub spend: crate::spend::SpendLog,
    /// Spend recorded here but not yet stored, for budgets (`crate::spend::budget`).
    pub budget_watch: Arc<crate::spend::budget::BudgetWatch>,
    /// Budgets used up, as last read from the store (`crate::spend::budget::poll`).
    budgets_exceeded: std::sync::Mutex<crate::spend::budget::Exceeded>,
    /// What the audit trail wrote and lost (`crate::audit`).
    pub audit: Arc<crate::audit::AuditCounters>,
}

impl AppState {
    /// Needs a tokio runtime: the spend writer task starts here.
    pub fn new(
        secret: Vec<u8>,
        client: HttpClient,
        store: Store,
        host: HostPolicy,
        spend_queue: crate::spend::QueueSettings,
    ) -> Self {
        let budget_watch = Arc::new(crate::spend::budget::BudgetWatch::default());
        AppState {
            budget_watch: Arc::clone(&budget_watch),
            spend: crate::spend::SpendLog::start(
                crate::spend::store_sink(store.clone(), budget_watch),
                spend_queue.capacity,
                spend_queue.wait,
                spend_queue.linger,
            ),
            sessions: SessionKeys::derive(&secret),
            secret,
            runtime: ArcSwap::from_pointee(Runtime::empty()),
            client,
            guarded_client: crate::upstream::new_guarded_client(Arc::clone(&host.outbound)),
            host: Arc::new(host),
            store,
            legacy: Arc::default(),
            hub: Arc::default(),
            session_life: Default::default(),
            reload_lock: tokio::sync::Mutex::new(()),
            replay: crate::replay::ReplayGuard::default(),
            sync: crate::sync_book::SyncBook::default(),
            budgets_exceeded: Default::default(),
            audit: Arc::default(),
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
        // Compiling modules is CPU work: off the async workers.
        let specs = file_config.meshgate.hooks.clone();
        let hooks = tokio::task::spawn_blocking(move || crate::hooks::load(&specs))
            .await
            .map_err(|e| ConfigError::Field {
                field: "meshgate.hooks".into(),
                message: format!("loading the hooks failed: {e}"),
            })??;
        let hooks = Arc::new(hooks);
        for warning in &file_config.warnings {
            tracing::warn!("configuration: {warning}");
        }
        Ok(self.rebuild(hash, file_config, hooks).await)
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
        self.rebuild(
            current.config_hash.clone(),
            current.file_config.clone(),
            Arc::clone(&current.hooks),
        )
        .await;
    }

    /// Records which budgets are used up; true when that changed (the policy must be
    /// recompiled).
    pub fn set_budgets_exceeded(&self, exceeded: crate::spend::budget::Exceeded) -> bool {
        let mut current = self
            .budgets_exceeded
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if *current == exceeded {
            return false;
        }
        *current = exceeded;
        true
    }

    /// Recompiles from the current document and the database (budgets changed).
    pub async fn recompile(&self) {
        let _guard = self.reload_lock.lock().await;
        let current = self.runtime();
        self.rebuild(
            current.config_hash.clone(),
            current.file_config.clone(),
            Arc::clone(&current.hooks),
        )
        .await;
    }

    /// Builds and installs a runtime from a document and the database as it is now.
    /// Upstreams whose configuration is unchanged keep running; others are stopped.
    async fn rebuild(
        &self,
        config_hash: String,
        file_config: GatewayConfig,
        hooks: Arc<crate::hooks::HookSet>,
    ) -> Arc<Runtime> {
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
        let mut compiled = compile(&file_config, &db, &self.host);
        let known_prefixes = crate::upstream::known_prefixes(
            compiled
                .config
                .mcp_servers
                .keys()
                .map(|n| compiled.config.prefix_of(n)),
        );
        let current = self.runtime();
        let mut upstreams = IndexMap::new();
        for (name, server) in &compiled.config.mcp_servers {
            let prefix = compiled.config.prefix_of(name);
            let restricted = compiled.database_servers.contains(name);
            let reused = current
                .upstreams
                .get(name)
                .filter(|u| u.config == *server && u.prefix == prefix)
                .filter(|_| current.database_servers.contains(name) == restricted)
                .cloned();
            let client = if restricted {
                &self.guarded_client
            } else {
                &self.client
            };
            let upstream =
                reused.unwrap_or_else(|| Upstream::start(name, &prefix, server, client, &self.hub));
            upstreams.insert(name.clone(), upstream);
        }
        for (name, old) in &current.upstreams {
            if !upstreams.get(name).is_some_and(|u| Arc::ptr_eq(u, old)) {
                old.shutdown();
            }
        }
        let guardrails = Arc::new(compile_guardrails(&compiled.config));
        let identities = crate::stored::identities(&db);
        let budgets = crate::spend::budget::budgeted(&db);
        // Keys whose budget (or their team's or organization's) is used up, as last read.
        {
            let exceeded = self
                .budgets_exceeded
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let per_key = crate::spend::budget::per_key(&db, &exceeded);
            compiled
                .snapshot
                .set_budgets(|hash| per_key.get(hash).cloned());
        }
        let master_key_hash = compiled
            .config
            .general_settings
            .master_key
            .as_deref()
            .map(meshgate_store::hash_key);
        let llm = Arc::new(crate::llm::LlmState::build(
            &compiled.config,
            &db.keys,
            &ProcessEnv,
        ));
        let runtime = Arc::new(Runtime {
            llm,
            budgets,
            identities,
            master_key_hash,
            guardrails,
            hooks,
            config_hash,
            store_revision: db.revision,
            snapshot_json: Bytes::from(serde_json::to_vec(&compiled.snapshot).unwrap_or_default()),
            client_auth_header: client_auth_header(&compiled.config),
            known_prefixes,
            file_config,
            config: compiled.config,
            snapshot: compiled.snapshot,
            principals: compiled.principals,
            upstreams,
            database_servers: compiled.database_servers,
        });
        tracing::info!(
            servers = runtime.upstreams.len(),
            keys = runtime.snapshot.keys.len(),
            revision = runtime.store_revision,
            version = %runtime.snapshot.version,
            "policy compiled"
        );
        self.runtime.store(Arc::clone(&runtime));
        self.sync.publish(&runtime.snapshot.version);
        runtime
    }

    /// After an admin write: recompile if needed, then wait (at most
    /// [`PROPAGATION_WAIT`]) until every live filter VM holds the new snapshot, so the
    /// change is enforced once the write's answer reaches the caller.
    pub async fn propagate(&self) {
        let started = std::time::Instant::now();
        self.refresh_from_store().await;
        let refreshed = started.elapsed();
        let runtime = self.runtime();
        let waited = self
            .sync
            .await_version(
                &runtime.config_hash,
                &runtime.snapshot.version,
                PROPAGATION_WAIT,
                crate::verify::now_ms,
            )
            .await;
        tracing::debug!(?refreshed, total = ?started.elapsed(), "admin write propagated");
        if let Err(behind) = waited {
            tracing::warn!(
                behind,
                version = %runtime.snapshot.version,
                "filter VMs did not confirm the new policy within {PROPAGATION_WAIT:?}; answering the admin write anyway"
            );
        }
    }
}

/// How long an admin write waits for the filters to hold its change.
pub const PROPAGATION_WAIT: Duration = Duration::from_secs(3);

/// The inline document, or — when `meshgate.config_path` is set — the LiteLLM file it
/// names. A `meshgate:` section in that file is merged with the inline one key by key,
/// the inline value winning (the filter reads only the inline document, so both sides
/// keep the same settings); each overridden key is named in a warning, and a
/// `config_path` inside the file is refused (no chains). `os.environ/` values are resolved.
pub fn load_effective_config(text: &str) -> Result<GatewayConfig, ConfigError> {
    let inline = load_config(text, Some(&ProcessEnv))?;
    let Some(path) = inline.meshgate.config_path.clone() else {
        return Ok(inline);
    };
    let file = std::fs::read_to_string(&path).map_err(|e| ConfigError::Field {
        field: "meshgate.config_path".into(),
        message: format!("cannot read `{path}`: {e}"),
    })?;
    let in_file = |e: ConfigError| match e {
        ConfigError::Syntax { message } => ConfigError::Syntax {
            message: format!("{path}: {message}"),
        },
        ConfigError::Field { field, message } => ConfigError::Field {
            field: format!("{path}: {field}"),
            message,
        },
        other => other,
    };
    let mut doc = meshgate_policy::config::parse_document(&file).map_err(in_file)?;
    let inline_doc = meshgate_policy::config::parse_document(text)?;
    merge_meshgate_section(&path, &mut doc, &inline_doc)?;
    let mut config = load_config(&doc.to_string(), Some(&ProcessEnv)).map_err(in_file)?;
    let mut warnings = inline.warnings;
    warnings.append(&mut config.warnings);
    config.warnings = warnings;
    Ok(config)
}

/// The file's `meshgate:` keys, then the inline ones over them.
fn merge_meshgate_section(
    path: &str,
    file: &mut serde_json::Value,
    inline: &serde_json::Value,
) -> Result<(), ConfigError> {
    use serde_json::Value;
    let Some(doc) = file.as_object_mut() else {
        return Ok(()); // load_config names the problem
    };
    let mut merged = match doc.remove("meshgate") {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(ConfigError::Field {
                field: format!("{path}: meshgate"),
                message: "must be a mapping".into(),
            })
        }
    };
    if merged.contains_key("config_path") {
        return Err(ConfigError::Field {
            field: format!("{path}: meshgate.config_path"),
            message: "a file named by meshgate.config_path cannot name another one".into(),
        });
    }
    if let Some(Value::Object(own)) = inline.get("meshgate") {
        for (k, v) in own {
            if k == "config_path" {
                continue;
            }
            if merged.get(k).is_some_and(|old| old != v) {
                tracing::warn!(
                    "meshgate.{k} in {path} is overridden by the inline meshgate section"
                );
            }
            merged.insert(k.clone(), v.clone());
        }
    }
    doc.insert("meshgate".into(), Value::Object(merged));
    Ok(())
}

/// The configuration's guardrails compiled; the patterns were checked at load, so a
/// failure here is logged and the set left empty only for a configuration that did
/// not come through `load_config`.
pub fn compile_guardrails(config: &GatewayConfig) -> meshgate_policy::guardrails::GuardrailSet {
    meshgate_policy::guardrails::GuardrailSet::compile(&config.guardrail_specs).unwrap_or_else(
        |e| {
            tracing::error!("guardrails: {e}");
            meshgate_policy::guardrails::GuardrailSet::default()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn the_files_meshgate_section_is_merged_inline_winning() {
        let dir = std::env::temp_dir().join(format!("mg-cfgpath-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("litellm.yaml");
        std::fs::write(
            &file,
            "meshgate:\n  call_timeout_ms: 1234\n  list_timeout_ms: 999\nmcp_servers:\n  web: {url: 'http://h/mcp', transport: http}\n",
        )
        .unwrap();
        let inline = format!(
            "meshgate:\n  config_path: {}\n  list_timeout_ms: 42\n",
            file.display()
        );
        let c = load_effective_config(&inline).unwrap();
        assert_eq!(c.meshgate.call_timeout_ms, 1234, "taken from the file");
        assert_eq!(c.meshgate.list_timeout_ms, 42, "the inline value wins");
        assert!(c.mcp_servers.contains_key("web"));

        std::fs::write(&file, "meshgate:\n  config_path: /elsewhere.yaml\n").unwrap();
        let e = load_effective_config(&inline).unwrap_err().to_string();
        assert!(e.contains("meshgate.config_path"), "{e}");
        std::fs::write(&file, "meshgate:\n  call_timeout_ms: soon\n").unwrap();
        let e = load_effective_config(&inline).unwrap_err().to_string();
        assert!(e.contains("call_timeout_ms"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

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
