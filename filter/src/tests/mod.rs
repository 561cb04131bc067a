//! The root's sync state machine and the stream's decisions, driven through the mock
//! host on the build machine (tests may unwrap: a failure is the test failing).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit;
mod guard;
mod root;
mod stream;

use meshgate_policy::signing::{open_decision, SignedDecision, DECISION_HEADER};

pub const SECRET: &str = "a-shared-secret-of-32-characters";
pub const NOW: u64 = 1_800_000_000_000;

/// A filter configuration document with the given servers section.
pub fn document(servers: &str) -> String {
    format!(
        "general_settings: {{master_key: sk-master}}\nmeshgate: {{shared_secret: {SECRET}, sidecar_cluster: sidecar, sync_interval_ms: 500}}\nmcp_servers:\n{servers}"
    )
}

pub const SERVERS: &str =
    "  a: {url: \"http://127.0.0.1:1/mcp\", transport: http}\n  b: {url: \"http://127.0.0.1:2/mcp\", transport: http}\n";

/// Opens a decision header as the sidecar does.
pub fn open(method: &str, path: &str, value: Option<&str>) -> SignedDecision {
    open_decision(SECRET.as_bytes(), method, path, value, NOW).unwrap()
}

pub fn decision_of(headers: &[(String, String)]) -> Option<&str> {
    crate::host::header(headers, DECISION_HEADER)
}
