//! Remembers which decisions this sidecar has accepted, so each is used once.
//!
//! Per filter VM (the nonce's VM id) a [`ReplayWindow`]: 8 KiB, whatever the rate. A VM
//! not heard from for twice the freshness window is forgotten — any decision it sealed
//! before that is stale by then, so forgetting it cannot readmit a replay. At most
//! [`MAX_SIGNERS`] VMs are tracked (32 MiB); beyond that, decisions of VMs not yet known
//! are refused until older ones are forgotten — never accepted unrecorded.
//!
//! The set is per sidecar process: replicas sharing a secret do not share it, so a
//! decision captured on its way to one replica could be replayed once at another. Give
//! each replica its own secret (and Envoy cluster), or use mTLS between Envoy and the
//! sidecar so there is nothing to capture (docs/security.md).

use std::collections::HashMap;
use std::sync::Mutex;

use meshgate_policy::replay::{Replay, ReplayWindow};
use meshgate_policy::signing::{Nonce, MAX_SKEW_MS};
use meshgate_policy::SignatureError;

pub const MAX_SIGNERS: usize = 4096;
/// How long a silent VM is remembered.
const FORGET_AFTER_MS: u64 = 2 * MAX_SKEW_MS;

struct Signer {
    window: ReplayWindow,
    last_seen_ms: u64,
}

#[derive(Default)]
pub struct ReplayGuard {
    signers: Mutex<HashMap<u64, Signer>>,
}

impl ReplayGuard {
    /// Records `nonce` as used; refuses it when it was used (or cannot be told apart).
    pub fn accept(&self, nonce: Nonce, now_ms: u64) -> Result<(), SignatureError> {
        let mut signers = self
            .signers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !signers.contains_key(&nonce.vm) && signers.len() >= MAX_SIGNERS {
            signers.retain(|_, s| now_ms.saturating_sub(s.last_seen_ms) < FORGET_AFTER_MS);
            if signers.len() >= MAX_SIGNERS {
                tracing::error!(
                    "{MAX_SIGNERS} filter VMs signed requests in the last {} s; refusing a new one",
                    FORGET_AFTER_MS / 1000
                );
                return Err(SignatureError::TooManySigners);
            }
        }
        let signer = signers.entry(nonce.vm).or_insert_with(|| Signer {
            window: ReplayWindow::default(),
            last_seen_ms: now_ms,
        });
        signer.last_seen_ms = signer.last_seen_ms.max(now_ms);
        match signer.window.accept(nonce.counter) {
            Ok(()) => Ok(()),
            Err(Replay::Seen) => Err(SignatureError::Replayed),
            Err(Replay::TooOld) => {
                tracing::warn!(
                    "a decision arrived more than {} requests behind later ones from its filter VM; refused as a possible replay",
                    meshgate_policy::replay::WINDOW
                );
                Err(SignatureError::Replayed)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_nonce_and_bounded() {
        let guard = ReplayGuard::default();
        let n = Nonce { vm: 1, counter: 0 };
        assert_eq!(guard.accept(n, 0), Ok(()));
        assert_eq!(guard.accept(n, 0), Err(SignatureError::Replayed));
        for vm in 2..=MAX_SIGNERS as u64 {
            assert_eq!(guard.accept(Nonce { vm, counter: 0 }, 0), Ok(()));
        }
        let newcomer = Nonce { vm: 0, counter: 0 };
        assert_eq!(
            guard.accept(newcomer, 1),
            Err(SignatureError::TooManySigners)
        );
        // Known VMs keep working; once the others are silent long enough, room is made.
        assert_eq!(
            guard.accept(Nonce { vm: 1, counter: 1 }, FORGET_AFTER_MS),
            Ok(())
        );
        assert_eq!(guard.accept(newcomer, FORGET_AFTER_MS), Ok(()));
        assert_eq!(
            guard.accept(n, FORGET_AFTER_MS),
            Err(SignatureError::Replayed)
        );
    }
}
