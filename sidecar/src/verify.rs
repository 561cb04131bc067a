//! Refuses every request the filter did not sign, or signed for another request, and reads
//! what it decided.

use http::HeaderMap;
use std::time::{SystemTime, UNIX_EPOCH};

use meshgate_policy::paths::{binds_body, path_target, PathTarget};
use meshgate_policy::signing::{body_digest, open_decision, DECISION_HEADER};
use meshgate_policy::SignatureError;

/// The servers a request may reach (the filter's sealed [`meshgate_policy::Scope`]).
pub use meshgate_policy::Scope as ServerScope;

use crate::replay::ReplayGuard;

/// What the filter decided about this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Who the request acts as.
    pub who: meshgate_policy::Principal,
    /// `who`'s wire form: the tag sessions and streams are owned by.
    pub name: String,
    pub scope: ServerScope,
    /// The path names its servers (`/mcp/<a,b>`, `/<name>/mcp`): a one-server path makes
    /// the session that server's own (its name and instructions at `initialize`).
    pub path_named: bool,
    /// SHA-256 of the body the filter read and sealed (admin requests, the policy sync).
    pub body_sha256: Option<String>,
    /// The filter VM that sealed the decision (the nonce's VM id).
    pub signer: u64,
}

impl Principal {
    /// The virtual key's id, when a virtual key sent the request.
    pub fn key_id(&self) -> Option<&str> {
        self.who.key_id()
    }

    /// Refuses a body other than the one the filter sealed (when it sealed one).
    pub fn check_body(&self, body: &[u8]) -> Result<(), SignatureError> {
        match &self.body_sha256 {
            Some(sealed) if *sealed != body_digest(body) => Err(SignatureError::BodyMismatch),
            _ => Ok(()),
        }
    }
}

/// Verifies the decision (signature, freshness), records its nonce (single use) and, on
/// paths whose body the filter binds, requires a sealed body hash — the body itself is
/// checked with [`Principal::check_body`] where it is read.
pub fn verify_request(
    secret: &[u8],
    replay: &ReplayGuard,
    method: &str,
    path: &str,
    headers: &HeaderMap,
) -> Result<Principal, SignatureError> {
    let value = match headers.get(DECISION_HEADER) {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| SignatureError::Malformed)?),
    };
    let now = now_ms();
    let decision = open_decision(secret, method, path, value, now)?;
    if decision.body_sha256.is_none() && binds_body(path) {
        return Err(SignatureError::BodyUnbound);
    }
    // Signed with our secret yet naming no principal the filter writes: a bug or a
    // forgery with a leaked secret; either way nobody to act as.
    let who = decision.who().ok_or(SignatureError::Malformed)?;
    replay.accept(decision.nonce, now)?;
    Ok(Principal {
        who,
        scope: decision.scope(),
        name: decision.principal,
        path_named: matches!(path_target(path), PathTarget::Named(_)),
        body_sha256: decision.body_sha256,
        signer: decision.nonce.vm,
    })
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
