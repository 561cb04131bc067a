//! The filter↔sidecar policy sync, as both ends speak it.
//!
//! Each filter VM long-polls `POST /_meshgate/v1/sync` (principal `_filter`, body sealed):
//! normally a light body ([`SyncState`]: its document's hash and the snapshot version it
//! holds); the whole document only when the sidecar answers 428 (it lacks that document).
//! The sidecar answers 200 with a snapshot when the VM's version is not current, else holds
//! the request until the version changes (200) or [`LONG_POLL_MS`] pass (304). 409: another
//! live VM syncs a different document with this sidecar (the filter keeps its snapshot).
//! The held version doubles as an acknowledgement: admin writes wait for every live VM to
//! report the new one.

use serde::{Deserialize, Serialize};

use crate::principal::Principal;

pub const SYNC_PATH: &str = "/_meshgate/v1/sync";
/// Wire form of the principal the filter signs its syncs as.
pub const FILTER_PRINCIPAL: &str = crate::principal::FILTER;
/// The principal the filter signs its syncs as; the sidecar answers no other.
pub const SYNC_PRINCIPAL: Principal = Principal::Filter;
/// `:authority` of the filter's sync callouts.
pub const SYNC_AUTHORITY: &str = "meshgate-sidecar";
/// Content type of a light sync body; a whole document is sent as `application/yaml`.
pub const LIGHT_CONTENT_TYPE: &str = "application/vnd.meshgate.sync+json";
pub const DOCUMENT_CONTENT_TYPE: &str = "application/yaml";
/// How long the sidecar holds a sync whose version is current.
pub const LONG_POLL_MS: u64 = 10_000;
/// The filter's timeout for one sync (the hold plus slack).
pub const SYNC_TIMEOUT_MS: u64 = LONG_POLL_MS + 5_000;
/// A VM not heard from for this long is no longer waited for.
pub const LIVE_MS: u64 = SYNC_TIMEOUT_MS + 2_000;

/// What a sync's body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncBody {
    /// The whole configuration document (YAML).
    Document,
    /// A [`SyncState`].
    Light,
}

impl SyncBody {
    pub fn content_type(self) -> &'static str {
        match self {
            SyncBody::Document => DOCUMENT_CONTENT_TYPE,
            SyncBody::Light => LIGHT_CONTENT_TYPE,
        }
    }

    /// Read from the request's `content-type`: anything but the light type is a document.
    pub fn of_content_type(value: Option<&[u8]>) -> SyncBody {
        match value {
            Some(v) if v == LIGHT_CONTENT_TYPE.as_bytes() => SyncBody::Light,
            _ => SyncBody::Document,
        }
    }
}

/// The `ETag` (sidecar) and `If-None-Match` (filter) value naming a snapshot version.
pub fn etag(version: &str) -> String {
    format!("\"{version}\"")
}

/// The snapshot version an `ETag`/`If-None-Match` value names.
pub fn etag_version(value: &str) -> &str {
    value.trim_matches('"')
}

/// What a light sync tells the sidecar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    /// SHA-256 (hex) of the VM's configuration document.
    pub document: String,
    /// The snapshot version the VM holds, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holds: Option<String>,
}

impl SyncState {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn parse(body: &[u8]) -> Result<SyncState, String> {
        serde_json::from_slice(body).map_err(|e| format!("unreadable sync state: {e}"))
    }
}

/// What a sync's HTTP status means to the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncOutcome {
    /// 200: a snapshot in the body.
    Snapshot,
    /// 304: the held snapshot is current.
    Unchanged,
    /// 428: send the whole document.
    DocumentRequired,
    /// 409: other live VMs sync a different document with this sidecar; keep the last
    /// snapshot, retry later.
    Conflict,
    /// Anything else (errors, timeouts): keep the last snapshot, retry later.
    Failed,
}

impl SyncOutcome {
    pub fn from_status(status: u16) -> SyncOutcome {
        match status {
            200 => SyncOutcome::Snapshot,
            304 => SyncOutcome::Unchanged,
            428 => SyncOutcome::DocumentRequired,
            409 => SyncOutcome::Conflict,
            _ => SyncOutcome::Failed,
        }
    }

    /// The status the sidecar answers with (`Failed` has none of its own: 500).
    pub fn status(self) -> u16 {
        match self {
            SyncOutcome::Snapshot => 200,
            SyncOutcome::Unchanged => 304,
            SyncOutcome::DocumentRequired => 428,
            SyncOutcome::Conflict => 409,
            SyncOutcome::Failed => 500,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn light_state_round_trips() {
        let s = SyncState {
            document: "ab".into(),
            holds: Some("v1".into()),
        };
        assert_eq!(SyncState::parse(s.encode().as_bytes()), Ok(s));
        let none = SyncState {
            document: "ab".into(),
            holds: None,
        };
        assert_eq!(none.encode(), r#"{"document":"ab"}"#);
        assert!(SyncState::parse(b"meshgate: {}").is_err());
        assert_eq!(SyncOutcome::from_status(428), SyncOutcome::DocumentRequired);
        assert_eq!(SyncOutcome::from_status(409), SyncOutcome::Conflict);
        assert_eq!(SyncOutcome::from_status(0), SyncOutcome::Failed);
        assert_eq!(SyncOutcome::from_status(502), SyncOutcome::Failed);
    }

    #[test]
    fn outcomes_round_trip_through_their_status() {
        for outcome in [
            SyncOutcome::Snapshot,
            SyncOutcome::Unchanged,
            SyncOutcome::DocumentRequired,
            SyncOutcome::Conflict,
            SyncOutcome::Failed,
        ] {
            assert_eq!(SyncOutcome::from_status(outcome.status()), outcome);
        }
    }

    #[test]
    fn etags_and_body_kinds() {
        assert_eq!(etag("v1"), "\"v1\"");
        assert_eq!(etag_version(&etag("abc")), "abc");
        assert_eq!(etag_version("abc"), "abc");
        for kind in [SyncBody::Document, SyncBody::Light] {
            assert_eq!(
                SyncBody::of_content_type(Some(kind.content_type().as_bytes())),
                kind
            );
        }
        assert_eq!(SyncBody::of_content_type(None), SyncBody::Document);
        assert_eq!(SYNC_PRINCIPAL.encode(), FILTER_PRINCIPAL);
        assert_eq!(
            crate::paths::Route::of("POST", SYNC_PATH),
            crate::paths::Route::Sync
        );
    }
}
