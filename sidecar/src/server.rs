//! Accepts connections from Envoy and routes requests by `meshgate_policy::paths::Route`
//! (the filter's vocabulary too). Everything but `/healthz` and LiteLLM's probes must
//! carry a valid filter signature.

use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use meshgate_policy::paths::Route;
use meshgate_policy::signing::body_digest;
use meshgate_policy::sync::{
    etag, etag_version, SyncBody, SyncOutcome, SyncState, LONG_POLL_MS, SYNC_PRINCIPAL,
};

use crate::admin;
use crate::body::{self, Body};
use crate::error::HttpError;
use crate::mcp;
use crate::state::AppState;
use crate::verify::{now_ms, verify_request, Principal};

const MAX_CONFIG_BYTES: usize = 16 * 1024 * 1024;

pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    state: Arc<AppState>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    continue;
                }
            },
            _ = stop.wait_for(|s| *s) => return,
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => serve_connection(stream, state).await,
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(stream) => serve_connection(stream, state).await,
                    // A client without a valid certificate ends here.
                    Err(e) => tracing::warn!("TLS handshake refused: {e}"),
                },
            }
        });
    }
}

async fn serve_connection<S>(stream: S, state: Arc<AppState>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req| {
        let state = Arc::clone(&state);
        async move { Ok::<_, Infallible>(route(&state, req).await) }
    });
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

async fn route(state: &Arc<AppState>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path();
    let route = Route::of(req.method().as_str(), path);
    match route {
        Route::SidecarHealth => return body::json(StatusCode::OK, "{\"status\":\"ok\"}"),
        // Unauthenticated, as LiteLLM serves them (they reveal nothing).
        Route::Probe(probe) => return crate::health::answer(state, probe).await,
        _ => {}
    }
    let path_and_query = req.uri().path_and_query().map_or(path, |p| p.as_str());
    let principal = match verify_request(
        &state.secret,
        &state.replay,
        req.method().as_str(),
        path_and_query,
        req.headers(),
    ) {
        Ok(p) => p,
        Err(e) => {
            let why = e.to_string();
            crate::log_limit::warn_limited!(
                "unsigned",
                &why,
                path,
                "refused a request without a valid filter signature: {why}"
            );
            return HttpError::Unsigned(e).into_response();
        }
    };
    match route {
        Route::Sync if principal.who == SYNC_PRINCIPAL => sync(state, principal, req)
            .await
            .unwrap_or_else(HttpError::into_response),
        Route::LegacySseStream => {
            debug_assert!(mcp::legacy_sse::is_stream_path(path));
            mcp::legacy_sse::open_stream(state, principal, path)
        }
        Route::LegacySseMessage => {
            debug_assert!(mcp::legacy_sse::is_message_path(path));
            mcp::legacy_sse::post_message(state, principal, req).await
        }
        Route::AdminApi | Route::Rest | Route::McpEnabled => {
            let write = req.method() != http::Method::GET && route != Route::Rest;
            let resp = admin::handle(state, principal, req).await;
            // Read-your-writes: answer once every filter enforces the change.
            if write && resp.status().is_success() {
                state.propagate().await;
            }
            resp
        }
        Route::Mcp(_) => mcp::endpoint::handle(state, principal, req).await,
        Route::Sync | Route::Internal | Route::Other | Route::SidecarHealth | Route::Probe(_) => {
            HttpError::NotFound.into_response()
        }
    }
}

/// A filter VM's sync (protocol in `meshgate_policy::sync`): a light report (its
/// document's hash and the version it holds), answered at once when its version is not
/// current and held until it changes otherwise; or, when we asked for it (428), its whole
/// document, which we load unless other live VMs sync a different one (409).
async fn sync(
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
fn snapshot_reply(runtime: &crate::state::Runtime, held: Option<&str>) -> Response<Body> {
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
