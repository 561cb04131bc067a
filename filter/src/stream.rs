//! Per-request work: strip internal headers, decide, sign, forward or reply.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;
use std::cell::RefCell;
use std::rc::Rc;

use meshgate_policy::audit::{self, AuditRecord};
use meshgate_policy::auth::DEFAULT_KEY_HEADER;
use meshgate_policy::budget::{self, BudgetCheck, BudgetExceeded};
use meshgate_policy::paths::Route;
use meshgate_policy::request_head::read_head;
use meshgate_policy::signing::DECISION_HEADER;
use meshgate_policy::{decide, Decision, Principal, Rejection};

use crate::guard::{header_names, GUARDRAILS_HEADER};
use crate::host::{header, Host};
use crate::ratelimit::SharedRateGate;
use crate::root::Shared;
use crate::seal::{self, GuardPlan, PendingSeal, Refusal};

pub struct FilterStream<H: Host> {
    host: Rc<H>,
    shared: Rc<RefCell<Shared>>,
    /// A decision waiting for the request body (admin bodies to bind, batches to count).
    pending: Option<PendingSeal>,
    /// What the access log will say about this request (kept to amend it).
    audit: Option<AuditRecord>,
}

impl<H: Host> FilterStream<H> {
    pub fn new(host: Rc<H>, shared: Rc<RefCell<Shared>>) -> Self {
        FilterStream {
            host,
            shared,
            pending: None,
            audit: None,
        }
    }
}

impl<H: Host> FilterStream<H> {
    #[cfg(test)]
    pub fn host(&self) -> &H {
        &self.host
    }
}

impl<H: Host> Context for FilterStream<H> {}

impl<H: Host> HttpContext for FilterStream<H> {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let host = &*self.host;
        let raw = host.request_headers();
        let shared = self.shared.borrow();
        let key_header = shared
            .snapshot
            .as_deref()
            .map_or(DEFAULT_KEY_HEADER, |s| s.key_header.as_str());
        let snapshot = shared.snapshot.as_deref();
        let head = match read_head(&raw, key_header) {
            Ok(head) => head,
            Err(rejection) => {
                let record = AuditRecord::refused(snapshot, &rejection, &[]);
                keep(host, &mut self.audit, record);
                return reply(host, &rejection);
            }
        };
        // Nothing a client sends may look like a filter decision.
        for name in &head.internal {
            host.remove_request_header(name);
        }
        #[cfg(feature = "deliberate-panic")]
        deliberate_panic(&head.path);

        let now = host.now_ms();
        match decide(
            shared.snapshot.as_deref(),
            &head.path,
            &head.headers,
            now,
            &mut SharedRateGate(host),
        ) {
            Decision::Reject(rejection) => {
                let record = AuditRecord::refused(snapshot, &rejection, &head.headers);
                keep(host, &mut self.audit, record);
                reply(host, &rejection)
            }
            Decision::Forward(forward) => {
                let record = AuditRecord::allowed(snapshot, &forward.principal, &head.headers);
                keep(host, &mut self.audit, record);
                for name in &forward.remove_headers {
                    host.remove_request_header(name);
                }
                // A key over budget: its tool calls are refused here (`policy::budget`).
                let mut budget_body = None;
                if let Some(exceeded) = over_budget(&shared, &forward) {
                    match budget::at_headers(exceeded, &head.method, &head.path, &head.headers) {
                        BudgetCheck::Refuse(rejection) => {
                            if let Some(mut record) = self.audit.take() {
                                record.refuse(budget::REASON);
                                keep(host, &mut self.audit, record);
                            }
                            return reply(host, &rejection);
                        }
                        BudgetCheck::ReadBody { jsonrpc } => {
                            budget_body = Some((exceeded.clone(), jsonrpc))
                        }
                        BudgetCheck::Pass => {}
                    }
                }
                let guard = guard_plan(&shared, &head.method, &head.path, &forward, &head.headers);
                let mut pending = PendingSeal::new(head.method, head.path, forward);
                pending.guard = guard;
                pending.budget = budget_body;
                match pending.waits() {
                    // Sealed now: the body streams through untouched.
                    false => {
                        let decision = pending.seal(&shared, now, None);
                        host.set_request_header(DECISION_HEADER, &decision);
                        Action::Continue
                    }
                    // No body: nothing for the guardrails to read.
                    true if end_of_stream => {
                        let decision = pending.seal_body(&shared, now, b"");
                        host.set_request_header(DECISION_HEADER, &decision);
                        Action::Continue
                    }
                    // Headers held (allow_on_headers_stop_iteration) until the body says
                    // what to seal (or the guardrails answer).
                    true => {
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
        let host = &*self.host;
        match seal::on_body(
            host,
            pending,
            &self.shared.borrow(),
            body_size,
            end_of_stream,
        ) {
            seal::Step::Wait => Action::Pause,
            seal::Step::Sealed(decision) => {
                host.set_request_header(DECISION_HEADER, &decision);
                self.pending = None;
                Action::Continue
            }
            seal::Step::Refused(why) => {
                self.pending = None;
                if let Some(mut record) = self.audit.take() {
                    match why {
                        Refusal::Reason(reason) => record.refuse(reason),
                        Refusal::Guardrail(block) => match block {
                            Some(e) => record.guardrail_blocked(&e.guardrail, &e.server, None),
                            None => record.refuse(audit::GUARDRAIL_BLOCKED),
                        },
                    }
                    keep(host, &mut self.audit, record);
                }
                Action::Pause
            }
        }
    }

    /// The sidecar names the call it answered ([`audit::CALL_HEADER`]) and, when
    /// configured, its arguments ([`audit::ARGUMENTS_HEADER`]): moved into the audit
    /// record, never passed to the client.
    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let host = &*self.host;
        let headers = host.response_headers();
        let take = |name: &str| {
            let value = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())?;
            host.remove_response_header(name);
            Some(value)
        };
        let (call, arguments) = (take(audit::CALL_HEADER), take(audit::ARGUMENTS_HEADER));
        if call.is_none() && arguments.is_none() {
            return Action::Continue;
        }
        if let Some(mut record) = self.audit.take() {
            if let Some(call) = call {
                record.note_call(self.shared.borrow().snapshot.as_deref(), &call);
            }
            if let Some(arguments) = arguments {
                record.note_arguments(&arguments);
            }
            keep(host, &mut self.audit, record);
        }
        Action::Continue
    }

    // Responses (including `text/event-stream`) pass through unbuffered: the default
    // `on_http_response_body` returns Continue for every chunk.
}

/// The guardrail check a request needs: an MCP `POST` (or `/mcp-rest/tools/call`)
/// while the snapshot has built-in pre_mcp_call guardrails.
fn guard_plan(
    shared: &Shared,
    method: &str,
    path: &str,
    forward: &meshgate_policy::Forward,
    headers: &[(String, String)],
) -> Option<GuardPlan> {
    if !shared.inline_pre || method != "POST" {
        return None;
    }
    let rest = path.split(['?', '#']).next() == Some(REST_CALL_PATH);
    let mcp = matches!(
        Route::of(method, path),
        Route::Mcp(_) | Route::LegacySseMessage
    );
    if !rest && !mcp {
        return None;
    }
    let attached = match &forward.principal {
        Principal::Key(id) => shared
            .snapshot
            .as_deref()
            .and_then(|s| s.key_by_id(id))
            .map(|k| k.guardrails.clone())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    Some(GuardPlan {
        attached,
        header_names: header_names(header(headers, GUARDRAILS_HEADER)),
        rest,
    })
}

/// Hands the record to Envoy (the access log reads it) and keeps it to amend.
fn keep(host: &impl Host, slot: &mut Option<AuditRecord>, record: AuditRecord) {
    host.set_property(audit::PROPERTY, record.encode().as_bytes());
    *slot = Some(record);
}

/// The budget a key has used up (its own, its team's or its organization's).
fn over_budget<'s>(
    shared: &'s Shared,
    forward: &meshgate_policy::Forward,
) -> Option<&'s BudgetExceeded> {
    match &forward.principal {
        Principal::Key(id) => shared
            .snapshot
            .as_deref()?
            .key_by_id(id)?
            .budget_exceeded
            .as_ref(),
        _ => None,
    }
}

/// LiteLLM's REST tool call.
const REST_CALL_PATH: &str = "/mcp-rest/tools/call";

fn reply(host: &impl Host, rejection: &Rejection) -> Action {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(challenge) = rejection.www_authenticate {
        headers.push(("www-authenticate", challenge));
    }
    let retry_after = rejection.retry_after.map(|s| s.to_string());
    if let Some(secs) = retry_after.as_deref() {
        headers.push(("retry-after", secs));
    }
    host.send_local_reply(rejection.status, &headers, &rejection.body());
    Action::Pause
}

/// Test builds only (`--features deliberate-panic`, never the shipped filter): a request
/// to this path traps the VM, so tests can prove the deployment's `failure_policy`
/// reloads it.
#[cfg(feature = "deliberate-panic")]
fn deliberate_panic(path: &str) {
    const PANIC_PATH: &str = "/_meshgate_test/panic";
    if path.starts_with(PANIC_PATH) {
        #[allow(clippy::panic)]
        {
            panic!("deliberate panic requested at {PANIC_PATH} (deliberate-panic test build)");
        }
    }
}
