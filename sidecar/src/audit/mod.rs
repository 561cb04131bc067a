//! The audit trail: Envoy's access log of every request — the filter's refusals included,
//! which the sidecar never sees otherwise — arrives over gRPC (`als.rs`), each entry
//! becomes a row (`entry.rs`), rows are enriched with the key's alias, team and
//! organization (`directory.rs`) and written to the store in batches, off every request's
//! path. The admin route `GET /audit/logs` reads them (`crate::admin::audit`).
//!
//! Queue: at most [`QUEUE`] rows wait. When it is full (the database is slower than the
//! traffic for a while) new rows are dropped and counted (`dropped`, logged at most once
//! per 10 s) rather than holding Envoy's stream: Envoy's own access-log buffer would fill
//! and drop in turn. A batch the database refuses is retried once, then dropped and
//! counted. On shutdown the queue is written out before the process ends. The counts
//! are served at `GET /audit/metrics` ([`AuditCounters`]).

pub mod als;
mod directory;
pub mod entry;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use meshgate_store::NewAuditRow;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::state::AppState;

/// Rows that may wait for the writer.
pub const QUEUE: usize = 10_000;
/// Most rows written in one transaction.
pub const BATCH: usize = 500;

/// What the trail did with the rows it was given (`GET /audit/metrics`).
#[derive(Debug, Default)]
pub struct AuditCounters {
    /// Rows that came from Envoy's access log.
    pub received: AtomicU64,
    /// Rows stored.
    pub written: AtomicU64,
    /// Rows lost: the queue was full, or the database refused their batch twice.
    pub dropped: AtomicU64,
}

impl AuditCounters {
    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "audit_rows_received": self.received.load(Ordering::Relaxed),
            "audit_rows_written": self.written.load(Ordering::Relaxed),
            "audit_rows_dropped": self.dropped.load(Ordering::Relaxed),
            "audit_queue_capacity": QUEUE,
        })
    }
}

/// The sending end, cloned into every ALS stream.
#[derive(Clone)]
pub struct AuditTrail {
    tx: mpsc::Sender<NewAuditRow>,
    counters: Arc<AuditCounters>,
}

impl AuditTrail {
    /// Starts the writer; it ends (after writing what is queued) when every sender is
    /// dropped.
    pub fn start(state: Arc<AppState>) -> (AuditTrail, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let counters = Arc::clone(&state.audit);
        let writer = tokio::spawn(write_loop(state, rx));
        (AuditTrail { tx, counters }, writer)
    }

    /// Queues a row; a full queue drops it (counted).
    pub fn push(&self, row: NewAuditRow) {
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        if self.tx.try_send(row).is_err() {
            let n = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            crate::log_limit::warn_limited!(
                "audit",
                "queue full",
                dropped = n,
                "audit: the queue is full; rows are dropped"
            );
        }
    }
}

async fn write_loop(state: Arc<AppState>, mut rx: mpsc::Receiver<NewAuditRow>) {
    let counters = Arc::clone(&state.audit);
    let mut directory = directory::Directory::default();
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        directory.fill(&state, &mut batch).await;
        let mut written = state.store.insert_audit_rows(&batch).await;
        if written.is_err() {
            tokio::time::sleep(Duration::from_millis(500)).await;
            written = state.store.insert_audit_rows(&batch).await;
        }
        let n = batch.len() as u64;
        match written {
            Ok(_) => {
                counters.written.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => {
                let n = counters.dropped.fetch_add(n, Ordering::Relaxed) + n;
                crate::log_limit::warn_limited!(
                    "audit",
                    "write",
                    dropped = n,
                    "audit: cannot write {} rows: {e}",
                    batch.len()
                );
            }
        }
        batch.clear();
    }
}
