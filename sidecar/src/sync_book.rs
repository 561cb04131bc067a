//! Sync bookkeeping: which filter VMs sync with this sidecar, which document and snapshot
//! version each holds, and waiting — for a version change (long-poll) or for every live VM
//! to hold a version (admin writes, so a change is enforced when the write returns).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::watch;

use meshgate_policy::sync::LIVE_MS;

/// VMs tracked at most; the stalest are dropped beyond it.
const MAX_VMS: usize = 4096;

#[derive(Debug, Clone)]
struct VmState {
    document: String,
    holds: Option<String>,
    last_seen_ms: u64,
}

pub struct SyncBook {
    vms: Mutex<HashMap<u64, VmState>>,
    /// The current snapshot version (long-polls wait for it to change).
    version: watch::Sender<String>,
    /// Bumped on every report from a VM (admin writes wait on it).
    reports: watch::Sender<u64>,
    /// The last conflicting document logged, so a retrying VM does not flood the log.
    logged_conflict: Mutex<Option<String>>,
}

impl Default for SyncBook {
    fn default() -> Self {
        SyncBook {
            vms: Mutex::default(),
            version: watch::Sender::new(String::new()),
            reports: watch::Sender::new(0),
            logged_conflict: Mutex::default(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SyncBook {
    /// A VM reported the document it has and the version it holds.
    pub fn record(&self, vm: u64, document: &str, holds: Option<String>, now_ms: u64) {
        {
            let mut vms = lock(&self.vms);
            vms.retain(|_, s| now_ms.saturating_sub(s.last_seen_ms) < LIVE_MS);
            if vms.len() >= MAX_VMS && !vms.contains_key(&vm) {
                if let Some(stalest) = vms
                    .iter()
                    .min_by_key(|(_, s)| s.last_seen_ms)
                    .map(|(k, _)| *k)
                {
                    vms.remove(&stalest);
                }
            }
            vms.insert(
                vm,
                VmState {
                    document: document.to_string(),
                    holds,
                    last_seen_ms: now_ms,
                },
            );
        }
        self.reports.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Whether a live VM other than `vm` syncs `document`.
    pub fn others_hold(&self, vm: u64, document: &str, now_ms: u64) -> bool {
        lock(&self.vms).iter().any(|(id, s)| {
            *id != vm && s.document == document && now_ms.saturating_sub(s.last_seen_ms) < LIVE_MS
        })
    }

    /// Logs a refused document once until another one is refused.
    pub fn log_conflict(&self, refused: &str, current: &str) {
        let mut last = lock(&self.logged_conflict);
        if last.as_deref() != Some(refused) {
            tracing::error!(
                refused = &refused[..refused.len().min(12)],
                current = &current[..current.len().min(12)],
                "two different configuration documents sync with this sidecar; keeping the one live filters already use and refusing the other (409) — give each Envoy configuration its own sidecar or make the documents equal"
            );
            *last = Some(refused.to_string());
        }
    }

    /// The compiled snapshot changed.
    pub fn publish(&self, version: &str) {
        self.version.send_if_modified(|v| {
            if v == version {
                false
            } else {
                *v = version.to_string();
                true
            }
        });
    }

    /// Waits until the current version is not `held`, at most `max`.
    pub async fn wait_change(&self, held: &str, max: Duration) {
        let mut rx = self.version.subscribe();
        let _ = tokio::time::timeout(max, rx.wait_for(|v| v != held)).await;
    }

    /// Waits until every live VM syncing `document` holds `version`, at most `max`.
    /// Returns how many still did not when it gave up.
    pub async fn await_version(
        &self,
        document: &str,
        version: &str,
        max: Duration,
        now_ms: impl Fn() -> u64,
    ) -> Result<(), usize> {
        let mut rx = self.reports.subscribe();
        let deadline = tokio::time::Instant::now() + max;
        loop {
            let behind = self.behind(document, version, now_ms());
            if behind == 0 {
                return Ok(());
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => return Err(self.behind(document, version, now_ms())),
            }
        }
    }

    fn behind(&self, document: &str, version: &str, now_ms: u64) -> usize {
        lock(&self.vms)
            .values()
            .filter(|s| {
                s.document == document
                    && now_ms.saturating_sub(s.last_seen_ms) < LIVE_MS
                    && s.holds.as_deref() != Some(version)
            })
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn admin_waits_for_every_live_vm() {
        let book = std::sync::Arc::new(SyncBook::default());
        book.record(1, "doc", Some("v1".into()), 1_000);
        book.record(2, "doc", Some("v1".into()), 1_000);
        book.record(3, "other", Some("v0".into()), 1_000);
        let now = || 1_000;
        assert_eq!(
            book.await_version("doc", "v1", Duration::from_millis(1), now)
                .await,
            Ok(())
        );
        assert_eq!(
            book.await_version("doc", "v2", Duration::from_millis(20), now)
                .await,
            Err(2)
        );
        let waiter = {
            let book = std::sync::Arc::clone(&book);
            tokio::spawn(async move {
                book.await_version("doc", "v2", Duration::from_secs(10), || 1_000)
                    .await
            })
        };
        book.record(1, "doc", Some("v2".into()), 1_000);
        book.record(2, "doc", Some("v2".into()), 1_000);
        assert_eq!(waiter.await.unwrap(), Ok(()));
        // A VM silent for longer than LIVE_MS is not waited for.
        assert_eq!(
            book.await_version("doc", "v3", Duration::from_millis(1), || 1_000 + LIVE_MS)
                .await,
            Ok(())
        );
        assert!(book.others_hold(1, "doc", 1_000));
        assert!(!book.others_hold(3, "other", 1_000));
    }

    #[tokio::test]
    async fn long_polls_end_when_the_version_changes() {
        let book = std::sync::Arc::new(SyncBook::default());
        book.publish("v1");
        let waiter = {
            let book = std::sync::Arc::clone(&book);
            tokio::spawn(async move { book.wait_change("v1", Duration::from_secs(10)).await })
        };
        book.publish("v2");
        waiter.await.unwrap();
    }
}
