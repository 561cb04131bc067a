//! The MCP protocol revisions the gateway serves (a leaf: the error map and every
//! transport read it).

/// Handshake-era protocol revisions served to clients, oldest first; the last is
/// preferred by `initialize`. [`STATELESS`] is served too: see `mcp::stateless`.
pub const SUPPORTED_VERSIONS: &[&str] = &["2025-03-26", "2025-06-18", "2025-11-25"];
/// Assumed when a client sends no `MCP-Protocol-Version` and no session says otherwise.
pub const DEFAULT_VERSION: &str = "2025-03-26";
/// The stateless revision (no `initialize`, no sessions) served besides the
/// handshake-era ones.
pub const STATELESS: &str = "2026-07-28";

pub fn supported_version(v: &str) -> Option<&'static str> {
    SUPPORTED_VERSIONS.iter().copied().find(|s| *s == v)
}

/// Every revision served, oldest first.
pub fn all_versions() -> Vec<&'static str> {
    let mut all = SUPPORTED_VERSIONS.to_vec();
    all.push(STATELESS);
    all
}
