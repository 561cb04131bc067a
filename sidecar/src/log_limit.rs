//! Repeated identical warnings, rate-limited: the first of a kind in a window is
//! logged, the rest only counted, and the count rides on the next one logged. One
//! request (a batch, a flood of bad signatures) must not write thousands of lines.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(10);
/// Distinct kinds remembered; beyond, the table starts over (a few extra lines, no growth).
const MAX_KINDS: usize = 4096;

struct Seen {
    since: Instant,
    suppressed: u64,
}

fn table() -> &'static Mutex<HashMap<u64, Seen>> {
    static TABLE: OnceLock<Mutex<HashMap<u64, Seen>>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

/// Whether a message of this kind (`site` + `detail`, e.g. the server name and the
/// error text) may be logged now: Some(how many were suppressed before it), or None.
pub fn admit(site: &str, detail: &str) -> Option<u64> {
    admit_at(site, detail, Instant::now())
}

fn admit_at(site: &str, detail: &str, now: Instant) -> Option<u64> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (site, detail).hash(&mut h);
    let key = h.finish();
    let mut table = table().lock().ok()?;
    if table.len() >= MAX_KINDS && !table.contains_key(&key) {
        table.clear();
    }
    match table.get_mut(&key) {
        Some(seen) if now.duration_since(seen.since) < WINDOW => {
            seen.suppressed += 1;
            None
        }
        Some(seen) => {
            let suppressed = seen.suppressed;
            *seen = Seen {
                since: now,
                suppressed: 0,
            };
            Some(suppressed)
        }
        None => {
            table.insert(
                key,
                Seen {
                    since: now,
                    suppressed: 0,
                },
            );
            Some(0)
        }
    }
}

/// `tracing::warn!`, at most once per kind per window (see [`admit`]); the kind is
/// `$site` and `$detail` (strings). Lines after a quiet spell carry `repeated = n`.
macro_rules! warn_limited {
    ($site:expr, $detail:expr, $($arg:tt)+) => {
        if let Some(repeated) = $crate::log_limit::admit($site, $detail) {
            if repeated > 0 {
                tracing::warn!(repeated, $($arg)+);
            } else {
                tracing::warn!($($arg)+);
            }
        }
    };
}
pub(crate) use warn_limited;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_kind_per_window_with_the_count_after() {
        let t0 = Instant::now();
        assert_eq!(admit_at("test-site", "boom", t0), Some(0));
        for _ in 0..1000 {
            assert_eq!(
                admit_at("test-site", "boom", t0 + Duration::from_secs(1)),
                None
            );
        }
        // Another kind is not held back by the first.
        assert_eq!(admit_at("test-site", "other", t0), Some(0));
        assert_eq!(admit_at("test-site", "boom", t0 + WINDOW), Some(1000));
        assert_eq!(admit_at("test-site", "boom", t0 + WINDOW), None);
    }
}
