//! Session revocations recorded by other replicas, read on the sidecar's store poll
//! (`session_life.rs` keeps them; this applies them to the open streams).

use crate::sessions::id::revocation_key;
use crate::state::AppState;

/// One poll of the store (with the sidecar's 250 ms store poll): revocations recorded
/// by other replicas take effect here, and the streams of those sessions end.
pub async fn poll(state: &AppState) {
    match state.session_life.refresh(&state.store).await {
        Ok(fresh) if !fresh.is_empty() => state
            .hub
            .end_sessions_where(|token| fresh.contains(&revocation_key(token))),
        Ok(_) => {}
        Err(e) => tracing::debug!("session revocations not read: {e}"),
    }
}
