//! meshgate's pure decision core, shared by the proxy-wasm filter and the sidecar.
//!
//! No I/O, no async, no panics: everything here compiles for `wasm32-wasip1` and is
//! unit-tested on the host.

pub mod auth;
pub mod config;
pub mod decision;
pub mod env;
pub mod error;
pub mod grants;
pub mod mcp_headers;
pub mod names;
pub mod origin;
pub mod ratelimit;
pub mod replay;
pub mod request_head;
pub mod scrub;
pub mod signing;
pub mod snapshot;
pub mod sync;
pub mod tool_rules;
mod validate;

pub use config::{GatewayConfig, ServerConfig, Transport};
pub use decision::{decide, Decision, Forward, Rejection};
pub use error::{ConfigError, SignatureError};
pub use snapshot::PolicySnapshot;

use serde_json::Value;

/// Loads a configuration document: parse, resolve `os.environ/` values when `env` is
/// given, reject unknown server fields, deserialize and validate.
pub fn load_config(
    text: &str,
    env: Option<&dyn env::EnvSource>,
) -> Result<GatewayConfig, ConfigError> {
    let mut doc: Value = config::parse_document(text)?;
    validate::check_server_keys(&doc)?;
    if let Some(env) = env {
        env::resolve_env_refs(&mut doc, env)?;
    }
    GatewayConfig::from_value(doc)
}
