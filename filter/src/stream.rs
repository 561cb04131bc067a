//! Per-request work: strip internal headers, decide, sign, forward or reply.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;
use std::cell::RefCell;
use std::rc::Rc;

use meshgate_policy::signing::{is_internal_header, seal_decision, DECISION_HEADER};
use meshgate_policy::{decide, Decision};

use crate::host;
use crate::ratelimit::SharedRateGate;
use crate::root::Shared;

pub struct FilterStream {
    pub shared: Rc<RefCell<Shared>>,
}

impl Context for FilterStream {}

impl HttpContext for FilterStream {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
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
                let decision = seal_decision(
                    &shared.secret,
                    &method,
                    &path,
                    now,
                    &forward.principal,
                    &forward.servers,
                );
                host::set_request_header(DECISION_HEADER, &decision);
                Action::Continue
            }
        }
    }

    // Responses (including `text/event-stream`) pass through unbuffered: the default
    // `on_http_response_body` returns Continue for every chunk.
}
