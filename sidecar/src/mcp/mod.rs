//! The MCP server meshgate presents to clients: streamable HTTP at `/mcp` and its
//! namespaced forms, aggregating the upstreams the filter allowed.

pub mod completion;
pub mod context;
pub mod dispatch;
pub mod endpoint;
pub mod fanout;
pub mod legacy_sse;
pub mod logging;
pub mod prompts;
pub mod resources;
pub mod session;
pub mod session_life;
pub mod stateless;
pub mod tools;

/// Handshake-era protocol revisions served to clients, oldest first; the last is
/// preferred by `initialize`. 2026-07-28 (stateless) is served too: see `stateless`.
pub const SUPPORTED_VERSIONS: &[&str] = &["2025-03-26", "2025-06-18", "2025-11-25"];
/// Assumed when a client sends no `MCP-Protocol-Version` and no session says otherwise.
pub const DEFAULT_VERSION: &str = "2025-03-26";

pub fn supported_version(v: &str) -> Option<&'static str> {
    SUPPORTED_VERSIONS.iter().copied().find(|s| *s == v)
}
