//! The sidecar's tool-name separator: LiteLLM's `MCP_TOOL_PREFIX_SEPARATOR`, read once
//! from the process environment (as LiteLLM reads it). The same value reaches the filter
//! in the policy snapshot (`PolicySnapshot::separator`, from the configuration loaded
//! with this environment), so both split names alike.

use std::sync::OnceLock;

use meshgate_policy::names::{self, DEFAULT_SEPARATOR, SEPARATOR_ENV};

/// The separator between a server's prefix and a tool, prompt or header name.
pub fn separator() -> &'static str {
    static SEPARATOR: OnceLock<String> = OnceLock::new();
    SEPARATOR.get_or_init(|| {
        std::env::var(SEPARATOR_ENV)
            .ok()
            .filter(|s| names::usable_separator(s))
            .unwrap_or_else(|| DEFAULT_SEPARATOR.to_string())
    })
}

/// `{prefix}{separator}{name}`.
pub fn prefixed(prefix: &str, name: &str) -> String {
    names::prefixed_with(prefix, separator(), name)
}

/// Splits a name at the longest of `known` prefixes followed by the separator, else at
/// the first separator.
pub fn split<'n, 'k>(
    name: &'n str,
    known: impl IntoIterator<Item = &'k str>,
) -> Option<(&'n str, &'n str)> {
    names::split_known(name, separator(), known)
}
