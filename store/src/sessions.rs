//! Client sessions ended before their time (MCP `DELETE`), shared by every replica.
//!
//! A session id is self-contained, so ending one means remembering it until it would
//! have expired anyway: each entry carries that time and [`Store::prune_session_revocations`]
//! drops entries past it. Writes here do not move [`Store::revision`] (they are not policy).

use crate::db::Q;
use crate::error::StoreError;
use crate::open::Store;

/// One ended session: its key (a hash of the id, never the id) and when the id expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRevocation {
    pub session_key: String,
    pub revoked_at_ms: i64,
    pub expires_at_ms: i64,
}

impl Store {
    /// Records that a session ended; a second revocation of the same key changes nothing.
    pub async fn revoke_session(
        &self,
        session_key: &str,
        revoked_at_ms: i64,
        expires_at_ms: i64,
    ) -> Result<(), StoreError> {
        if session_key.is_empty() || session_key.len() > 128 {
            return Err(StoreError::Invalid {
                field: "session_key".into(),
                message: "must be 1 to 128 characters".into(),
            });
        }
        let mut tx = self.write_unversioned().await?;
        tx.execute(
            Q::new(
                "INSERT INTO session_revocations (session_key, revoked_at_ms, expires_at_ms) \
                 VALUES ($1, $2, $3) ON CONFLICT (session_key) DO NOTHING",
            )
            .text(session_key)
            .int(Some(revoked_at_ms))
            .int(Some(expires_at_ms)),
        )
        .await?;
        tx.commit().await
    }

    /// Revocations recorded at or after `since_ms` that have not expired by `now_ms`.
    pub async fn session_revocations_since(
        &self,
        since_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<SessionRevocation>, StoreError> {
        let mut tx = self.read().await?;
        let rows = tx
            .fetch_all(
                Q::new(
                    "SELECT session_key, revoked_at_ms, expires_at_ms FROM session_revocations \
                     WHERE revoked_at_ms >= $1 AND expires_at_ms > $2 ORDER BY revoked_at_ms",
                )
                .int(Some(since_ms))
                .int(Some(now_ms)),
            )
            .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| {
                Ok(SessionRevocation {
                    session_key: r.get("session_key")?,
                    revoked_at_ms: r.get("revoked_at_ms")?,
                    expires_at_ms: r.get("expires_at_ms")?,
                })
            })
            .collect()
    }

    /// Drops the revocations of ids that have expired by `now_ms`; returns how many.
    pub async fn prune_session_revocations(&self, now_ms: i64) -> Result<u64, StoreError> {
        let mut tx = self.write_unversioned().await?;
        let removed = tx
            .execute(
                Q::new("DELETE FROM session_revocations WHERE expires_at_ms <= $1")
                    .int(Some(now_ms)),
            )
            .await?;
        tx.commit().await?;
        Ok(removed)
    }
}
