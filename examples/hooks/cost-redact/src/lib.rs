//! An example custom hook for meshgate (hook ABI v1, docs/hooks.md), built to
//! `wasm32-wasip1` by `scripts/build-hooks.sh`:
//!
//! - `post_call` sets the call's cost ([`COST_PER_CALL`], or [`COST_PER_KIB`] per KiB of
//!   result text when that is more — LiteLLM's `hidden_params.response_cost`) and
//!   replaces the value of every field named in [`REDACTED_FIELDS`] — in
//!   `structuredContent` and in text content that is JSON — with `"[REDACTED]"`.
//! - `pre_call` lets every call through unchanged (an empty answer).
//!
//! The logic ([`post_call_answer`]) is plain Rust, unit-tested on the host; the exports
//! at the bottom are the ABI's thin shell.

use serde_json::{json, Value};

/// What one call costs at least.
pub const COST_PER_CALL: f64 = 0.02;
/// What each KiB of result text costs.
pub const COST_PER_KIB: f64 = 0.01;
/// Fields whose values never leave the gateway.
pub const REDACTED_FIELDS: &[&str] = &["password", "ssn", "api_key"];
const REDACTED: &str = "[REDACTED]";

/// The answer to a `post_call` input (ABI v1 JSON): the redacted result and the cost.
pub fn post_call_answer(input: &[u8]) -> Vec<u8> {
    let Ok(mut input) = serde_json::from_slice::<Value>(input) else {
        // The gateway always sends JSON; answer "no change" rather than trap.
        return Vec::new();
    };
    let Some(result) = input.get_mut("result") else {
        return Vec::new();
    };
    let mut text_bytes = 0usize;
    if let Some(content) = result.get_mut("content").and_then(Value::as_array_mut) {
        for item in content {
            let Some(text) = item.get_mut("text") else {
                continue;
            };
            let Some(s) = text.as_str() else { continue };
            text_bytes += s.len();
            if let Ok(mut parsed) = serde_json::from_str::<Value>(s) {
                if redact(&mut parsed) {
                    *text = Value::String(parsed.to_string());
                }
            }
        }
    }
    if let Some(structured) = result.get_mut("structuredContent") {
        redact(structured);
    }
    let cost = COST_PER_CALL.max(COST_PER_KIB * text_bytes as f64 / 1024.0);
    serde_json::to_vec(&json!({"result": result, "cost": cost})).unwrap_or_default()
}

/// Replaces the values of [`REDACTED_FIELDS`] anywhere in `value`; whether it did.
fn redact(value: &mut Value) -> bool {
    match value {
        Value::Object(map) => {
            let mut changed = false;
            for (key, v) in map.iter_mut() {
                if REDACTED_FIELDS.contains(&key.to_ascii_lowercase().as_str()) {
                    *v = Value::String(REDACTED.into());
                    changed = true;
                } else {
                    changed |= redact(v);
                }
            }
            changed
        }
        Value::Array(items) => items.iter_mut().fold(false, |c, v| redact(v) | c),
        _ => false,
    }
}

// ---- ABI v1 exports (wasm only) ----
//
// The one place with `unsafe`: the host hands over a pointer into this module's memory.
// Every instance serves one call, so buffers are leaked rather than freed.

#[cfg(target_family = "wasm")]
mod exports {
    #![allow(unsafe_code)]

    #[no_mangle]
    pub extern "C" fn meshgate_hook_abi_version() -> i32 {
        1
    }

    #[no_mangle]
    pub extern "C" fn alloc(len: i32) -> i32 {
        let mut buf = Vec::<u8>::with_capacity(len.max(0) as usize);
        let ptr = buf.as_mut_ptr();
        std::mem::forget(buf);
        ptr as i32
    }

    fn answer(bytes: Vec<u8>) -> i64 {
        let out = bytes.leak();
        ((out.as_ptr() as i64) << 32) | out.len() as i64
    }

    #[no_mangle]
    pub extern "C" fn pre_call(_ptr: i32, _len: i32) -> i64 {
        0
    }

    #[no_mangle]
    pub extern "C" fn post_call(ptr: i32, len: i32) -> i64 {
        // SAFETY: the host wrote `len` bytes at `ptr`, which `alloc` returned.
        let input = unsafe { std::slice::from_raw_parts(ptr as *const u8, len.max(0) as usize) };
        answer(super::post_call_answer(input))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn redacts_json_text_and_structured_content_and_sets_a_cost() {
        let input = json!({
            "abi": 1, "event": "post_call", "tool": "lookup",
            "result": {
                "content": [{"type": "text", "text": "{\"user\":\"jane\",\"password\":\"hunter2\",\"nested\":{\"ssn\":\"536-22-1234\"}}"},
                            {"type": "text", "text": "plain words stay"}],
                "structuredContent": {"api_key": "sk-1", "ok": true}
            }
        });
        let out: Value =
            serde_json::from_slice(&post_call_answer(input.to_string().as_bytes())).unwrap();
        let text: Value =
            serde_json::from_str(out["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
        assert_eq!(text["password"], REDACTED);
        assert_eq!(text["nested"]["ssn"], REDACTED);
        assert_eq!(text["user"], "jane");
        assert_eq!(out["result"]["content"][1]["text"], "plain words stay");
        assert_eq!(out["result"]["structuredContent"]["api_key"], REDACTED);
        assert_eq!(out["cost"], COST_PER_CALL);
        assert!(!out.to_string().contains("hunter2"));
    }

    #[test]
    fn garbage_input_is_no_change() {
        assert!(post_call_answer(b"not json").is_empty());
    }
}
