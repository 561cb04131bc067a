//! Refuses every request the filter did not sign, and reads what it decided.

use http::HeaderMap;
use std::time::{SystemTime, UNIX_EPOCH};

use meshgate_policy::decision::ALL_SERVERS;
use meshgate_policy::signing::{open_decision, DECISION_HEADER};
use meshgate_policy::SignatureError;

/// What the filter decided about this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub scope: ServerScope,
    /// The path names its servers (`/mcp/<a,b>`, `/<name>/mcp`): a one-server path makes
    /// the session that server's own (its name and instructions at `initialize`).
    pub path_named: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerScope {
    All,
    Only(Vec<String>),
}

impl ServerScope {
    pub fn allows(&self, server: &str) -> bool {
        match self {
            ServerScope::All => true,
            ServerScope::Only(names) => names.iter().any(|n| n == server),
        }
    }
}

pub fn verify_request(
    secret: &[u8],
    method: &str,
    path: &str,
    headers: &HeaderMap,
) -> Result<Principal, SignatureError> {
    let value = match headers.get(DECISION_HEADER) {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| SignatureError::Malformed)?),
    };
    let decision = open_decision(secret, method, path, value, now_ms())?;
    let scope = match decision.servers.as_str() {
        ALL_SERVERS => ServerScope::All,
        list => ServerScope::Only(
            list.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        ),
    };
    Ok(Principal {
        name: decision.principal,
        scope,
        path_named: matches!(
            meshgate_policy::decision::path_target(path),
            meshgate_policy::decision::PathTarget::Named(_)
        ),
    })
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
