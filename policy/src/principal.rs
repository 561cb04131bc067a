//! Who a request acts as, as the filter seals it and the sidecar reads it back
//! (`x-meshgate-decision`'s principal field): written by [`Principal::encode`], read by
//! [`Principal::parse`] and nowhere else.

use std::fmt;

/// Wire form of the master key's principal.
pub const MASTER: &str = "master";
/// Wire form of the unauthenticated health probes' principal.
pub const HEALTH: &str = "_health";
/// Wire form of the principal the filter signs its policy syncs as.
pub const FILTER: &str = "_filter";
/// Prefix of a virtual key's principal: `key:<id>`.
const KEY_PREFIX: &str = "key:";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    /// The master key: every server, every admin route.
    Master,
    /// A virtual key, by id (the first 16 hex digits of its hash).
    Key(String),
    /// A health probe (no key).
    Health,
    /// The filter itself, syncing its policy.
    Filter,
}

impl Principal {
    /// The wire form (never contains a space: the decision header is space-separated).
    pub fn encode(&self) -> String {
        match self {
            Principal::Master => MASTER.to_string(),
            Principal::Key(id) => format!("{KEY_PREFIX}{id}"),
            Principal::Health => HEALTH.to_string(),
            Principal::Filter => FILTER.to_string(),
        }
    }

    /// Reads the wire form; None for anything [`Principal::encode`] cannot write.
    pub fn parse(text: &str) -> Option<Principal> {
        match text {
            MASTER => Some(Principal::Master),
            HEALTH => Some(Principal::Health),
            FILTER => Some(Principal::Filter),
            _ => {
                let id = text.strip_prefix(KEY_PREFIX)?;
                let valid = !id.is_empty() && !id.contains(|c: char| c.is_whitespace());
                valid.then(|| Principal::Key(id.to_string()))
            }
        }
    }

    /// The virtual key's id, when a virtual key sent the request.
    pub fn key_id(&self) -> Option<&str> {
        match self {
            Principal::Key(id) => Some(id),
            _ => None,
        }
    }

    pub fn is_master(&self) -> bool {
        *self == Principal::Master
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_principal_round_trips() {
        for p in [
            Principal::Master,
            Principal::Key("0123abcd0123abcd".into()),
            Principal::Health,
            Principal::Filter,
        ] {
            assert_eq!(Principal::parse(&p.encode()), Some(p.clone()), "{p}");
        }
        assert_eq!(Principal::Key("ab".into()).encode(), "key:ab");
        assert_eq!(Principal::Master.encode(), "master");
    }

    #[test]
    fn only_what_encode_writes_parses() {
        for bad in ["", "key:", "Master", "key:a b", "alice", "_filter "] {
            assert_eq!(Principal::parse(bad), None, "{bad:?}");
        }
        let key = Principal::parse("key:ab").unwrap();
        assert_eq!(key.key_id(), Some("ab"));
        assert!(!key.is_master());
        assert!(Principal::parse("master").unwrap().is_master());
        assert_eq!(Principal::Filter.key_id(), None);
    }
}
