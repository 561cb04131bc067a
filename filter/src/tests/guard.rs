//! pre_mcp_call guardrails in the stream: block (answered here, nothing forwarded),
//! mask (body rewritten), pass, batches, per-key and per-request selection, bodies that
//! are not JSON or are too large.

use proxy_wasm::traits::HttpContext;
use proxy_wasm::types::Action;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::rc::Rc;

use meshgate_policy::auth::hash_key;
use meshgate_policy::snapshot::SnapshotKey;
use meshgate_policy::{load_config, PolicySnapshot};

use super::{decision_of, document, NOW, SECRET, SERVERS};
use crate::mock::MockHost;
use crate::root::Shared;
use crate::stream::FilterStream;

const GUARDRAILS: &str = "guardrails:\n  - guardrail_name: cards\n    litellm_params: {guardrail: meshgate, mode: pre_mcp_call, default_on: true, pii_entities_config: {CREDIT_CARD: BLOCK, EMAIL_ADDRESS: MASK}}\n  - guardrail_name: secrets\n    litellm_params: {guardrail: meshgate, mode: pre_mcp_call, pii_entities_config: {AWS_ACCESS_KEY: BLOCK}}\n  - guardrail_name: results-only\n    litellm_params: {guardrail: meshgate, mode: post_mcp_call, pii_entities_config: {AWS_ACCESS_KEY: BLOCK}}\n  - guardrail_name: outside\n    litellm_params: {guardrail: generic_guardrail_api, mode: pre_mcp_call, api_base: 'http://127.0.0.1:1'}\n";
const KEY_WITH: &str = "sk-key-with-secrets";
const KEY_WITHOUT: &str = "sk-key-without";
const AWS: &str = "AKIAIOSFODNN7EXAMPLE";
const CARD: &str = "4111 1111 1111 1111";
const BLOCK_TEXT_CARD: &str = "Error: Blocked PII entity detected - Blocked entity detected: CREDIT_CARD by Guardrail: cards. This entity is not allowed to be used in this request.";

fn snapshot() -> PolicySnapshot {
    let text = format!("{}{GUARDRAILS}", document(SERVERS));
    let config = load_config(&text, None).unwrap();
    let key = |k: &str, id: &str, guardrails: Vec<String>| SnapshotKey {
        hash: hash_key(k),
        id: id.into(),
        servers: vec![0, 1],
        guardrails,
        ..Default::default()
    };
    PolicySnapshot::compile_with_keys(
        &config,
        vec![
            key(KEY_WITH, "with", vec!["secrets".into()]),
            key(KEY_WITHOUT, "without", Vec::new()),
        ],
    )
}

fn stream(headers: &[(&str, &str)], max_body: usize) -> FilterStream<MockHost> {
    let host = MockHost::new(NOW);
    *host.request_headers.borrow_mut() = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let mut shared = Shared::new(7);
    shared.secret = SECRET.as_bytes().to_vec();
    shared.max_body_bytes = max_body;
    shared.load(snapshot()).unwrap();
    FilterStream::new(Rc::new(host), Rc::new(RefCell::new(shared)))
}

fn post(path: &'static str, key: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        (":method", "POST"),
        (":path", path),
        (":authority", "gateway"),
        ("authorization", key),
        ("content-length", "1"),
    ]
}

/// Sends `body` in two chunks; returns the stream after the last.
fn send(headers: &[(&str, &str)], body: &str) -> (FilterStream<MockHost>, Action) {
    let mut s = stream(headers, 1 << 20);
    assert_eq!(
        s.on_http_request_headers(headers.len(), false),
        Action::Pause
    );
    let half = body.len() / 2;
    *s.host().request_body.borrow_mut() = body.as_bytes()[..half].to_vec();
    assert_eq!(s.on_http_request_body(half, false), Action::Pause);
    *s.host().request_body.borrow_mut() = body.as_bytes().to_vec();
    let last = s.on_http_request_body(body.len(), true);
    (s, last)
}

fn call(id: &str, arguments: Value) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"a-echo","arguments":{arguments}}}}}"#
    )
}

fn forwarded(s: &FilterStream<MockHost>) -> bool {
    s.host().replies.borrow().is_empty()
        && decision_of(&s.host().request_headers.borrow()).is_some()
}

fn reply(s: &FilterStream<MockHost>) -> (u16, String) {
    let replies = s.host().replies.borrow();
    assert_eq!(replies.len(), 1, "one local reply");
    assert!(decision_of(&s.host().request_headers.borrow()).is_none());
    (replies[0].status, replies[0].body.clone())
}

#[test]
fn a_blocked_call_is_answered_here_with_the_ids_bytes_and_litellms_text() {
    let body = call("1.50", json!({"note": {"cards": ["x", CARD]}}));
    let (s, last) = send(&post("/mcp", "Bearer sk-master"), &body);
    assert_eq!(last, Action::Pause);
    let (status, text) = reply(&s);
    assert_eq!(status, 200);
    assert_eq!(
        text,
        format!(
            r#"{{"jsonrpc":"2.0","id":1.50,"result":{{"content":[{{"text":"{BLOCK_TEXT_CARD}","type":"text"}}],"isError":true}}}}"#
        )
    );
    assert!(!text.contains("4111"));
    let counters = s.host().counters.borrow();
    assert_eq!(
        counters.get("meshgate_guardrail.block.cards.CREDIT_CARD.a"),
        Some(&1)
    );
}

#[test]
fn a_masked_call_is_forwarded_with_the_masked_arguments() {
    let body = call("\"7\"", json!({"to": ["bob@corp.example.com"], "n": 3}));
    let (s, last) = send(&post("/mcp/a", "Bearer sk-master"), &body);
    assert_eq!(last, Action::Continue);
    assert!(forwarded(&s));
    let sent: Value = serde_json::from_slice(&s.host().replaced_bodies.borrow()[0]).unwrap();
    assert_eq!(
        sent["params"]["arguments"],
        json!({"to": ["<EMAIL_ADDRESS>"], "n": 3})
    );
    assert_eq!(sent["id"], "7");
    assert_eq!(s.host().request_header("content-length"), None);
    assert_eq!(
        s.host()
            .counters
            .borrow()
            .get("meshgate_guardrail.mask.cards.EMAIL_ADDRESS.a"),
        Some(&1)
    );
}

#[test]
fn a_clean_call_passes_unchanged_and_other_methods_are_not_scanned() {
    let (s, last) = send(
        &post("/mcp", "Bearer sk-master"),
        &call("1", json!({"q": "hello"})),
    );
    assert_eq!(last, Action::Continue);
    assert!(forwarded(&s));
    assert!(s.host().replaced_bodies.borrow().is_empty());
    let list = format!(
        r#"{{"jsonrpc":"2.0","id":2,"method":"prompts/get","params":{{"name":"a-p","arguments":{{"c":"{CARD}"}}}}}}"#
    );
    let (s, _) = send(&post("/mcp", "Bearer sk-master"), &list);
    assert!(forwarded(&s));
}

#[test]
fn guardrails_attach_by_key_and_a_request_can_only_add() {
    let args = json!({"k": AWS});
    let (s, _) = send(
        &post("/mcp", "Bearer sk-key-with-secrets"),
        &call("1", args.clone()),
    );
    assert!(reply(&s).1.contains("AWS_ACCESS_KEY by Guardrail: secrets"));
    let (s, _) = send(
        &post("/mcp", "Bearer sk-key-without"),
        &call("1", args.clone()),
    );
    assert!(forwarded(&s), "the key without the guardrail passes");
    // The header adds it…
    let mut headers = post("/mcp", "Bearer sk-key-without");
    headers.push(("x-mcp-guardrails", " secrets , "));
    let (s, _) = send(&headers, &call("1", args.clone()));
    assert!(reply(&s).1.contains("Guardrail: secrets"));
    // …so does params._meta.guardrails…
    let meta = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"a-echo","arguments":{{"k":"{AWS}"}},"_meta":{{"guardrails":["secrets"]}}}}}}"#
    );
    let (s, _) = send(&post("/mcp", "Bearer sk-key-without"), &meta);
    assert!(reply(&s).1.contains("Guardrail: secrets"));
    // …a post-only or external guardrail does not act before the call here…
    let mut headers = post("/mcp", "Bearer sk-key-without");
    headers.push(("x-mcp-guardrails", "results-only,outside"));
    let (s, _) = send(&headers, &call("1", args.clone()));
    assert!(forwarded(&s));
    // …and default_on ones cannot be asked away: nothing in a request removes them.
    let (s, _) = send(
        &post("/mcp", "Bearer sk-key-without"),
        &call("1", json!({"c": CARD})),
    );
    assert!(reply(&s).1.contains("Guardrail: cards"));
}

#[test]
fn an_unknown_requested_guardrail_is_refused_by_name() {
    let mut headers = post("/mcp", "Bearer sk-master");
    headers.push(("x-mcp-guardrails", "nope,secrets"));
    let (s, _) = send(&headers, &call("3", json!({"q": "x"})));
    let (status, body) = reply(&s);
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["id"], 3);
    assert_eq!(answer["result"]["isError"], true);
    let text = answer["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("unknown guardrail(s): nope"), "{text}");
    let bad_meta = r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"a-echo","arguments":{},"_meta":{"guardrails":"secrets"}}}"#;
    let (s, _) = send(&post("/mcp", "Bearer sk-master"), bad_meta);
    assert!(reply(&s).1.contains("must be an array"));
}

#[test]
fn a_batch_with_a_blocked_call_is_answered_whole_and_a_masked_one_rewritten() {
    let batch = format!(
        "[{},{},{}]",
        call("1", json!({"q": "fine"})),
        call("2", json!({"c": CARD})),
        r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{}}"#
    );
    let (s, last) = send(&post("/mcp", "Bearer sk-master"), &batch);
    assert_eq!(last, Action::Pause);
    let answers: Value = serde_json::from_str(&reply(&s).1).unwrap();
    let answers = answers.as_array().unwrap();
    assert_eq!(answers.len(), 2, "the notification gets no answer");
    assert_eq!(answers[0]["id"], 1);
    assert!(answers[0]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not run"));
    assert_eq!(answers[1]["id"], 2);
    assert_eq!(answers[1]["result"]["isError"], true);

    let batch = format!(
        "[{},{}]",
        call("1", json!({"q": "fine"})),
        call("2", json!({"m": "mail a@b.example.org"}))
    );
    let (s, last) = send(&post("/mcp", "Bearer sk-master"), &batch);
    assert_eq!(last, Action::Continue);
    let sent: Value = serde_json::from_slice(&s.host().replaced_bodies.borrow()[0]).unwrap();
    assert_eq!(sent[0]["params"]["arguments"]["q"], "fine");
    assert_eq!(sent[1]["params"]["arguments"]["m"], "mail <EMAIL_ADDRESS>");

    // A clean batch passes untouched; one element naming an unknown guardrail in its
    // `_meta` still sends the whole batch to the full check.
    let clean = format!(
        "[{},{}]",
        call("1", json!({"q": "fine"})),
        call("2", json!({"n": [1, 2, 3]}))
    );
    let (s, last) = send(&post("/mcp", "Bearer sk-master"), &clean);
    assert_eq!(last, Action::Continue);
    assert!(forwarded(&s));
    assert!(s.host().replaced_bodies.borrow().is_empty());
    let named = format!(
        r#"[{},{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"a-echo","arguments":{{}},"_meta":{{"guardrails":["nope"]}}}}}}]"#,
        call("1", json!({"q": "fine"}))
    );
    let (s, _) = send(&post("/mcp", "Bearer sk-master"), &named);
    let answers: Value = serde_json::from_str(&reply(&s).1).unwrap();
    let text = answers[1]["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("unknown guardrail(s): nope"), "{text}");
}

#[test]
fn bodies_that_are_not_json_pass_and_oversize_ones_are_refused() {
    let (s, last) = send(&post("/mcp", "Bearer sk-master"), "not json {");
    assert_eq!(last, Action::Continue);
    assert!(forwarded(&s), "the sidecar answers the parse error");
    let mut s = stream(&post("/mcp", "Bearer sk-master"), 1024);
    assert_eq!(s.on_http_request_headers(5, false), Action::Pause);
    assert_eq!(s.on_http_request_body(2048, false), Action::Pause);
    let (status, body) = reply(&s);
    assert_eq!(status, 413);
    assert!(body.contains("body_too_large"));
}

#[test]
fn requests_without_a_body_or_off_the_mcp_paths_are_not_held() {
    let mut s = stream(&post("/mcp", "Bearer sk-master"), 1 << 20);
    assert_eq!(s.on_http_request_headers(5, true), Action::Continue);
    let mut get = post("/mcp", "Bearer sk-master");
    get[0] = (":method", "GET");
    let mut s = stream(&get, 1 << 20);
    assert_eq!(s.on_http_request_headers(5, false), Action::Continue);
}

#[test]
fn the_rest_call_is_refused_with_litellms_400() {
    let body = json!({"server_id": "a", "name": "echo", "arguments": {"c": CARD}}).to_string();
    let (s, _) = send(&post("/mcp-rest/tools/call", "Bearer sk-master"), &body);
    let (status, text) = reply(&s);
    assert_eq!(status, 400);
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["error"], "guardrail_violation");
    assert!(answer["message"]
        .as_str()
        .unwrap()
        .contains("CREDIT_CARD by Guardrail: cards"));
    assert!(!text.contains("4111"));
    // A masked REST call is rebound: the sealed digest is the rewritten body's.
    let body = json!({"server_id": "a", "name": "echo", "arguments": {"m": "x@y.example.com"}})
        .to_string();
    let (s, last) = send(&post("/mcp-rest/tools/call", "Bearer sk-master"), &body);
    assert_eq!(last, Action::Continue);
    let sent = s.host().replaced_bodies.borrow()[0].clone();
    let sealed = super::open(
        "POST",
        "/mcp-rest/tools/call",
        decision_of(&s.host().request_headers.borrow()),
    );
    assert_eq!(
        sealed.body_sha256,
        Some(meshgate_policy::signing::body_digest(&sent))
    );
    let sent: Value = serde_json::from_slice(&sent).unwrap();
    assert_eq!(sent["arguments"]["m"], "<EMAIL_ADDRESS>");
    assert_eq!(sent["server_id"], "a");
    // Escaped text is read as JSON reads it; a clean REST call passes untouched.
    let escaped = r#"{"server_id":"a","name":"echo","arguments":{"m":"x\u0040y.example.com"}}"#;
    let (s, _) = send(&post("/mcp-rest/tools/call", "Bearer sk-master"), escaped);
    let sent: Value = serde_json::from_slice(&s.host().replaced_bodies.borrow()[0]).unwrap();
    assert_eq!(sent["arguments"]["m"], "<EMAIL_ADDRESS>");
    let clean = json!({"server_id": "a", "name": "echo", "arguments": {"q": "fine"}}).to_string();
    let (s, last) = send(&post("/mcp-rest/tools/call", "Bearer sk-master"), &clean);
    assert_eq!(last, Action::Continue);
    assert!(s.host().replaced_bodies.borrow().is_empty());
}

#[test]
fn model_shaped_rest_calls_are_checked_like_litellms() {
    // OpenAI Chat tool call: the arguments are JSON text inside a string.
    let args = json!({"c": CARD}).to_string();
    let body = json!({"id": "call_1", "type": "function", "function": {"name": "a-echo", "arguments": args}})
        .to_string();
    let (s, _) = send(&post("/mcp-rest/tools/call", "Bearer sk-master"), &body);
    let (status, text) = reply(&s);
    assert_eq!(status, 400);
    assert!(text.contains("CREDIT_CARD by Guardrail: cards"), "{text}");
    assert!(!text.contains("4111"));
    // Anthropic tool_use and Responses function_call, blocked the same way.
    for body in [
        json!({"type": "tool_use", "id": "toolu_1", "name": "a-echo", "input": {"c": CARD}}),
        json!({"type": "function_call", "call_id": "c1", "name": "a-echo", "arguments": json!({"c": CARD}).to_string()}),
        json!({"function": {"name": "echo", "arguments": {"c": CARD}}, "server_id": "a"}),
    ] {
        let (s, _) = send(
            &post("/mcp-rest/tools/call", "Bearer sk-master"),
            &body.to_string(),
        );
        assert_eq!(reply(&s).0, 400, "{body}");
    }
    // A mask is written back as JSON text where the arguments were text.
    let args = json!({"m": "x@y.example.com", "n": 1}).to_string();
    let body =
        json!({"type": "function", "function": {"name": "a-echo", "arguments": args}}).to_string();
    let (s, last) = send(&post("/mcp-rest/tools/call", "Bearer sk-master"), &body);
    assert_eq!(last, Action::Continue);
    let sent: Value = serde_json::from_slice(&s.host().replaced_bodies.borrow()[0]).unwrap();
    let masked: Value =
        serde_json::from_str(sent["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(masked, json!({"m": "<EMAIL_ADDRESS>", "n": 1}));
    assert_eq!(sent["type"], "function");
    let body =
        json!({"type": "tool_use", "id": "t", "name": "a-echo", "input": {"m": "x@y.example.com"}})
            .to_string();
    let (s, _) = send(&post("/mcp-rest/tools/call", "Bearer sk-master"), &body);
    let sent: Value = serde_json::from_slice(&s.host().replaced_bodies.borrow()[0]).unwrap();
    assert_eq!(sent["input"]["m"], "<EMAIL_ADDRESS>");
    // Clean, and unparseable (the sidecar refuses those), pass untouched.
    for args in [json!({"q": "fine"}).to_string(), "{\"c\": ".to_string()] {
        let body = json!({"function": {"name": "a-echo", "arguments": args}}).to_string();
        let (s, last) = send(&post("/mcp-rest/tools/call", "Bearer sk-master"), &body);
        assert_eq!(last, Action::Continue);
        assert!(s.host().replaced_bodies.borrow().is_empty());
    }
}

#[test]
fn a_2026_request_is_decided_at_header_time_then_its_body_checked() {
    let mut headers = post("/mcp", "Bearer sk-master");
    headers.push(("mcp-protocol-version", "2026-07-28"));
    headers.push(("mcp-method", "tools/call"));
    headers.push(("mcp-name", "a-echo"));
    let (s, last) = send(&headers, &call("5", json!({"c": CARD})));
    assert_eq!(last, Action::Pause);
    let (status, body) = reply(&s);
    assert_eq!(status, 200);
    assert!(body.contains("CREDIT_CARD by Guardrail: cards"), "{body}");
    // A tool on a server the request may not reach is still refused at header time,
    // before any body is read.
    let mut headers = post("/mcp", "Bearer sk-master");
    headers.push(("x-mcp-servers", "b"));
    headers.push(("mcp-protocol-version", "2026-07-28"));
    headers.push(("mcp-method", "tools/call"));
    headers.push(("mcp-name", "a-echo"));
    let mut s = stream(&headers, 1 << 20);
    assert_eq!(
        s.on_http_request_headers(headers.len(), false),
        Action::Pause
    );
    let (status, body) = reply(&s);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("\"jsonrpc\""), "{body}");
}

#[test]
fn without_a_possible_selection_the_body_is_not_parsed_but_meta_and_keys_still_count() {
    use crate::guard::{check_body, Outcome, Request};
    use meshgate_policy::guardrails::GuardrailSet;
    let text = format!(
        "{}guardrails:\n  - guardrail_name: opt-in\n    litellm_params: {{guardrail: meshgate, mode: pre_mcp_call, pii_entities_config: {{CREDIT_CARD: BLOCK}}}}\n",
        document(SERVERS)
    );
    let snapshot = PolicySnapshot::compile(&load_config(&text, None).unwrap());
    let set = GuardrailSet::compile(&snapshot.guardrails).unwrap();
    let check = |attached: &[String], body: &str| {
        let req = Request {
            snapshot: &snapshot,
            set: &set,
            attached,
            header_names: &[],
            rest: false,
        };
        check_body(&req, body.as_bytes(), &mut Vec::new())
    };
    let plain = call("1", json!({"c": CARD}));
    assert_eq!(check(&[], &plain), Outcome::Pass, "nothing selected");
    let meta = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"a-echo","arguments":{{"c":"{CARD}"}},"_meta":{{"guardrails":["opt-in"]}}}}}}"#
    );
    assert!(matches!(check(&[], &meta), Outcome::Reply { .. }));
    assert!(matches!(
        check(&["opt-in".into()], &plain),
        Outcome::Reply { .. }
    ));
    // A key naming a guardrail that no longer exists is refused, never skipped.
    let Outcome::Reply { body, .. } = check(&["gone".into()], &call("1", json!({}))) else {
        panic!("not refused");
    };
    assert!(body.contains("unknown guardrail(s): gone"), "{body}");
}

#[test]
fn a_single_message_is_read_as_json_reads_it_escapes_and_duplicate_keys_included() {
    // An escaped method name is still `tools/call`; an escaped `@` is still an e-mail.
    let escaped = r#"{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"name":"a-echo","arguments":{"to":"bob\u0040corp.example.com"}}}"#;
    let (s, _) = send(&post("/mcp", "Bearer sk-master"), escaped);
    assert!(forwarded(&s));
    let sent: Value = serde_json::from_slice(&s.host().replaced_bodies.borrow()[0]).unwrap();
    assert_eq!(
        sent["params"]["arguments"],
        json!({"to": "<EMAIL_ADDRESS>"})
    );
    // Of duplicate keys the last one counts, as in a parsed tree.
    let duplicate = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"a-echo","arguments":{{"c":"ok"}},"arguments":{{"c":"{CARD}"}}}}}}"#
    );
    let (s, _) = send(&post("/mcp", "Bearer sk-master"), &duplicate);
    assert!(reply(&s).1.contains("CREDIT_CARD by Guardrail: cards"));
    // `params` that is not an object has no arguments to scan.
    let odd = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["{CARD}"]}}"#);
    let (s, _) = send(&post("/mcp", "Bearer sk-master"), &odd);
    assert!(forwarded(&s));
}
