//! The admin API (LiteLLM's routes): keys, teams, organizations, database MCP servers,
//! and the REST tool endpoints. Requests arrive through Envoy like MCP requests, signed
//! by the filter (`principal` is `master` or `key:<id>`); writes and other keys' data
//! need the master key. JSON in and out; errors are `{"error", "message"[, "field"]}`
//! (`error.rs`). Every successful write recompiles the policy at once, and the answer
//! waits until the filters hold it (`AppState::propagate`, called by the router).

mod audit;
mod error;
mod keys;
mod orgs;
mod redact;
mod request;
mod rest;
mod servers;
mod spend;
mod teams;

use http::{Method, Request, Response};
use hyper::body::Incoming;

use crate::body::Body;
use crate::state::AppState;
use crate::verify::Principal;

use error::ApiError;
use request::{AdminRequest, AdminResult};

/// LiteLLM's `GET /mcp/enabled` → `{"enabled": true}`.
const ENABLED: &str = "/mcp/enabled";

/// Whether a body is declared as JSON (`application/json`, `application/*+json`).
fn declares_json(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| {
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
}

pub async fn handle(
    state: &AppState,
    principal: Principal,
    req: Request<Incoming>,
) -> Response<Body> {
    // Browser pages of other origins are refused before anything is read (as on /mcp),
    // and bodies must be declared JSON: the content types a page may send without a
    // CORS preflight (text/plain, forms) never reach a handler.
    if let Some(origin) = req.headers().get(http::header::ORIGIN) {
        let allowed = &state.runtime().config.meshgate.allowed_origins;
        if !origin
            .to_str()
            .is_ok_and(|o| meshgate_policy::origin::origin_allowed(o, allowed))
        {
            return ApiError::ForbiddenOrigin.into_response();
        }
    }
    let (parts, incoming) = req.into_parts();
    let limit = state.runtime().config.meshgate.max_body_bytes;
    // Drained when over the limit, so the 413 reaches the client (see limited_body).
    let body = match crate::limited_body::read(incoming, limit).await {
        Ok(b) => b,
        Err(crate::limited_body::BodyError::TooLarge(limit)) => {
            return ApiError::TooLarge(limit).into_response()
        }
        Err(crate::limited_body::BodyError::Unreadable) => {
            return ApiError::MalformedJson("the request body could not be read".into())
                .into_response()
        }
    };
    // The filter sealed the body's hash: refuse any other body (a replayed decision).
    if let Err(e) = principal.check_body(&body) {
        return crate::error::HttpError::Unsigned(e).into_response();
    }
    if !body.iter().all(u8::is_ascii_whitespace) && !declares_json(&parts.headers) {
        return ApiError::NotJson.into_response();
    }
    let req = AdminRequest::new(
        parts.method,
        parts.uri.path(),
        parts.uri.query(),
        parts.headers,
        body,
        principal,
    );
    dispatch(state, &req)
        .await
        .unwrap_or_else(ApiError::into_response)
}

const GET: &[&str] = &["GET"];
const POST: &[&str] = &["POST"];

/// The methods a route takes; None for an unknown path.
fn methods(path: &str) -> Option<&'static [&'static str]> {
    Some(match path {
        "/key/generate" | "/key/update" | "/key/delete" | "/key/block" | "/key/unblock" => POST,
        "/key/info" | "/key/list" => GET,
        "/team/new"
        | "/team/update"
        | "/team/delete"
        | "/team/member_add"
        | "/team/member_update"
        | "/team/member_delete"
        | "/team/block"
        | "/team/unblock" => POST,
        "/team/info" | "/team/list" => GET,
        "/organization/new" => POST,
        "/organization/update" => &["POST", "PATCH"],
        "/organization/delete" => &["POST", "DELETE"],
        "/organization/info" | "/organization/list" => GET,
        "/v1/mcp/server" => &["GET", "POST", "PUT"],
        "/v1/mcp/access_groups" => GET,
        "/mcp-rest/tools/list" => GET,
        "/mcp-rest/tools/call" => POST,
        "/guardrails/metrics" => GET,
        "/audit/logs" | "/audit/metrics" => GET,
        "/spend/logs" | "/spend/summary" | "/spend/metrics" => GET,
        ENABLED => GET,
        p if server_ident(p).is_some() => &["GET", "DELETE"],
        _ => return None,
    })
}

/// `{id}` of `/v1/mcp/server/{id}`.
fn server_ident(path: &str) -> Option<&str> {
    path.strip_prefix("/v1/mcp/server/")
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

async fn dispatch(state: &AppState, req: &AdminRequest) -> AdminResult {
    let path = match req.path.trim_end_matches('/') {
        "" => "/",
        p => p,
    };
    let allowed = methods(path).ok_or(ApiError::NoRoute)?;
    let method = req.method.as_str();
    if !allowed.contains(&method) {
        return Err(ApiError::WrongMethod(allowed));
    }
    match (&req.method, path) {
        (_, "/key/generate") => keys::generate(state, req).await,
        (_, "/key/update") => keys::update(state, req).await,
        (_, "/key/delete") => keys::delete(state, req).await,
        (_, "/key/block") => keys::set_blocked(state, req, true).await,
        (_, "/key/unblock") => keys::set_blocked(state, req, false).await,
        (_, "/key/info") => keys::info(state, req).await,
        (_, "/key/list") => keys::list(state, req).await,
        (_, "/team/new") => teams::create(state, req).await,
        (_, "/team/update") => teams::update(state, req).await,
        (_, "/team/delete") => teams::delete(state, req).await,
        (_, "/team/info") => teams::info(state, req).await,
        (_, "/team/list") => teams::list(state, req).await,
        (_, "/team/member_add") => teams::member_add(state, req).await,
        (_, "/team/member_update") => teams::member_update(state, req).await,
        (_, "/team/member_delete") => teams::member_delete(state, req).await,
        (_, "/team/block") => teams::set_blocked(state, req, true).await,
        (_, "/team/unblock") => teams::set_blocked(state, req, false).await,
        (_, "/organization/new") => orgs::create(state, req).await,
        (_, "/organization/update") => orgs::update(state, req).await,
        (_, "/organization/delete") => orgs::delete(state, req).await,
        (_, "/organization/info") => orgs::info(state, req).await,
        (_, "/organization/list") => orgs::list(state, req).await,
        (&Method::GET, "/v1/mcp/server") => servers::list(state, req).await,
        (&Method::POST, "/v1/mcp/server") => servers::create(state, req).await,
        (_, "/v1/mcp/server") => servers::update(state, req).await,
        (_, "/v1/mcp/access_groups") => servers::access_groups(state, req).await,
        (_, "/mcp-rest/tools/list") => rest::tools_list(state, req).await,
        (_, "/mcp-rest/tools/call") => rest::tools_call(state, req).await,
        (_, "/guardrails/metrics") => rest::guardrail_metrics(req),
        (_, "/audit/logs") => audit::logs(state, req).await,
        (_, "/audit/metrics") => audit::metrics(state, req),
        (_, "/spend/logs") => spend::logs(state, req).await,
        (_, "/spend/summary") => spend::summary(state, req).await,
        (_, "/spend/metrics") => spend::metrics(state, req),
        (_, ENABLED) => request::ok(&serde_json::json!({"enabled": true})),
        (method, p) => match server_ident(p) {
            Some(id) if method == Method::GET => servers::get(state, req, id).await,
            Some(id) => servers::delete(state, req, id).await,
            None => Err(ApiError::NoRoute),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_methods() {
        assert_eq!(methods("/key/generate"), Some(POST));
        assert_eq!(methods("/v1/mcp/server/abc"), Some(&["GET", "DELETE"][..]));
        assert_eq!(methods("/v1/mcp/server/a/b"), None);
        assert_eq!(methods("/key/nope"), None);
        assert_eq!(server_ident("/v1/mcp/server/web"), Some("web"));
    }
}
