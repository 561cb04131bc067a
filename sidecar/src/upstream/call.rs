//! What one client request brings to an upstream ([`CallContext`]), and what it is to
//! one HTTP-based server ([`Outbound`]: the headers it sends and the upstream session
//! they select), computed once per call.

use http::HeaderMap;
use std::sync::Arc;

use super::carried::CarriedSession;
use super::credentials::{self, ServerHeaders};
use crate::relay::{ClientCaps, Exchange};

/// What a request carries from the client that an upstream may need: its HTTP headers
/// (for `extra_headers` and `x-mcp-<prefix>-<header>`), the name of the gateway-key
/// header (never forwarded), the client's capabilities (upstream sessions are opened
/// with them) and its exchange (where related server messages go). Empty for the
/// gateway's own requests (e.g. list refreshes).
#[derive(Clone, Copy, Default)]
pub struct CallContext<'a> {
    pub exchange: Option<&'a Arc<Exchange>>,
    /// The client session id, so unprompted upstream messages find their sessions.
    pub session: Option<&'a str>,
    /// Upstream sessions the client's session id carries (opened by any replica).
    pub carried: &'a [CarriedSession],
    pub caps: ClientCaps,
    pub client_headers: Option<&'a HeaderMap>,
    /// `general_settings.litellm_key_header_name`; `x-litellm-api-key` when None.
    pub key_header: Option<&'a str>,
    /// The legacy one-credential-for-all header (`x-mcp-auth` unless renamed).
    pub legacy_auth_header: Option<&'a str>,
    /// Every configured server prefix, lowercased ([`credentials::known_prefixes`]):
    /// an `x-mcp-<prefix>-…` header goes to the server with the longest one.
    pub known_prefixes: &'a [String],
    /// Headers custom hooks added to this call (`crate::hooks`; their names are checked
    /// there): sent last, to this server only, and part of the upstream-session key.
    pub hook_headers: Option<&'a HeaderMap>,
}

/// One call as one HTTP-based server sees it: the headers it receives and the key of
/// the upstream session (and tool catalog) they and the client's capabilities select.
pub struct Outbound {
    pub headers: HeaderMap,
    pub key: u64,
}

impl Outbound {
    /// See [`credentials::outbound_headers`].
    pub fn of(call: &CallContext<'_>, server: &ServerHeaders) -> Outbound {
        static EMPTY: std::sync::OnceLock<HeaderMap> = std::sync::OnceLock::new();
        let client = call
            .client_headers
            .unwrap_or_else(|| EMPTY.get_or_init(HeaderMap::new));
        let mut headers = credentials::outbound_headers(
            server,
            client,
            call.key_header
                .unwrap_or(meshgate_policy::auth::DEFAULT_KEY_HEADER),
            call.legacy_auth_header
                .unwrap_or(credentials::DEFAULT_LEGACY_AUTH_HEADER),
            call.known_prefixes,
        );
        for (name, value) in call.hook_headers.into_iter().flatten() {
            headers.insert(name.clone(), value.clone());
        }
        let key = session_key(&headers, call.caps);
        Outbound { headers, key }
    }
}

/// A stable key for a set of outbound headers and client capabilities: upstream
/// sessions (and tool lists) are kept per distinct pair, so no session is shared across
/// client identities, and each is opened with the capabilities of its clients.
pub fn session_key(headers: &HeaderMap, caps: ClientCaps) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut pairs: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_bytes()))
        .collect();
    pairs.sort();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    pairs.hash(&mut h);
    caps.hash(&mut h);
    h.finish()
}
