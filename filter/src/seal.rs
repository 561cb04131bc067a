//! Decisions that wait for the request body: admin bodies, whose SHA-256 is sealed so a
//! captured decision cannot carry another body, and JSON-RPC batches of rate-limited
//! keys, charged once per request they carry. Everything else is sealed at header time
//! and streams. Responses are never buffered.

use meshgate_policy::decision::RateLimited;
use meshgate_policy::paths::{path_target, PathTarget};
use meshgate_policy::ratelimit::{batch_len, body_shape, BodyShape, RateGate};
use meshgate_policy::signing::{
    binds_body, body_digest, seal_decision, Seal, MAX_BOUND_BODY_BYTES,
};
use meshgate_policy::Forward;

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
}

pub enum Step {
    /// Keep buffering.
    Wait,
    /// Forward with this decision header.
    Sealed(String),
    /// A local reply was sent.
    Refused,
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
        }
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
    let now = host.now_ms();
    match &pending.need {
        BodyNeed::None => Step::Sealed(pending.seal(shared, now, None)),
        BodyNeed::Bind => {
            if size > MAX_BOUND_BODY_BYTES {
                host.send_local_reply(
                    413,
                    &[("content-type", "application/json")],
                    &serde_json::json!({
                        "error": "body_too_large",
                        "message": format!("admin request bodies are limited to {MAX_BOUND_BODY_BYTES} bytes"),
                    })
                    .to_string(),
                );
                return Step::Refused;
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
            let extra = batch_len(&body).saturating_sub(1);
            if extra > 0 {
                if let Err(wait) =
                    SharedRateGate(host).admit_n(&limit.key_id, limit.rpm_limit, extra, now)
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
                    return Step::Refused;
                }
            }
            Step::Sealed(pending.seal(shared, now, None))
        }
    }
}
