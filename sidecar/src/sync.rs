//! A filter VM's policy sync, the sidecar's end (the contract is `meshgate_policy::sync`;
//! the filter's end is `filter/src/root.rs`); `sync_book.rs` keeps which VMs sync what.

use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::time::Duration;

use meshgate_policy::signing::body_digest;
use meshgate_policy::sync::{etag, etag_version, SyncBody, SyncOutcome, SyncState, LONG_POLL_MS};

use crate::body::{self, Body};
use crate::error::HttpError;
use crate::state::{AppState, Runtime};
use crate::verify::{now_ms, Principal};

const MAX_CONFIG_BYTES: usize = 16 * 1024 * 1024;

/// A filter VM's sync (protocol in `meshgate_policy::sync`): a light report (its
/// document's hash and the version it holds), answered at once when its version is not
/// current and held until it changes otherwise; or, when we asked for it (428), its whole
/// document, which we load unless other live VMs sync a different one (409).
pub async fn handle(
    state: &AppState,
    principal: Principal,
    req: Request<Incoming>,
) -> Result<Response<Body>, HttpError> {
    let kind = SyncBody::of_content_type(
        req.headers()
            .get(header::CONTENT_TYPE)
            .map(HeaderValue::as_bytes),
    );
    let etag = req.headers().get(header::IF_NONE_MATCH).cloned();
    let bytes = http_body_util::Limited::new(req.into_body(), MAX_CONFIG_BYTES)
        .collect()
        .await
        .map_err(|_| HttpError::BodyTooLarge(MAX_CONFIG_BYTES))?
        .to_bytes();
    principal.check_body(&bytes).map_err(HttpError::Unsigned)?;
    let vm = principal.signer;
    let now = now_ms();
    if kind == SyncBody::Document {
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| HttpError::BadRequest("configuration is not UTF-8".into()))?;
        let document = body_digest(&bytes);
        if let Some(refused) = conflict(state, vm, &document, now) {
            return Ok(refused);
        }
        state.sync.record(vm, &document, None, now);
        let runtime = state.apply_document(text).await.map_err(|e| {
            tracing::error!("configuration refused: {e}");
            HttpError::InvalidConfig(e)
        })?;
        let held = etag.as_ref().and_then(|v| v.to_str().ok());
        return Ok(snapshot_reply(&runtime, held.map(etag_version)));
    }
    let report = SyncState::parse(&bytes).map_err(HttpError::BadRequest)?;
    state
        .sync
        .record(vm, &report.document, report.holds.clone(), now);
    let runtime = state.runtime();
    if report.document != runtime.config_hash {
        if let Some(refused) = conflict(state, vm, &report.document, now) {
            return Ok(refused);
        }
        return Ok(body::json_error(
            status_of(SyncOutcome::DocumentRequired),
            "document_required",
            "this sidecar does not hold the filter's configuration document; send it",
        ));
    }
    if report.holds.as_deref() == Some(runtime.snapshot.version.as_str()) {
        state
            .sync
            .wait_change(
                &runtime.snapshot.version,
                Duration::from_millis(LONG_POLL_MS),
            )
            .await;
    }
    Ok(snapshot_reply(&state.runtime(), report.holds.as_deref()))
}

/// 409 when live VMs other than `vm` sync the document this sidecar holds and `vm` brings
/// another one: the sidecar keeps serving the first instead of flapping between the two.
fn conflict(state: &AppState, vm: u64, document: &str, now: u64) -> Option<Response<Body>> {
    let current = state.runtime().config_hash.clone();
    if current.is_empty() || current == document || !state.sync.others_hold(vm, &current, now) {
        return None;
    }
    state.sync.log_conflict(document, &current);
    Some(body::json_error(
        status_of(SyncOutcome::Conflict),
        "conflicting_document",
        "other Envoy filters sync a different configuration document with this sidecar; it keeps theirs",
    ))
}

/// 304 when the VM holds the current version, else 200 with the snapshot.
fn snapshot_reply(runtime: &Runtime, held: Option<&str>) -> Response<Body> {
    if held == Some(runtime.snapshot.version.as_str()) {
        let mut resp = Response::new(body::empty());
        *resp.status_mut() = status_of(SyncOutcome::Unchanged);
        return resp;
    }
    let mut resp = body::json(
        status_of(SyncOutcome::Snapshot),
        runtime.snapshot_json.clone(),
    );
    if let Ok(v) = HeaderValue::from_str(&etag(&runtime.snapshot.version)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

fn status_of(outcome: SyncOutcome) -> StatusCode {
    StatusCode::from_u16(outcome.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}
