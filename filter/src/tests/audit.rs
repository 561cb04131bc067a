//! The audit record the filter leaves for Envoy's access log: every decision (allowed,
//! refused at header time, refused after the body), the principal as a hash-derived id
//! (never the key), and the call the sidecar names on its response, which the client
//! never sees.

use proxy_wasm::traits::HttpContext;
use proxy_wasm::types::Action;
use serde_json::json;
use std::cell::RefCell;
use std::rc::Rc;

use meshgate_policy::audit::{Verdict, ARGUMENTS_HEADER, CALL_HEADER, GUARDRAIL_BLOCKED, OK};
use meshgate_policy::auth::hash_key;
use meshgate_policy::snapshot::SnapshotKey;
use meshgate_policy::{load_config, PolicySnapshot};

use super::{document, NOW, SECRET, SERVERS};
use crate::mock::MockHost;
use crate::root::Shared;
use crate::stream::FilterStream;

const KEY_B: &str = "sk-key-for-server-b";
const GUARDRAIL: &str = "guardrails:\n  - guardrail_name: cards\n    litellm_params: {guardrail: meshgate, mode: pre_mcp_call, default_on: true, pii_entities_config: {CREDIT_CARD: BLOCK}}\n";

fn snapshot(guardrails: bool) -> PolicySnapshot {
    let text = if guardrails {
        format!("{}{GUARDRAIL}", document(SERVERS))
    } else {
        document(SERVERS)
    };
    let config = load_config(&text, None).unwrap();
    let key = SnapshotKey {
        hash: hash_key(KEY_B),
        id: hash_key(KEY_B)[..16].to_string(),
        servers: vec![1],
        ..Default::default()
    };
    PolicySnapshot::compile_with_keys(&config, vec![key])
}

fn stream(guardrails: bool, headers: &[(&str, &str)]) -> FilterStream<MockHost> {
    let host = MockHost::new(NOW);
    *host.request_headers.borrow_mut() = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let mut shared = Shared::new(7);
    shared.secret = SECRET.as_bytes().to_vec();
    shared.load(snapshot(guardrails)).unwrap();
    FilterStream::new(Rc::new(host), Rc::new(RefCell::new(shared)))
}

fn post<'a>(auth: Option<&'a str>, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut h = vec![
        (":method", "POST"),
        (":path", "/mcp"),
        (":authority", "gateway"),
    ];
    h.extend(auth.map(|a| ("authorization", a)));
    h.extend_from_slice(extra);
    h
}

#[test]
fn a_request_without_a_key_is_recorded_refused_with_nobody() {
    let mut s = stream(false, &post(None, &[]));
    assert_eq!(s.on_http_request_headers(3, true), Action::Pause);
    let r = s.host().audit().expect("a record");
    assert_eq!(r.decision, Verdict::Refused);
    assert_eq!(r.reason, "authentication_required");
    assert_eq!((r.principal, r.unknown_key), (None, None));
}

#[test]
fn an_invalid_key_is_recorded_by_its_hash_prefix_and_the_key_is_nowhere() {
    let mut s = stream(false, &post(Some("Bearer sk-guessed-key"), &[]));
    assert_eq!(s.on_http_request_headers(4, true), Action::Pause);
    let r = s.host().audit().unwrap();
    assert_eq!(r.reason, "invalid_key");
    assert_eq!(
        r.unknown_key.as_deref(),
        Some(&hash_key("sk-guessed-key")[..16])
    );
    for value in s.host().properties.borrow().values() {
        assert!(!String::from_utf8_lossy(value).contains("sk-guessed-key"));
    }
}

#[test]
fn a_forbidden_server_is_recorded_with_the_key_server_and_tool() {
    let auth = format!("Bearer {KEY_B}");
    let headers = post(
        Some(&auth),
        &[("mcp-method", "tools/call"), ("mcp-name", "a-echo")],
    );
    let mut s = stream(false, &headers);
    assert_eq!(s.on_http_request_headers(6, true), Action::Pause);
    assert_eq!(s.host().replies.borrow()[0].status, 403);
    let r = s.host().audit().unwrap();
    assert_eq!(r.reason, "server_not_allowed");
    assert_eq!(r.principal, Some(format!("key:{}", &hash_key(KEY_B)[..16])));
    assert_eq!(
        (r.server.as_deref(), r.tool.as_deref()),
        (Some("a"), Some("echo"))
    );
}

#[test]
fn an_allowed_call_takes_server_and_tool_from_the_sidecars_header_which_is_removed() {
    let mut s = stream(false, &post(Some("Bearer sk-master"), &[]));
    assert_eq!(s.on_http_request_headers(4, true), Action::Continue);
    let r = s.host().audit().unwrap();
    assert_eq!((r.decision, r.reason.as_str()), (Verdict::Allowed, OK));
    assert_eq!(r.principal.as_deref(), Some("master"));
    *s.host().response_headers.borrow_mut() = vec![
        (":status".into(), "200".into()),
        (CALL_HEADER.into(), "tools/call b-add".into()),
    ];
    assert_eq!(s.on_http_response_headers(2, false), Action::Continue);
    let r = s.host().audit().unwrap();
    assert_eq!(r.method.as_deref(), Some("tools/call"));
    assert_eq!(
        (r.server.as_deref(), r.tool.as_deref()),
        (Some("b"), Some("add"))
    );
    assert!(s
        .host()
        .response_headers
        .borrow()
        .iter()
        .all(|(n, _)| n != CALL_HEADER));
}

#[test]
fn the_sidecars_arguments_header_goes_into_the_record_never_to_the_client() {
    let mut s = stream(false, &post(Some("Bearer sk-master"), &[]));
    assert_eq!(s.on_http_request_headers(4, true), Action::Continue);
    *s.host().response_headers.borrow_mut() = vec![
        (":status".into(), "200".into()),
        (CALL_HEADER.into(), "tools/call b-add".into()),
        (ARGUMENTS_HEADER.into(), r#"{"a":1,"b":"caf\u00e9"}"#.into()),
    ];
    assert_eq!(s.on_http_response_headers(3, false), Action::Continue);
    let r = s.host().audit().unwrap();
    assert_eq!(r.arguments.as_deref(), Some(r#"{"a":1,"b":"caf\u00e9"}"#));
    assert_eq!(r.tool.as_deref(), Some("add"));
    let left = s.host().response_headers.borrow().clone();
    assert!(
        left.iter()
            .all(|(n, _)| n != CALL_HEADER && n != ARGUMENTS_HEADER),
        "{left:?}"
    );

    // Without a call header (never sent alone by the sidecar) it is still removed.
    let mut s = stream(false, &post(Some("Bearer sk-master"), &[]));
    assert_eq!(s.on_http_request_headers(4, true), Action::Continue);
    *s.host().response_headers.borrow_mut() = vec![
        (":status".into(), "200".into()),
        (ARGUMENTS_HEADER.into(), "{}".into()),
    ];
    assert_eq!(s.on_http_response_headers(2, false), Action::Continue);
    assert!(s
        .host()
        .response_headers
        .borrow()
        .iter()
        .all(|(n, _)| n != ARGUMENTS_HEADER));
}

#[test]
fn a_guardrail_block_is_recorded_with_the_guardrail_and_server() {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "a-echo", "arguments": {"card": "4111 1111 1111 1111"}}})
    .to_string();
    let mut s = stream(
        true,
        &post(Some("Bearer sk-master"), &[("content-length", "9")]),
    );
    assert_eq!(s.on_http_request_headers(5, false), Action::Pause);
    *s.host().request_body.borrow_mut() = body.as_bytes().to_vec();
    assert_eq!(s.on_http_request_body(body.len(), true), Action::Pause);
    let r = s.host().audit().unwrap();
    assert_eq!(r.decision, Verdict::Refused);
    assert_eq!(r.reason, GUARDRAIL_BLOCKED);
    assert_eq!(r.guardrail.as_deref(), Some("cards"));
    assert_eq!(r.server.as_deref(), Some("a"));
    assert!(!String::from_utf8_lossy(
        &s.host().properties.borrow()[meshgate_policy::audit::PROPERTY]
    )
    .contains("4111"));
}

#[test]
fn a_response_without_the_header_leaves_the_record_alone() {
    let mut s = stream(false, &post(Some("Bearer sk-master"), &[]));
    s.on_http_request_headers(4, true);
    let before = s.host().audit();
    *s.host().response_headers.borrow_mut() = vec![(":status".into(), "200".into())];
    assert_eq!(s.on_http_response_headers(1, false), Action::Continue);
    assert_eq!(s.host().audit(), before);
}
