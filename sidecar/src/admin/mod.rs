//! The admin API (LiteLLM's routes): keys, teams, organizations, database MCP servers,
//! and the REST tool endpoints. Requests arrive through Envoy like MCP requests, signed
//! by the filter; writes need the master key.

use http::{Request, Response};
use hyper::body::Incoming;

use crate::body::Body;
use crate::error::HttpError;
use crate::state::AppState;
use crate::verify::Principal;

/// Whether a path belongs to the admin API.
pub fn is_admin_path(path: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "/key/",
        "/team/",
        "/organization/",
        "/v1/mcp/",
        "/mcp-rest/",
    ];
    PREFIXES.iter().any(|p| path.starts_with(p)) || path == "/v1/mcp/server"
}

pub async fn handle(
    _state: &AppState,
    _principal: Principal,
    _req: Request<Incoming>,
) -> Response<Body> {
    HttpError::NotFound.into_response()
}
