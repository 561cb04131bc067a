//! Per-request work: strip internal headers, decide, sign, forward or reply.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;
use std::cell::RefCell;
use std::rc::Rc;

use meshgate_policy::signing::{is_internal_header, DECISION_HEADER};
use meshgate_policy::{decide, Decision};

use crate::host;
use crate::ratelimit::SharedRateGate;
use crate::root::Shared;
use crate::seal::{self, BodyNeed, PendingSeal};

pub struct FilterStream {
    pub shared: Rc<RefCell<Shared>>,
    /// A decision waiting for the request body (admin bodies to bind, batches to count).
    pending: Option<PendingSeal>,
}

impl FilterStream {
    pub fn new(shared: Rc<RefCell<Shared>>) -> Self {
        FilterStream {
            shared,
            pending: None,
        }
    }
}

impl Context for FilterStream {}

impl HttpContext for FilterStream {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let mut headers = host::request_headers();
        // Nothing a client sends may look like a filter decision.
        headers.retain(|(name, _)| {
            let internal = is_internal_header(name);
            if internal {
                host::remove_request_header(name);
            }
            !internal
        });
        let path = host::header(&headers, ":path").unwrap_or("/").to_string();
        let method = host::header(&headers, ":method")
            .unwrap_or("GET")
            .to_string();

        let shared = self.shared.borrow();
        let now = host::now_ms();
        match decide(
            shared.snapshot.as_deref(),
            &path,
            &headers,
            now,
            &mut SharedRateGate,
        ) {
            Decision::Reject(rejection) => {
                let mut reply_headers = vec![("content-type", "application/json")];
                if let Some(challenge) = rejection.www_authenticate {
                    reply_headers.push(("www-authenticate", challenge));
                }
                let retry_after = rejection.retry_after.map(|s| s.to_string());
                if let Some(secs) = retry_after.as_deref() {
                    reply_headers.push(("retry-after", secs));
                }
                host::send_local_reply(rejection.status, reply_headers, &rejection.body());
                Action::Pause
            }
            Decision::Forward(forward) => {
                for name in &forward.remove_headers {
                    host::remove_request_header(name);
                }
                let pending = PendingSeal::new(method, path, forward);
                match pending.need {
                    // Sealed now: the body streams through untouched.
                    BodyNeed::None => {
                        let decision = pending.seal(&shared, now, None);
                        host::set_request_header(DECISION_HEADER, &decision);
                        Action::Continue
                    }
                    _ if end_of_stream => {
                        let decision = pending.seal_body(&shared, now, b"");
                        host::set_request_header(DECISION_HEADER, &decision);
                        Action::Continue
                    }
                    // Headers held (allow_on_headers_stop_iteration) until the body says
                    // what to seal.
                    _ => {
                        drop(shared);
                        self.pending = Some(pending);
                        Action::Pause
                    }
                }
            }
        }
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let Some(pending) = self.pending.as_ref() else {
            return Action::Continue;
        };
        match seal::on_body(pending, &self.shared.borrow(), body_size, end_of_stream) {
            seal::Step::Wait => Action::Pause,
            seal::Step::Sealed(decision) => {
                host::set_request_header(DECISION_HEADER, &decision);
                self.pending = None;
                Action::Continue
            }
            seal::Step::Refused => {
                self.pending = None;
                Action::Pause
            }
        }
    }

    // Responses (including `text/event-stream`) pass through unbuffered: the default
    // `on_http_response_body` returns Continue for every chunk.
}
