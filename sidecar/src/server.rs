//! Accepts connections from Envoy and routes requests. Everything but `/healthz`
//! must carry a valid filter signature.

use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

use meshgate_policy::decision::{path_target, PathTarget};

use crate::admin;
use crate::body::{self, Body};
use crate::error::HttpError;
use crate::mcp;
use crate::state::AppState;
use crate::verify::verify_request;

pub const SYNC_PATH: &str = "/_meshgate/v1/sync";
const FILTER_PRINCIPAL: &str = "_filter";
const MAX_CONFIG_BYTES: usize = 16 * 1024 * 1024;

pub async fn serve(listener: TcpListener, state: Arc<AppState>, mut stop: watch::Receiver<bool>) {
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
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let state = Arc::clone(&state);
                async move { Ok::<_, Infallible>(route(&state, req).await) }
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn route(state: &Arc<AppState>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path();
    if path == "/healthz" {
        return body::json(StatusCode::OK, "{\"status\":\"ok\"}");
    }
    let path_and_query = req.uri().path_and_query().map_or(path, |p| p.as_str());
    let principal = match verify_request(
        &state.secret,
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
    if path == SYNC_PATH {
        if principal.name != FILTER_PRINCIPAL {
            return HttpError::NotFound.into_response();
        }
        return sync(state, req)
            .await
            .unwrap_or_else(HttpError::into_response);
    }
    if mcp::legacy_sse::is_stream_path(path) && req.method() == http::Method::GET {
        return mcp::legacy_sse::open_stream(state, principal, path);
    }
    if mcp::legacy_sse::is_message_path(path) && req.method() == http::Method::POST {
        return mcp::legacy_sse::post_message(state, principal, req).await;
    }
    if admin::is_admin_path(path) {
        return admin::handle(state, principal, req).await;
    }
    match path_target(path) {
        PathTarget::All | PathTarget::Named(_) => {
            mcp::endpoint::handle(state, principal, req).await
        }
        PathTarget::Other => HttpError::NotFound.into_response(),
    }
}

/// The filter posts its configuration document; we load it if it changed and answer
/// with the policy snapshot (or 304 when the filter already has this version).
async fn sync(state: &AppState, req: Request<Incoming>) -> Result<Response<Body>, HttpError> {
    let etag = req.headers().get(header::IF_NONE_MATCH).cloned();
    let bytes = http_body_util::Limited::new(req.into_body(), MAX_CONFIG_BYTES)
        .collect()
        .await
        .map_err(|_| HttpError::BodyTooLarge(MAX_CONFIG_BYTES))?
        .to_bytes();
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| HttpError::BadRequest("configuration is not UTF-8".into()))?;
    let runtime = state.apply_document(text).await.map_err(|e| {
        tracing::error!("configuration refused: {e}");
        HttpError::InvalidConfig(e)
    })?;
    let current = format!("\"{}\"", runtime.snapshot.version);
    if etag.as_ref().and_then(|v| v.to_str().ok()) == Some(current.as_str()) {
        let mut resp = Response::new(body::empty());
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
        return Ok(resp);
    }
    let mut resp = body::json(StatusCode::OK, runtime.snapshot_json.clone());
    if let Ok(v) = HeaderValue::from_str(&current) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    Ok(resp)
}
