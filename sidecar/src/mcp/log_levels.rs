//! The log levels of MCP's `logging/setLevel`, `notifications/message` and the 2026-07-28
//! `logLevel` `_meta` key: RFC 5424 severities. A leaf: both the stateful and the
//! stateless paths read it, so it imports nothing.

/// RFC 5424 severities, least severe first.
pub const LOG_LEVELS: &[&str] = &[
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

/// The level's rank (0 = `debug`), or None for a name that is not a level.
pub fn rank(level: &str) -> Option<usize> {
    LOG_LEVELS.iter().position(|l| *l == level)
}
