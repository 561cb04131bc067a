//! How long a client session lives: its absolute lifetime (from the issue time in the
//! id, so every replica agrees), its idle time (judged by the replica that sees it) and
//! its end by `DELETE` (a revocation shared through the store: recorded here at once,
//! read by the other replicas on their next poll of the store, every 250 ms).

use meshgate_policy::config::MeshgateSettings;
use meshgate_store::Store;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use super::id::{revocation_key, SessionInfo};
use crate::verify::now_ms;

/// Sessions whose last use a replica remembers at most; beyond, expired entries go
/// first, then all (those sessions then count as just used: idle time fails open,
/// the absolute lifetime still holds).
const MAX_SEEN: usize = 100_000;
/// Each poll re-reads revocations this far back, so one committed late (or written by a
/// replica whose clock is a little behind) is not missed.
const POLL_OVERLAP_MS: u64 = 10_000;
/// How often expired revocations are pruned, here and in the store.
const PRUNE_EVERY_MS: u64 = 60_000;

/// The lifetimes in force (`meshgate.session_idle_timeout_ms`, `…_max_lifetime_ms`).
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub idle_ms: u64,
    pub max_ms: u64,
}

impl Lifetimes {
    pub fn of(settings: &MeshgateSettings) -> Self {
        Lifetimes {
            idle_ms: settings.session_idle_timeout_ms,
            max_ms: settings.session_max_lifetime_ms,
        }
    }

    fn expires_at(&self, info: &SessionInfo) -> u64 {
        info.issued_at.saturating_add(self.max_ms)
    }
}

struct Seen {
    last_ms: u64,
    expires_ms: u64,
}

#[derive(Default)]
pub struct SessionLife {
    /// Revocation key → when the id expires anyway (then the entry goes).
    revoked: RwLock<HashMap<String, u64>>,
    /// Revocation key → last use on this replica.
    seen: Mutex<HashMap<String, Seen>>,
    /// Start of the last successful poll of the store (0: never polled).
    polled_at: AtomicU64,
    pruned_at: AtomicU64,
}

impl SessionLife {
    /// Whether the session may be used now; a use counts as activity. Refused: revoked,
    /// past its lifetime, or unused on this replica for longer than the idle timeout.
    pub fn admit(&self, token: &str, info: &SessionInfo, lifetimes: Lifetimes) -> bool {
        self.admit_at(&revocation_key(token), info, lifetimes, now_ms())
    }

    fn admit_at(&self, key: &str, info: &SessionInfo, lifetimes: Lifetimes, now: u64) -> bool {
        let expires_ms = lifetimes.expires_at(info);
        if now >= expires_ms || self.revoked.read().is_ok_and(|r| r.contains_key(key)) {
            return false;
        }
        let Ok(mut seen) = self.seen.lock() else {
            return true;
        };
        if let Some(entry) = seen.get_mut(key) {
            if now.saturating_sub(entry.last_ms) > lifetimes.idle_ms {
                // Stays remembered (until its lifetime ends), so it stays refused.
                return false;
            }
            entry.last_ms = entry.last_ms.max(now);
            return true;
        }
        if seen.len() >= MAX_SEEN {
            seen.retain(|_, s| s.expires_ms > now);
            if seen.len() >= MAX_SEEN {
                seen.clear();
            }
        }
        seen.insert(
            key.to_string(),
            Seen {
                last_ms: now,
                expires_ms,
            },
        );
        true
    }

    /// Ends a session: refused here from now on, and on every replica once recorded in
    /// the store (the error says the store could not be written; it is refused here).
    pub async fn revoke(
        &self,
        store: &Store,
        token: &str,
        info: &SessionInfo,
        lifetimes: Lifetimes,
    ) -> Result<(), meshgate_store::StoreError> {
        let key = revocation_key(token);
        let expires_ms = lifetimes.expires_at(info);
        if let Ok(mut r) = self.revoked.write() {
            r.insert(key.clone(), expires_ms);
        }
        if let Ok(mut seen) = self.seen.lock() {
            seen.remove(&key);
        }
        store
            .revoke_session(&key, as_i64(now_ms()), as_i64(expires_ms))
            .await
    }

    /// Reads the revocations other replicas recorded since the last poll; returns the
    /// keys new to this replica (their streams should end). Prunes now and then.
    pub async fn refresh(
        &self,
        store: &Store,
    ) -> Result<HashSet<String>, meshgate_store::StoreError> {
        let started = now_ms();
        let since = self
            .polled_at
            .load(Ordering::Relaxed)
            .saturating_sub(POLL_OVERLAP_MS);
        let found = store
            .session_revocations_since(as_i64(since), as_i64(started))
            .await?;
        let mut fresh = HashSet::new();
        if let Ok(mut r) = self.revoked.write() {
            for rev in found {
                let expires = u64::try_from(rev.expires_at_ms).unwrap_or(0);
                if r.insert(rev.session_key.clone(), expires).is_none() {
                    fresh.insert(rev.session_key);
                }
            }
        }
        self.polled_at.store(started, Ordering::Relaxed);
        if started.saturating_sub(self.pruned_at.load(Ordering::Relaxed)) >= PRUNE_EVERY_MS {
            self.pruned_at.store(started, Ordering::Relaxed);
            self.prune_local(started);
            store.prune_session_revocations(as_i64(started)).await?;
        }
        Ok(fresh)
    }

    fn prune_local(&self, now: u64) {
        if let Ok(mut r) = self.revoked.write() {
            r.retain(|_, expires| *expires > now);
        }
        if let Ok(mut seen) = self.seen.lock() {
            seen.retain(|_, s| s.expires_ms > now);
        }
    }
}

fn as_i64(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::ClientCaps;

    fn info(issued_at: u64) -> SessionInfo {
        SessionInfo {
            protocol_version: "2025-11-25",
            issued_at,
            principal: 1,
            caps: ClientCaps(0),
            upstreams: vec![],
        }
    }

    #[test]
    fn lifetime_and_idle_time() {
        let life = SessionLife::default();
        let l = Lifetimes {
            idle_ms: 100,
            max_ms: 1000,
        };
        let s = info(10_000);
        assert!(life.admit_at("k", &s, l, 10_000));
        assert!(life.admit_at("k", &s, l, 10_090));
        assert!(life.admit_at("k", &s, l, 10_180), "use keeps it alive");
        assert!(!life.admit_at("k", &s, l, 10_300), "idle too long");
        assert!(!life.admit_at("k", &s, l, 10_310), "and stays refused");
        // First seen here late (another replica served it): counts as used now.
        assert!(life.admit_at("other", &s, l, 10_900));
        assert!(!life.admit_at("other", &s, l, 11_000), "past its lifetime");
    }
}
