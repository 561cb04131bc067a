//! Rate windows in Envoy's shared data, so every worker of this Envoy counts against
//! the same limit. Compare-and-swap retries keep concurrent workers from losing counts.

use meshgate_policy::ratelimit::{RateGate, RateWindow};

use crate::abi;
use crate::host::Host;

const CAS_RETRIES: usize = 4;

pub struct SharedRateGate<'h, H: Host>(pub &'h H);

impl<H: Host> RateGate for SharedRateGate<'_, H> {
    fn admit_n(&mut self, key_id: &str, limit: u32, n: u32, now_ms: u64) -> Result<(), u64> {
        let slot = format!("meshgate.rl.{key_id}");
        for _ in 0..CAS_RETRIES {
            let (bytes, cas) = match self.0.get_shared_data(&slot) {
                Ok(v) => v,
                Err(_) => return Ok(()), // no shared store: do not block traffic on it
            };
            let mut window = bytes
                .as_deref()
                .and_then(RateWindow::decode)
                .unwrap_or_default();
            if !window.admit_n(now_ms, limit, n) {
                return Err(window.retry_after_secs(now_ms));
            }
            match self.0.set_shared_data(&slot, &window.encode(), cas) {
                Ok(()) => return Ok(()),
                Err(abi::HostStatus(abi::CAS_MISMATCH)) => continue,
                Err(_) => return Ok(()),
            }
        }
        Ok(())
    }
}
