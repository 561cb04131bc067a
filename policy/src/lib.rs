//! meshgate's pure decision core, shared by the proxy-wasm filter and the sidecar.
//!
//! No I/O, no async, no panics: everything here compiles for `wasm32-wasip1` and is
//! unit-tested on the host.

pub mod audit;
pub mod auth;
pub mod budget;
pub mod compile;
pub mod config;
pub mod cost;
pub mod decision;
pub mod env;
pub mod error;
pub mod grants;
pub mod guardrails;
pub mod hooks;
pub mod litellm;
pub mod mcp_headers;
pub mod models;
pub mod names;
pub mod origin;
pub mod paths;
pub mod principal;
pub mod ratelimit;
pub mod replay;
pub mod request_head;
pub mod resource_uri;
pub mod routing;
pub mod scope;
pub mod scrub;
pub mod shared_secret;
pub mod signing;
pub mod snapshot;
pub mod sync;
pub mod tool_rules;
mod validate;

pub use config::{GatewayConfig, ServerConfig, Transport};
pub use decision::{decide, Decision, Forward, Rejection};
pub use error::{ConfigError, SignatureError};
pub use paths::Route;
pub use principal::Principal;
pub use scope::Scope;
pub use shared_secret::SharedSecret;
pub use snapshot::PolicySnapshot;

use serde_json::Value;

/// Loads a configuration document: parse, reject unknown server fields, resolve
/// `os.environ/` values where meshgate reads them when `env` is given (the sidecar's
/// environment, which also supplies `MCP_TOOL_PREFIX_SEPARATOR` and
/// `LITELLM_MCP_SERVER_NAME`), deserialize and validate. What deserves a word without
/// refusing the file lands in [`GatewayConfig::warnings`].
pub fn load_config(
    text: &str,
    env: Option<&dyn env::EnvSource>,
) -> Result<GatewayConfig, ConfigError> {
    let mut doc: Value = config::parse_document(text)?;
    validate::check_server_keys(&doc)?;
    let inert = litellm::inert_paths(&doc);
    if let Some(env) = env {
        litellm::resolve_used_env_refs(&mut doc, env)?;
    }
    let mut config = GatewayConfig::from_value(doc)?;
    if let Some(env) = env {
        config.tool_separator = env.var(names::SEPARATOR_ENV).filter(|s| !s.is_empty());
        config.server_name = env
            .var("LITELLM_MCP_SERVER_NAME")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
    }
    config.warnings = litellm::inert_warning(&inert).into_iter().collect();
    config.warnings.extend(litellm::callbacks_hint(&inert));
    config.warnings.extend(validate::warnings(&config));
    Ok(config)
}
