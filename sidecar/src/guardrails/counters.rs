//! Every block and mask a guardrail makes in the sidecar, counted by guardrail, entity,
//! server, phase and action (served at the admin route `GET /guardrails/metrics`) and
//! logged — names only, never the matched value.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

use meshgate_policy::guardrails::Phase;

/// What a guardrail did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Acted {
    Block,
    Mask,
    /// The service failed or timed out and the call was refused (fail closed).
    FailedClosed,
    /// The service failed or timed out and the call went through (fail open).
    FailedOpen,
}

impl Acted {
    fn as_str(self) -> &'static str {
        match self {
            Acted::Block => "block",
            Acted::Mask => "mask",
            Acted::FailedClosed => "failed_closed",
            Acted::FailedOpen => "failed_open",
        }
    }
}

pub fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Pre => "pre_mcp_call",
        Phase::During => "during_mcp_call",
        Phase::Post => "post_mcp_call",
    }
}

type Key = (String, String, String, &'static str, Acted);

fn counters() -> &'static Mutex<BTreeMap<Key, u64>> {
    static COUNTERS: OnceLock<Mutex<BTreeMap<Key, u64>>> = OnceLock::new();
    COUNTERS.get_or_init(Mutex::default)
}

/// Counts and logs one action. `entity` is the entity type (or the failure kind, or
/// `-` when the service gave none).
pub fn record(guardrail: &str, entity: &str, server: &str, phase: Phase, acted: Acted) {
    let phase = phase_name(phase);
    tracing::info!(
        guardrail,
        entity,
        server,
        phase,
        action = acted.as_str(),
        "guardrail acted on a tool call"
    );
    let key = (
        guardrail.to_string(),
        entity.to_string(),
        server.to_string(),
        phase,
        acted,
    );
    if let Ok(mut map) = counters().lock() {
        *map.entry(key).or_insert(0) += 1;
    }
}

/// `{"guardrails": [{guardrail, entity, server, phase, action, count}]}`, sorted.
pub fn snapshot() -> Value {
    let rows: Vec<Value> = counters()
        .lock()
        .map(|map| {
            map.iter()
                .map(|((g, e, s, p, a), n)| {
                    json!({"guardrail": g, "entity": e, "server": s, "phase": p,
                           "action": a.as_str(), "count": n})
                })
                .collect()
        })
        .unwrap_or_default();
    json!({ "guardrails": rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_accumulate_per_guardrail_entity_server_phase_and_action() {
        record("ctr-test", "EMAIL_ADDRESS", "web", Phase::Post, Acted::Mask);
        record("ctr-test", "EMAIL_ADDRESS", "web", Phase::Post, Acted::Mask);
        record("ctr-test", "CREDIT_CARD", "web", Phase::Pre, Acted::Block);
        let snap = snapshot();
        let rows: Vec<&Value> = snap["guardrails"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["guardrail"] == "ctr-test")
            .collect();
        assert_eq!(rows.len(), 2);
        let mask = rows.iter().find(|r| r["action"] == "mask").unwrap();
        assert_eq!(mask["count"], 2);
        assert_eq!(mask["phase"], "post_mcp_call");
        assert_eq!(mask["entity"], "EMAIL_ADDRESS");
    }
}
