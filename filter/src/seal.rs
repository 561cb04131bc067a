//! Decisions that wait for the request body: admin bodies, whose SHA-256 is sealed so a
//! captured decision cannot carry another body, and JSON-RPC batches of rate-limited
//! keys, charged once per request they carry. Everything else is sealed at header time
//! and streams. When the snapshot has pre_mcp_call guardrails, MCP request bodies are
//! read whole too (up to `meshgate.max_body_bytes`) and checked before anything is
//! sealed (`crate::guard`). The bodies of MCP `POST`s of a key over budget are read
//! whole too, and refused when they call a tool (`policy::budget`). Responses are never
//! buffered.

use meshgate_policy::budget::{self, BudgetExceeded};
use meshgate_policy::decision::RateLimited;
use meshgate_policy::paths::{path_target, PathTarget};
use meshgate_policy::ratelimit::{batch_len, body_shape, BodyShape, RateGate};
use meshgate_policy::signing::{
    binds_body, body_digest, seal_decision, Seal, MAX_BOUND_BODY_BYTES,
};
use meshgate_policy::Forward;

use crate::guard::{self, Event, Outcome};
use crate::host::Host;
use crate::ratelimit::SharedRateGate;
use crate::root::Shared;

pub enum BodyNeed {
    None,
    /// Seal the body's hash (admin paths); larger than the cap → 413.
    Bind,
    /// Count a batch against the key's limit (one request was charged at header time).
    Count(RateLimited),
}

pub struct PendingSeal {
    method: String,
    path: String,
    principal: String,
    servers: String,
    pub need: BodyNeed,
    /// Guardrails to run on the body before sealing.
    pub guard: Option<GuardPlan>,
    /// The key is over budget: a body that calls a tool is refused (and whether the
    /// client reads refusals as JSON-RPC).
    pub budget: Option<(BudgetExceeded, bool)>,
}

/// What the body's guardrail check needs from the request head.
pub struct GuardPlan {
    /// The key's and its team's guardrail names.
    pub attached: Vec<String>,
    /// `x-mcp-guardrails`.
    pub header_names: Vec<String>,
    /// `/mcp-rest/tools/call`.
    pub rest: bool,
}

pub enum Step {
    /// Keep buffering.
    Wait,
    /// Forward with this decision header.
    Sealed(String),
    /// A local reply was sent; why, for the audit record.
    Refused(Refusal),
}

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The reply's error kind (`body_too_large`, `rate_limited`).
    Reason(&'static str),
    /// A pre_mcp_call guardrail blocked a call (the block, when one guardrail found
    /// something; none for an unknown guardrail name).
    Guardrail(Option<Event>),
}

impl PendingSeal {
    pub fn new(method: String, path: String, forward: Forward) -> Self {
        let need = if binds_body(&path) {
            BodyNeed::Bind
        } else {
            match forward.rate_limit {
                Some(limit) if method == "POST" && path_target(&path) != PathTarget::Other => {
                    BodyNeed::Count(limit)
                }
                _ => BodyNeed::None,
            }
        };
        PendingSeal {
            method,
            path,
            principal: forward.principal.encode(),
            servers: forward.servers.encode(),
            need,
            guard: None,
            budget: None,
        }
    }

    /// Whether the decision waits for the body.
    pub fn waits(&self) -> bool {
        !matches!(self.need, BodyNeed::None) || self.guard.is_some() || self.budget.is_some()
    }

    pub fn seal(&self, shared: &Shared, now_ms: u64, body_sha256: Option<&str>) -> String {
        seal_decision(
            &shared.secret,
            &self.method,
            &self.path,
            &Seal {
                ts_ms: now_ms,
                nonce: shared.next_nonce(),
                principal: &self.principal,
                servers: &self.servers,
                body_sha256,
            },
        )
    }

    /// Seals with the body bound when this request binds it.
    pub fn seal_body(&self, shared: &Shared, now_ms: u64, body: &[u8]) -> String {
        match self.need {
            BodyNeed::Bind => self.seal(shared, now_ms, Some(&body_digest(body))),
            _ => self.seal(shared, now_ms, None),
        }
    }
}

/// One body callback of a pending request.
pub fn on_body(
    host: &impl Host,
    pending: &PendingSeal,
    shared: &Shared,
    size: usize,
    end: bool,
) -> Step {
    if let Some((exceeded, jsonrpc)) = &pending.budget {
        if size > shared.max_body_bytes {
            // Fail closed: a body that may call a tool is not forwarded unread.
            return too_large(
                host,
                shared.max_body_bytes,
                "request bodies of keys over budget",
            );
        }
        if !end {
            return Step::Wait;
        }
        let body = host.request_body(size);
        if let Some(rejection) = budget::in_body(exceeded, &body, *jsonrpc) {
            host.send_local_reply(
                rejection.status,
                &[("content-type", "application/json")],
                &rejection.body(),
            );
            return Step::Refused(Refusal::Reason(budget::REASON));
        }
    }
    if let Some(plan) = &pending.guard {
        return guarded_body(host, pending, plan, shared, size, end);
    }
    let now = host.now_ms();
    match &pending.need {
        BodyNeed::None => Step::Sealed(pending.seal(shared, now, None)),
        BodyNeed::Bind => {
            if size > MAX_BOUND_BODY_BYTES {
                return too_large(host, MAX_BOUND_BODY_BYTES, "admin request bodies");
            }
            if !end {
                return Step::Wait;
            }
            let body = host.request_body(size);
            Step::Sealed(pending.seal_body(shared, now, &body))
        }
        BodyNeed::Count(limit) => {
            let body = host.request_body(size);
            match body_shape(&body) {
                BodyShape::Single => return Step::Sealed(pending.seal(shared, now, None)),
                BodyShape::Unknown | BodyShape::Batch if !end => return Step::Wait,
                _ => {}
            }
            charge_batch(host, pending, shared, limit, &body, now)
        }
    }
}

/// The whole body is read, checked by the guardrails (answered, rewritten or passed),
/// then sealed as its need says, on the body that travels on.
fn guarded_body(
    host: &impl Host,
    pending: &PendingSeal,
    plan: &GuardPlan,
    shared: &Shared,
    size: usize,
    end: bool,
) -> Step {
    if size > shared.max_body_bytes {
        // Fail closed: a body the guardrails cannot read does not pass unchecked.
        return too_large(
            host,
            shared.max_body_bytes,
            "request bodies checked by guardrails",
        );
    }
    if !end {
        return Step::Wait;
    }
    let Some(snapshot) = shared.snapshot.as_deref() else {
        return Step::Sealed(pending.seal(shared, host.now_ms(), None));
    };
    let mut body = host.request_body(size);
    let mut events = Vec::new();
    let outcome = guard::check_body(
        &guard::Request {
            snapshot,
            set: &shared.guardrails,
            attached: &plan.attached,
            header_names: &plan.header_names,
            rest: plan.rest,
        },
        &body,
        &mut events,
    );
    record(host, &events);
    match outcome {
        Outcome::Pass => {}
        Outcome::Reply { status, body } => {
            host.send_local_reply(status, &[("content-type", "application/json")], &body);
            let block = events.into_iter().find(|e| e.action == "block");
            return Step::Refused(Refusal::Guardrail(block));
        }
        Outcome::Rewrite(masked) => {
            host.set_request_body(size, &masked);
            host.remove_request_header("content-length");
            body = masked;
        }
    }
    let now = host.now_ms();
    match &pending.need {
        BodyNeed::None => Step::Sealed(pending.seal(shared, now, None)),
        BodyNeed::Bind if body.len() > MAX_BOUND_BODY_BYTES => {
            too_large(host, MAX_BOUND_BODY_BYTES, "admin request bodies")
        }
        BodyNeed::Bind => Step::Sealed(pending.seal_body(shared, now, &body)),
        BodyNeed::Count(limit) => charge_batch(host, pending, shared, limit, &body, now),
    }
}

/// Logs and counts each block and mask, never with the matched value.
fn record(host: &impl Host, events: &[Event]) {
    for e in events {
        log::warn!(
            "meshgate: guardrail {} {}ed {} at {} (server {})",
            e.guardrail,
            e.action,
            e.entity,
            e.path,
            e.server
        );
        host.increment_counter(&metric_name(e));
    }
}

/// `meshgate_guardrail.<action>.<guardrail>.<entity>.<server>`, each part reduced to
/// `[A-Za-z0-9_-]` so Envoy's stat name stays one dotted path.
pub fn metric_name(e: &Event) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!(
        "meshgate_guardrail.{}.{}.{}.{}",
        e.action,
        clean(&e.guardrail),
        clean(&e.entity),
        clean(&e.server)
    )
}

fn too_large(host: &impl Host, limit: usize, what: &str) -> Step {
    host.send_local_reply(
        413,
        &[("content-type", "application/json")],
        &serde_json::json!({
            "error": "body_too_large",
            "message": format!("{what} are limited to {limit} bytes"),
        })
        .to_string(),
    );
    Step::Refused(Refusal::Reason("body_too_large"))
}

/// Charges a batch's requests beyond the first against the key's limit.
fn charge_batch(
    host: &impl Host,
    pending: &PendingSeal,
    shared: &Shared,
    limit: &RateLimited,
    body: &[u8],
    now: u64,
) -> Step {
    let extra = batch_len(body).saturating_sub(1);
    if extra > 0 {
        if let Err(wait) = SharedRateGate(host).admit_n(&limit.key_id, limit.rpm_limit, extra, now)
        {
            let retry = wait.to_string();
            host.send_local_reply(
                429,
                &[("content-type", "application/json"), ("retry-after", &retry)],
                &serde_json::json!({
                    "error": "rate_limited",
                    "message": format!(
                        "this batch of {} requests exceeds the key's limit of {} requests per minute",
                        extra + 1,
                        limit.rpm_limit
                    ),
                })
                .to_string(),
            );
            return Step::Refused(Refusal::Reason("rate_limited"));
        }
    }
    Step::Sealed(pending.seal(shared, now, None))
}
