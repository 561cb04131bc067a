//! The stream's decisions: a refusal is a local reply; a forward removes the key's header
//! and every client-sent internal header and seals the decision; admin bodies are bound
//! and batches of rate-limited keys counted before the decision is sealed.

use proxy_wasm::traits::HttpContext;
use proxy_wasm::types::Action;
use std::cell::RefCell;
use std::rc::Rc;

use meshgate_policy::auth::hash_key;
use meshgate_policy::signing::body_digest;
use meshgate_policy::snapshot::SnapshotKey;
use meshgate_policy::{load_config, PolicySnapshot, Principal, Scope};

use super::{decision_of, document, open, NOW, SECRET, SERVERS};
use crate::mock::MockHost;
use crate::root::Shared;
use crate::stream::FilterStream;

const LIMITED_KEY: &str = "sk-limited-key";

fn snapshot() -> PolicySnapshot {
    let config = load_config(&document(SERVERS), None).unwrap();
    let key = SnapshotKey {
        hash: hash_key(LIMITED_KEY),
        id: "limited".into(),
        servers: vec![1],
        rpm_limit: Some(3),
        ..Default::default()
    };
    PolicySnapshot::compile_with_keys(&config, vec![key])
}

fn stream(snapshot: Option<PolicySnapshot>, headers: &[(&str, &str)]) -> FilterStream<MockHost> {
    let host = MockHost::new(NOW);
    *host.request_headers.borrow_mut() = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let mut shared = Shared::new(7);
    shared.secret = SECRET.as_bytes().to_vec();
    shared.snapshot = snapshot.map(Rc::new);
    FilterStream::new(Rc::new(host), Rc::new(RefCell::new(shared)))
}

fn request(
    method: &'static str,
    path: &'static str,
    key: &'static str,
) -> Vec<(&'static str, &'static str)> {
    vec![
        (":method", method),
        (":path", path),
        (":authority", "gateway"),
        ("authorization", key),
    ]
}

#[test]
fn a_refusal_is_a_local_reply_and_nothing_is_forwarded() {
    let mut s = stream(
        Some(snapshot()),
        &request("POST", "/mcp", "Bearer sk-wrong"),
    );
    assert_eq!(s.on_http_request_headers(4, true), Action::Pause);
    let replies = s.host().replies.borrow().clone();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].status, 401);
    assert!(
        replies[0].body.contains("invalid_key"),
        "{}",
        replies[0].body
    );
    assert!(replies[0]
        .headers
        .iter()
        .any(|(n, _)| n == "www-authenticate"));
    assert_eq!(decision_of(&s.host().request_headers.borrow()), None);
}

#[test]
fn without_a_policy_the_gateway_is_not_ready() {
    let mut s = stream(None, &request("POST", "/mcp", "Bearer sk-master"));
    assert_eq!(s.on_http_request_headers(4, true), Action::Pause);
    assert_eq!(s.host().replies.borrow()[0].status, 503);
}

#[test]
fn a_forward_strips_the_key_and_internal_headers_and_seals_the_decision() {
    let mut headers = request("POST", "/mcp/b", "Bearer sk-master");
    headers.push(("x-meshgate-decision", "v2 forged"));
    headers.push(("X-Meshgate-Principal", "master"));
    let mut s = stream(Some(snapshot()), &headers);
    assert_eq!(s.on_http_request_headers(6, false), Action::Continue);
    assert!(s.host().replies.borrow().is_empty());
    assert_eq!(s.host().request_header("authorization"), None);
    assert_eq!(s.host().request_header("x-meshgate-principal"), None);
    let sent = s.host().request_headers.borrow().clone();
    let sealed = open("POST", "/mcp/b", decision_of(&sent));
    assert_eq!(sealed.who(), Some(Principal::Master));
    assert_eq!(sealed.scope(), Scope::only(&["b"]));
    assert_eq!(sealed.body_sha256, None);
    // Sealed at header time: the body streams through.
    assert_eq!(s.on_http_request_body(10, true), Action::Continue);
}

#[test]
fn admin_bodies_are_waited_for_and_bound() {
    let mut s = stream(
        Some(snapshot()),
        &request("POST", "/key/generate", "Bearer sk-master"),
    );
    assert_eq!(s.on_http_request_headers(4, false), Action::Pause);
    let body = br#"{"key_alias":"x"}"#;
    *s.host().request_body.borrow_mut() = body[..5].to_vec();
    assert_eq!(s.on_http_request_body(5, false), Action::Pause);
    assert_eq!(decision_of(&s.host().request_headers.borrow()), None);
    *s.host().request_body.borrow_mut() = body.to_vec();
    assert_eq!(s.on_http_request_body(body.len(), true), Action::Continue);
    let sent = s.host().request_headers.borrow().clone();
    let sealed = open("POST", "/key/generate", decision_of(&sent));
    assert_eq!(sealed.body_sha256, Some(body_digest(body)));
    // A bodiless admin request binds the empty body at header time.
    let mut s = stream(
        Some(snapshot()),
        &request("GET", "/key/list", "Bearer sk-master"),
    );
    assert_eq!(s.on_http_request_headers(4, true), Action::Continue);
    let sent = s.host().request_headers.borrow().clone();
    let sealed = open("GET", "/key/list", decision_of(&sent));
    assert_eq!(sealed.body_sha256, Some(body_digest(b"")));
}

#[test]
fn admin_bodies_over_the_cap_are_refused() {
    let mut s = stream(
        Some(snapshot()),
        &request("POST", "/key/generate", "Bearer sk-master"),
    );
    assert_eq!(s.on_http_request_headers(4, false), Action::Pause);
    let size = meshgate_policy::paths::MAX_BOUND_BODY_BYTES + 1;
    assert_eq!(s.on_http_request_body(size, false), Action::Pause);
    assert_eq!(s.host().replies.borrow()[0].status, 413);
    assert_eq!(decision_of(&s.host().request_headers.borrow()), None);
}

#[test]
fn batches_of_rate_limited_keys_are_counted_per_request() {
    let batch = |n: usize| {
        let items: Vec<String> = (0..n)
            .map(|i| format!(r#"{{"jsonrpc":"2.0","id":{i},"method":"ping"}}"#))
            .collect();
        format!("[{}]", items.join(","))
    };
    // A single request: sealed as soon as the body shows it is one.
    let mut s = stream(
        Some(snapshot()),
        &request("POST", "/mcp", "Bearer sk-limited-key"),
    );
    assert_eq!(s.on_http_request_headers(4, false), Action::Pause);
    let single = br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    *s.host().request_body.borrow_mut() = single.to_vec();
    assert_eq!(
        s.on_http_request_body(single.len(), false),
        Action::Continue
    );
    let sent = s.host().request_headers.borrow().clone();
    let sealed = open("POST", "/mcp", decision_of(&sent));
    assert_eq!(sealed.who(), Some(Principal::Key("limited".into())));
    assert_eq!(sealed.scope(), Scope::only(&["b"]));

    // Limit 3 per minute, one charged at header time: a batch of 3 exceeds it.
    let mut s = stream(
        Some(snapshot()),
        &request("POST", "/mcp", "Bearer sk-limited-key"),
    );
    assert_eq!(s.on_http_request_headers(4, false), Action::Pause);
    let body = batch(3);
    *s.host().request_body.borrow_mut() = body.as_bytes()[..10].to_vec();
    assert_eq!(
        s.on_http_request_body(10, false),
        Action::Pause,
        "a batch waits for its end"
    );
    *s.host().request_body.borrow_mut() = body.clone().into_bytes();
    s.on_http_request_body(body.len(), true);
    // The first header-time charge happened in a fresh mock: 1 + 2 extra = 3, admitted.
    assert!(s.host().replies.borrow().is_empty());
    assert!(decision_of(&s.host().request_headers.borrow()).is_some());

    let mut s = stream(
        Some(snapshot()),
        &request("POST", "/mcp", "Bearer sk-limited-key"),
    );
    assert_eq!(s.on_http_request_headers(4, false), Action::Pause);
    let body = batch(4);
    *s.host().request_body.borrow_mut() = body.clone().into_bytes();
    assert_eq!(s.on_http_request_body(body.len(), true), Action::Pause);
    let replies = s.host().replies.borrow().clone();
    assert_eq!(replies[0].status, 429);
    assert!(replies[0].headers.iter().any(|(n, _)| n == "retry-after"));
    assert_eq!(decision_of(&s.host().request_headers.borrow()), None);
}

#[test]
fn probes_pass_without_a_key() {
    let mut s = stream(None, &[(":method", "GET"), (":path", "/health/liveliness")]);
    assert_eq!(s.on_http_request_headers(2, true), Action::Continue);
    let sent = s.host().request_headers.borrow().clone();
    let sealed = open("GET", "/health/liveliness", decision_of(&sent));
    assert_eq!(sealed.who(), Some(Principal::Health));
}

#[test]
fn tool_calls_of_a_key_over_budget_are_refused_here() {
    let over = || {
        let mut snap = snapshot();
        snap.set_budgets(|_| {
            Some(meshgate_policy::budget::BudgetExceeded {
                owner: meshgate_policy::budget::BudgetOwner::Key,
                id: None,
                spend: 1.5,
                max_budget: 1.0,
            })
        });
        snap
    };
    // Without Mcp-Method the body is read: a tools/call is answered locally, LiteLLM's 400.
    let mut s = stream(
        Some(over()),
        &request("POST", "/mcp", "Bearer sk-limited-key"),
    );
    assert_eq!(s.on_http_request_headers(4, false), Action::Pause);
    let call = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"b-x"}}"#;
    *s.host().request_body.borrow_mut() = call.to_vec();
    assert_eq!(
        s.on_http_request_body(call.len(), false),
        Action::Pause,
        "waits for the end"
    );
    assert_eq!(s.on_http_request_body(call.len(), true), Action::Pause);
    let replies = s.host().replies.borrow().clone();
    assert_eq!(replies[0].status, 400);
    let body: serde_json::Value = serde_json::from_str(&replies[0].body).unwrap();
    assert_eq!(body["error"]["type"], "budget_exceeded");
    assert_eq!(
        body["error"]["message"],
        "Budget has been exceeded! Current cost: 1.5, Max budget: 1.0"
    );
    assert_eq!(decision_of(&s.host().request_headers.borrow()), None);
    // The audit trail says why.
    let record = s.host().audit().unwrap();
    assert_eq!(record.reason, meshgate_policy::budget::REASON);
    assert_eq!(record.decision, meshgate_policy::audit::Verdict::Refused);

    // Anything else passes, sealed.
    let mut s = stream(
        Some(over()),
        &request("POST", "/mcp", "Bearer sk-limited-key"),
    );
    assert_eq!(s.on_http_request_headers(4, false), Action::Pause);
    let list = br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    *s.host().request_body.borrow_mut() = list.to_vec();
    assert_eq!(s.on_http_request_body(list.len(), true), Action::Continue);
    assert!(s.host().replies.borrow().is_empty());
    assert!(decision_of(&s.host().request_headers.borrow()).is_some());

    // Mcp-Method names the method: refused at header time, without the body.
    let mut headers = request("POST", "/mcp", "Bearer sk-limited-key");
    headers.push(("mcp-method", "tools/call"));
    let mut s = stream(Some(over()), &headers);
    assert_eq!(s.on_http_request_headers(5, false), Action::Pause);
    assert_eq!(s.host().replies.borrow()[0].status, 400);
    assert_eq!(
        s.host().audit().unwrap().reason,
        meshgate_policy::budget::REASON
    );

    // Within budget, nothing is held for it (a key without rpm_limit streams).
    let mut headers = request("POST", "/mcp", "Bearer sk-limited-key");
    headers.push(("mcp-method", "tools/call"));
    let mut s = stream(Some(snapshot()), &headers);
    s.on_http_request_headers(5, false);
    assert!(s.host().replies.borrow().is_empty());
}
