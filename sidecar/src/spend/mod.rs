//! Spend rows off the request path: handlers [`SpendLog::record`] a row into a bounded
//! queue; one writer task drains it in batches into the store (one transaction per
//! batch, gathered for at most the linger time after its first row). Never on the request's path: recording is a `try_send`; only when the queue
//! is full does a request wait, at most [`SpendLog::wait`], for room — then the row is
//! dropped and counted (`spend_rows_dropped`, `GET /spend/metrics`). On graceful
//! shutdown [`SpendLog::flush`] writes everything queued (docs/spend.md).

pub mod budget;
pub mod record;

use futures_util::future::BoxFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

use meshgate_store::{SpendRow, Store, MAX_SPEND_BATCH};

/// Default queue capacity (rows): ~10 s of 1,000 calls/s with the store away.
pub const DEFAULT_QUEUE: usize = 10_000;
/// Default longest wait for room in a full queue.
pub const DEFAULT_WAIT: Duration = Duration::from_millis(10);
/// Default time the writer gathers rows after the first before writing them: fewer,
/// larger transactions under load; rows reach the store (and budgets) this much later.
pub const DEFAULT_LINGER: Duration = Duration::from_millis(100);
/// Attempts to write one batch before its rows count as failed.
const WRITE_ATTEMPTS: u32 = 5;

/// Where batches go: the store, or a test's stand-in. A batch is shared, not copied,
/// between a write and its retries.
pub type Sink =
    Arc<dyn Fn(Arc<Vec<SpendRow>>) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// A sink writing to the store; stored rows leave the budget watch's unwritten spend.
pub fn store_sink(store: Store, watch: Arc<budget::BudgetWatch>) -> Sink {
    Arc::new(move |rows: Arc<Vec<SpendRow>>| {
        let (store, watch) = (store.clone(), Arc::clone(&watch));
        Box::pin(async move {
            store.insert_spend(&rows).await.map_err(|e| e.to_string())?;
            watch.stored(&rows);
            Ok(())
        })
    })
}

/// The queue's knobs (sidecar flags `--spend-queue`, `--spend-queue-wait-ms`,
/// `--spend-batch-ms`).
#[derive(Debug, Clone, Copy)]
pub struct QueueSettings {
    pub capacity: usize,
    pub wait: Duration,
    pub linger: Duration,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            capacity: DEFAULT_QUEUE,
            wait: DEFAULT_WAIT,
            linger: DEFAULT_LINGER,
        }
    }
}

/// What the queue did (served at `GET /spend/metrics`).
#[derive(Debug, Default)]
pub struct SpendCounters {
    pub recorded: AtomicU64,
    pub written: AtomicU64,
    /// Rows refused because the queue stayed full for the whole wait.
    pub dropped: AtomicU64,
    /// Rows whose batch the store refused [`WRITE_ATTEMPTS`] times.
    pub failed: AtomicU64,
}

pub struct SpendLog {
    rows: mpsc::Sender<SpendRow>,
    flushes: mpsc::Sender<oneshot::Sender<()>>,
    wait: Duration,
    capacity: usize,
    pub counters: Arc<SpendCounters>,
}

impl SpendLog {
    /// A queue of `capacity` rows and its writer task (spawned on the current runtime).
    pub fn start(sink: Sink, capacity: usize, wait: Duration, linger: Duration) -> SpendLog {
        let capacity = capacity.max(1);
        let (rows, rx) = mpsc::channel(capacity);
        let (flushes, flush_rx) = mpsc::channel(4);
        let counters = Arc::new(SpendCounters::default());
        tokio::spawn(writer(sink, rx, flush_rx, Arc::clone(&counters), linger));
        SpendLog {
            rows,
            flushes,
            wait,
            capacity,
            counters,
        }
    }

    /// Queues a row; true when it was queued. Returns at once while the queue has
    /// room; when it is full, waits at most [`SpendLog::wait`] for room, then drops the
    /// row and counts it.
    pub async fn record(&self, row: SpendRow) -> bool {
        self.counters.recorded.fetch_add(1, Ordering::Relaxed);
        let row = match self.rows.try_send(row) {
            Ok(()) => return true,
            Err(mpsc::error::TrySendError::Full(row)) => row,
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.dropped("the spend writer has stopped");
                return false;
            }
        };
        if self.rows.send_timeout(row, self.wait).await.is_err() {
            self.dropped("the spend queue is full");
            return false;
        }
        true
    }

    fn dropped(&self, why: &str) {
        self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        crate::log_limit::warn_limited!("spend", why, "spend row dropped: {why}");
    }

    /// Writes every row queued before this call; returns when they are stored (or
    /// counted as failed), or after `deadline`.
    pub async fn flush(&self, deadline: Duration) -> bool {
        let (done, wait) = oneshot::channel();
        if self.flushes.send(done).await.is_err() {
            return false;
        }
        tokio::time::timeout(deadline, wait).await.is_ok()
    }

    pub fn metrics(&self) -> serde_json::Value {
        let c = &self.counters;
        serde_json::json!({
            "spend_rows_recorded": c.recorded.load(Ordering::Relaxed),
            "spend_rows_written": c.written.load(Ordering::Relaxed),
            "spend_rows_dropped": c.dropped.load(Ordering::Relaxed),
            "spend_rows_failed": c.failed.load(Ordering::Relaxed),
            "spend_queue_capacity": self.capacity,
            "spend_queue_length": self.capacity - self.rows.capacity(),
        })
    }
}

/// Drains the queue: waits for a row, lets more gather for at most `linger` (or until a
/// batch is full), writes them in one transaction. A flush request drains the queue
/// completely before it is acknowledged.
async fn writer(
    sink: Sink,
    mut rx: mpsc::Receiver<SpendRow>,
    mut flushes: mpsc::Receiver<oneshot::Sender<()>>,
    counters: Arc<SpendCounters>,
    linger: Duration,
) {
    loop {
        let flush = tokio::select! {
            biased;
            Some(done) = flushes.recv() => Some(done),
            first = rx.recv() => {
                let Some(first) = first else { return };
                let flush = gather(&rx, &mut flushes, linger).await;
                let batch = take_queued(&mut rx, vec![first]);
                write(&sink, batch, &counters).await;
                flush
            }
        };
        if let Some(done) = flush {
            loop {
                let batch = take_queued(&mut rx, Vec::new());
                if batch.is_empty() {
                    break;
                }
                write(&sink, batch, &counters).await;
            }
            let _ = done.send(());
        }
    }
}

/// Waits while rows gather in the queue: until `linger` has passed, a batch's worth is
/// queued (looked at every quarter of the linger), or a flush is asked for (returned).
/// Rows are not received one by one meanwhile: waking the writer for each row cost a
/// cross-thread wake-up per call.
async fn gather(
    rx: &mpsc::Receiver<SpendRow>,
    flushes: &mut mpsc::Receiver<oneshot::Sender<()>>,
    linger: Duration,
) -> Option<oneshot::Sender<()>> {
    let deadline = tokio::time::Instant::now() + linger;
    let step = (linger / 4).max(Duration::from_millis(1));
    loop {
        let now = tokio::time::Instant::now();
        // The first row is out of the queue already.
        if now >= deadline || rx.len() + 1 >= MAX_SPEND_BATCH {
            return None;
        }
        tokio::select! {
            biased;
            Some(done) = flushes.recv() => return Some(done),
            _ = tokio::time::sleep_until((now + step).min(deadline)) => {}
        }
    }
}

fn take_queued(rx: &mut mpsc::Receiver<SpendRow>, mut batch: Vec<SpendRow>) -> Vec<SpendRow> {
    while batch.len() < MAX_SPEND_BATCH {
        match rx.try_recv() {
            Ok(row) => batch.push(row),
            Err(_) => break,
        }
    }
    batch
}

async fn write(sink: &Sink, batch: Vec<SpendRow>, counters: &SpendCounters) {
    let n = batch.len() as u64;
    let batch = Arc::new(batch);
    let mut backoff = Duration::from_millis(50);
    for attempt in 1..=WRITE_ATTEMPTS {
        match sink(Arc::clone(&batch)).await {
            Ok(()) => {
                counters.written.fetch_add(n, Ordering::Relaxed);
                return;
            }
            Err(e) if attempt == WRITE_ATTEMPTS => {
                counters.failed.fetch_add(n, Ordering::Relaxed);
                tracing::error!(
                    rows = n,
                    "spend rows not written after {attempt} attempts: {e}"
                );
            }
            Err(e) => {
                crate::log_limit::warn_limited!(
                    "spend",
                    "write",
                    "spend batch write failed, retrying: {e}"
                );
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
    }
}

#[cfg(test)]
mod tests;
