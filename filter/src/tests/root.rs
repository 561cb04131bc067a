//! The sync state machine: first sync posts the document, 200 loads a snapshot and
//! long-polls again with a light body, 304 keeps it, 428 re-sends the document, 409 /
//! errors / timeouts keep the last snapshot and retry on the tick.

use proxy_wasm::traits::{Context, RootContext};
use std::time::Duration;

use meshgate_policy::signing::body_digest;
use meshgate_policy::sync::{
    etag, SyncState, DOCUMENT_CONTENT_TYPE, LIGHT_CONTENT_TYPE, SYNC_PATH,
};
use meshgate_policy::{load_config, PolicySnapshot, Principal, Scope};

use super::{document, open, SERVERS};
use crate::mock::{Callout, MockHost};
use crate::root::FilterRoot;

fn configured(doc: &str) -> FilterRoot<MockHost> {
    let host = MockHost::new(super::NOW);
    *host.configuration.borrow_mut() = doc.as_bytes().to_vec();
    let mut root = FilterRoot::new(host);
    assert!(root.on_configure(0));
    root
}

fn snapshot_json(doc: &str) -> (String, Vec<u8>) {
    let snapshot = PolicySnapshot::compile(&load_config(doc, None).unwrap());
    (
        snapshot.version.clone(),
        serde_json::to_vec(&snapshot).unwrap(),
    )
}

/// Answers the pending callout (the last one started).
fn answer(root: &mut FilterRoot<MockHost>, status: u16, body: &[u8]) {
    let token = root.host().last_callout().unwrap().token;
    root.host().answer(status, body);
    root.on_http_call_response(token, 0, body.len(), 0);
}

fn callouts(root: &FilterRoot<MockHost>) -> Vec<Callout> {
    root.host().callouts.borrow().clone()
}

/// A root that has loaded its first snapshot; returns the snapshot's version.
fn synced(doc: &str) -> (FilterRoot<MockHost>, String) {
    let mut root = configured(doc);
    root.on_tick();
    let (version, json) = snapshot_json(doc);
    answer(&mut root, 200, &json);
    (root, version)
}

#[test]
fn the_first_sync_posts_the_sealed_document() {
    let doc = document(SERVERS);
    let mut root = configured(&doc);
    assert_eq!(root.host().tick.get(), Some(Duration::from_millis(100)));
    assert!(callouts(&root).is_empty(), "nothing before the first tick");
    root.on_tick();
    let sync = root.host().last_callout().unwrap();
    assert_eq!(sync.cluster, "sidecar");
    assert_eq!(sync.header(":path"), Some(SYNC_PATH));
    assert_eq!(sync.header(":method"), Some("POST"));
    assert_eq!(sync.header("content-type"), Some(DOCUMENT_CONTENT_TYPE));
    assert_eq!(sync.header("if-none-match"), None);
    assert_eq!(sync.body, doc.as_bytes());
    let sealed = open("POST", SYNC_PATH, sync.header("x-meshgate-decision"));
    assert_eq!(sealed.who(), Some(Principal::Filter));
    assert_eq!(sealed.body_sha256, Some(body_digest(doc.as_bytes())));
    // One sync at a time: a tick while one is pending starts nothing.
    root.on_tick();
    assert_eq!(callouts(&root).len(), 1);
}

#[test]
fn a_snapshot_is_loaded_and_followed_by_a_light_long_poll() {
    let doc = document(SERVERS);
    let (root, version) = synced(&doc);
    let shared = root.shared();
    let held = shared.borrow().snapshot.as_ref().unwrap().version.clone();
    assert_eq!(held, version);
    // After the first snapshot the tick only retries failed syncs.
    assert_eq!(root.host().tick.get(), Some(Duration::from_millis(500)));
    let calls = callouts(&root);
    assert_eq!(calls.len(), 2, "the next long-poll starts at once");
    let light = &calls[1];
    assert_eq!(light.header("content-type"), Some(LIGHT_CONTENT_TYPE));
    assert_eq!(light.header("if-none-match"), Some(etag(&version).as_str()));
    let state = SyncState::parse(&light.body).unwrap();
    assert_eq!(state.document, body_digest(doc.as_bytes()));
    assert_eq!(state.holds.as_deref(), Some(version.as_str()));
    let sealed = open("POST", SYNC_PATH, light.header("x-meshgate-decision"));
    assert_eq!(sealed.body_sha256, Some(body_digest(&light.body)));
    assert_eq!(sealed.scope(), Scope::Only(vec![]));
}

#[test]
fn not_modified_keeps_the_snapshot_and_polls_again() {
    let (mut root, version) = synced(&document(SERVERS));
    answer(&mut root, 304, b"");
    let calls = callouts(&root);
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[2].header("content-type"), Some(LIGHT_CONTENT_TYPE));
    let held = root
        .shared()
        .borrow()
        .snapshot
        .as_ref()
        .unwrap()
        .version
        .clone();
    assert_eq!(held, version);
}

#[test]
fn document_required_re_sends_the_document_once() {
    let doc = document(SERVERS);
    let (mut root, _) = synced(&doc);
    answer(&mut root, 428, b"");
    let calls = callouts(&root);
    assert_eq!(calls.len(), 3, "sent again at once");
    assert_eq!(calls[2].header("content-type"), Some(DOCUMENT_CONTENT_TYPE));
    assert_eq!(calls[2].body, doc.as_bytes());
    // Asked again right after sending it: wait for the tick, and send it then.
    answer(&mut root, 428, b"");
    assert_eq!(callouts(&root).len(), 3);
    root.on_tick();
    let calls = callouts(&root);
    assert_eq!(calls.len(), 4);
    assert_eq!(calls[3].header("content-type"), Some(DOCUMENT_CONTENT_TYPE));
    // Once the sidecar has it, syncs are light again.
    let (_, json) = snapshot_json(&doc);
    answer(&mut root, 200, &json);
    assert_eq!(
        root.host().last_callout().unwrap().header("content-type"),
        Some(LIGHT_CONTENT_TYPE)
    );
}

#[test]
fn conflicts_errors_and_timeouts_keep_the_last_snapshot_and_retry_on_the_tick() {
    for (status, body) in [
        (409, &b"{\"error\":\"conflicting_document\"}"[..]),
        (500, b"boom"),
        (503, b""),
        (0, b""), // timeout: no headers at all
        (200, b"not a snapshot"),
    ] {
        let (mut root, version) = synced(&document(SERVERS));
        answer(&mut root, status, body);
        assert_eq!(callouts(&root).len(), 2, "{status}: no immediate retry");
        let held = root
            .shared()
            .borrow()
            .snapshot
            .as_ref()
            .unwrap()
            .version
            .clone();
        assert_eq!(held, version, "{status}: snapshot kept");
        root.on_tick();
        let calls = callouts(&root);
        assert_eq!(calls.len(), 3, "{status}: retried on the tick");
        assert_eq!(calls[2].header("content-type"), Some(LIGHT_CONTENT_TYPE));
    }
}

#[test]
fn before_any_snapshot_every_retry_sends_the_document() {
    let doc = document(SERVERS);
    let mut root = configured(&doc);
    root.on_tick();
    answer(&mut root, 503, b"");
    assert!(root.shared().borrow().snapshot.is_none());
    assert_eq!(root.host().tick.get(), Some(Duration::from_millis(100)));
    root.on_tick();
    let calls = callouts(&root);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].header("content-type"), Some(DOCUMENT_CONTENT_TYPE));
}

#[test]
fn a_refused_callout_is_retried_on_the_tick() {
    let mut root = configured(&document(SERVERS));
    root.host().refuse_callouts.set(true);
    root.on_tick();
    assert!(callouts(&root).is_empty());
    root.host().refuse_callouts.set(false);
    root.on_tick();
    assert_eq!(callouts(&root).len(), 1);
}

#[test]
fn answers_to_unknown_callouts_are_ignored() {
    let (mut root, _) = synced(&document(SERVERS));
    root.host().answer(200, b"{}");
    root.on_http_call_response(999, 0, 2, 0);
    assert_eq!(callouts(&root).len(), 2);
}

#[test]
fn a_document_without_a_usable_secret_is_refused() {
    for meshgate in [
        "{sidecar_cluster: sidecar}",
        "{shared_secret: fifteen-chars!!}",
        "{shared_secret: os.environ/MESHGATE_TEST_UNSET_VARIABLE}",
    ] {
        let doc = format!("meshgate: {meshgate}\nmcp_servers: {{}}\n");
        let host = MockHost::new(super::NOW);
        *host.configuration.borrow_mut() = doc.into_bytes();
        let mut root = FilterRoot::new(host);
        assert!(!root.on_configure(0), "{meshgate}");
    }
    let host = MockHost::new(super::NOW);
    *host.configuration.borrow_mut() = b"mcp_servers: [".to_vec();
    assert!(!FilterRoot::new(host).on_configure(0));
}
