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
        self.admit_n(now_ms, limit, 1)
    }

    /// Counts `n` requests (a batch) if the limit allows all of them; otherwise counts
    /// none. Returns whether they were admitted.
    pub fn admit_n(&mut self, now_ms: u64, limit: u32, n: u32) -> bool {
        if self.count == 0 || now_ms.saturating_sub(self.start_ms) >= WINDOW_MS {
            *self = RateWindow {
                start_ms: now_ms,
                count: 0,
            };
        }
        match self.count.checked_add(n) {
            Some(total) if total <= limit => {
                self.count = total;
                true
            }
            _ => false,
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
    /// Admits or refuses `n` requests of `key_id` together; on refusal (nothing counted)
    /// returns seconds to wait.
    fn admit_n(&mut self, key_id: &str, limit: u32, n: u32, now_ms: u64) -> Result<(), u64>;

    /// Admits or refuses one request of `key_id`.
    fn admit(&mut self, key_id: &str, limit: u32, now_ms: u64) -> Result<(), u64> {
        self.admit_n(key_id, limit, 1, now_ms)
    }
}

#[derive(Default)]
pub struct LocalRateGate {
    windows: HashMap<String, RateWindow>,
}

impl RateGate for LocalRateGate {
    fn admit_n(&mut self, key_id: &str, limit: u32, n: u32, now_ms: u64) -> Result<(), u64> {
        let w = self.windows.entry(key_id.to_string()).or_default();
        if w.admit_n(now_ms, limit, n) {
            Ok(())
        } else {
            Err(w.retry_after_secs(now_ms))
        }
    }
}

/// What the start of a POST body says about how many JSON-RPC requests it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyShape {
    /// Only whitespace so far: read more.
    Unknown,
    /// Not a top-level array: one message, however long.
    Single,
    /// A top-level array (a JSON-RPC batch): count it with [`batch_len`] once whole.
    Batch,
}

/// Classifies a body from its first bytes, without reading the rest.
pub fn body_shape(prefix: &[u8]) -> BodyShape {
    match prefix.iter().find(|b| !b.is_ascii_whitespace()) {
        None => BodyShape::Unknown,
        Some(b'[') => BodyShape::Batch,
        Some(_) => BodyShape::Single,
    }
}

/// The number of top-level elements of a JSON array, by one pass that tracks strings
/// (with escapes) and nesting — no parsing, no allocation. Meant for charging a batch to
/// a rate limit: malformed input still gets a count (the elements separated so far, at
/// least 1); the sidecar refuses it afterwards. Not an array → 1.
pub fn batch_len(body: &[u8]) -> u32 {
    if body_shape(body) != BodyShape::Batch {
        return 1;
    }
    let mut depth: u32 = 0;
    let mut in_string = false;
    let mut escaped = false;
    let mut elements: u32 = 0;
    let mut element_open = false;
    for &b in body {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                if depth == 1 && !element_open {
                    element_open = true;
                    elements = elements.saturating_add(1);
                }
            }
            b'[' | b'{' => {
                if depth == 1 && !element_open {
                    element_open = true;
                    elements = elements.saturating_add(1);
                }
                depth = depth.saturating_add(1);
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
            b',' if depth == 1 => element_open = false,
            b if b.is_ascii_whitespace() => {}
            _ => {
                if depth == 1 && !element_open {
                    element_open = true;
                    elements = elements.saturating_add(1);
                }
            }
        }
    }
    elements.max(1)
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

    #[test]
    fn batches_are_charged_whole_or_not_at_all() {
        let mut w = RateWindow::default();
        assert!(w.admit_n(0, 5, 3));
        assert!(!w.admit_n(1, 5, 3), "3 more would exceed 5");
        assert_eq!(w.count, 3, "a refused batch counts nothing");
        assert!(w.admit_n(2, 5, 2));
        assert!(!w.admit_n(3, 5, 1));
        assert!(!w.admit_n(60_000, 5, u32::MAX), "no overflow");
        let mut g = LocalRateGate::default();
        assert!(g.admit_n("k", 2, 1000, 0).is_err());
        assert!(g.admit("k", 2, 0).is_ok());
    }

    #[test]
    fn body_shapes() {
        assert_eq!(body_shape(b""), BodyShape::Unknown);
        assert_eq!(body_shape(b"  \r\n"), BodyShape::Unknown);
        assert_eq!(body_shape(b" [ {"), BodyShape::Batch);
        assert_eq!(body_shape(b"{\"jsonrpc\""), BodyShape::Single);
        assert_eq!(body_shape(b"\"[\""), BodyShape::Single);
    }

    #[test]
    fn batch_elements_are_counted_at_the_top_level_only() {
        let cases: &[(&str, u32)] = &[
            (r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#, 1),
            ("[]", 1),
            ("[ ]", 1),
            (r#"[{"id":1}]"#, 1),
            (r#"[{"id":1},{"id":2}]"#, 2),
            (
                r#" [ {"a":[1,2,3],"b":{"c":[4,5]}} , {"s":"x,y]},{"} ,3,"str",[1,2], null ] "#,
                6,
            ),
            (r#"[{"s":"a\"],[{\\"},{"t":1}]"#, 2),
            (r#"[1,2,3"#, 3),
            (r#"[,,]"#, 1),
            (r#"[{"unterminated":"#, 1),
        ];
        for (body, n) in cases {
            assert_eq!(batch_len(body.as_bytes()), *n, "{body}");
        }
        let big = format!(
            "[{}]",
            vec![r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#; 1000].join(",")
        );
        assert_eq!(batch_len(big.as_bytes()), 1000);
    }

    #[test]
    fn the_scan_survives_any_bytes() {
        // Cheap stand-in for the fuzzer: every prefix and every byte flip of a batch.
        let body = br#"[{"a":"b\"c","d":[1,{"e":null}]},2,"x"]"#;
        for end in 0..=body.len() {
            let _ = batch_len(&body[..end]);
        }
        for i in 0..body.len() {
            for b in [0u8, b'"', b'\\', b'[', b']', b'{', b'}', b',', 0xff] {
                let mut m = body.to_vec();
                m[i] = b;
                assert!(batch_len(&m) >= 1);
            }
        }
    }
}
