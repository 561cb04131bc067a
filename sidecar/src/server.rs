//! Accepts connections from Envoy and routes requests by `meshgate_policy::paths::Route`
//! (the filter's vocabulary too). Everything but `/healthz` and LiteLLM's probes must
//! carry a valid filter signature.

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use meshgate_policy::paths::Route;
use meshgate_policy::sync::SYNC_PRINCIPAL;

use crate::admin;
use crate::body::{self, Body};
use crate::error::HttpError;
use crate::mcp;
use crate::state::AppState;
use crate::verify::verify_request;

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
        Route::Sync if principal.who == SYNC_PRINCIPAL => {
            crate::sync::handle(state, principal, req)
                .await
                .unwrap_or_else(HttpError::into_response)
        }
        Route::LegacySseStream => mcp::legacy_sse::open_stream(state, principal, path),
        Route::LegacySseMessage => mcp::legacy_sse::post_message(state, principal, req).await,
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
        Route::Llm(llm) => crate::llm::handle(state, principal, llm, req).await,
        Route::Sync | Route::Internal | Route::Other | Route::SidecarHealth | Route::Probe(_) => {
            HttpError::NotFound.into_response()
        }
    }
}
