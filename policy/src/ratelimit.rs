//! Per-key request limits (requests per minute), as fixed one-minute windows.

use std::collections::HashMap;

pub const WINDOW_MS: u64 = 60_000;

/// One key's current window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateWindow {
    pub start_ms: u64,
    pub count: u32,
}

impl RateWindow {
    /// Counts a request if the limit allows it; returns whether it was admitted.
    pub fn admit(&mut self, now_ms: u64, limit: u32) -> bool {
        if self.count == 0 || now_ms.saturating_sub(self.start_ms) >= WINDOW_MS {
            *self = RateWindow {
                start_ms: now_ms,
                count: 0,
            };
        }
        if self.count < limit {
            self.count += 1;
            true
        } else {
            false
        }
    }

    /// Seconds until the window resets.
    pub fn retry_after_secs(&self, now_ms: u64) -> u64 {
        (self.start_ms + WINDOW_MS)
            .saturating_sub(now_ms)
            .div_ceil(1000)
            .max(1)
    }

    /// 12-byte encoding for shared storage across workers.
    pub fn encode(&self) -> [u8; 12] {
        let mut out = [0u8; 12];
        out[..8].copy_from_slice(&self.start_ms.to_be_bytes());
        out[8..].copy_from_slice(&self.count.to_be_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<RateWindow> {
        let start_ms = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
        let count = u32::from_be_bytes(bytes.get(8..12)?.try_into().ok()?);
        Some(RateWindow { start_ms, count })
    }
}

/// Where windows live: the filter keeps them in Envoy's shared data so all workers
/// count together; tests use [`LocalRateGate`].
pub trait RateGate {
    /// Admits or refuses one request of `key_id`; on refusal returns seconds to wait.
    fn admit(&mut self, key_id: &str, limit: u32, now_ms: u64) -> Result<(), u64>;
}

#[derive(Default)]
pub struct LocalRateGate {
    windows: HashMap<String, RateWindow>,
}

impl RateGate for LocalRateGate {
    fn admit(&mut self, key_id: &str, limit: u32, now_ms: u64) -> Result<(), u64> {
        let w = self.windows.entry(key_id.to_string()).or_default();
        if w.admit(now_ms, limit) {
            Ok(())
        } else {
            Err(w.retry_after_secs(now_ms))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_counts_and_resets() {
        let mut w = RateWindow::default();
        assert!(w.admit(1_000, 2));
        assert!(w.admit(1_500, 2));
        assert!(!w.admit(2_000, 2));
        assert_eq!(w.retry_after_secs(2_000), 59);
        assert!(w.admit(61_000, 2), "a new window");
        assert_eq!(RateWindow::decode(&w.encode()), Some(w));
        assert_eq!(RateWindow::decode(&[1, 2]), None);
    }

    #[test]
    fn local_gate_is_per_key() {
        let mut g = LocalRateGate::default();
        assert!(g.admit("a", 1, 0).is_ok());
        assert!(g.admit("a", 1, 1).is_err());
        assert!(g.admit("b", 1, 1).is_ok());
    }
}
