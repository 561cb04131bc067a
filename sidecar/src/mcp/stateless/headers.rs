//! `Mcp-Method` / `Mcp-Name` request headers checked against the JSON-RPC body (for
//! 2026-07-28 requests, and for older clients that send them anyway).

use http::{HeaderMap, Response, StatusCode};
use serde_json::Value;

use super::error_reply;
use crate::body::Body;
use crate::jsonrpc::{Id, RpcError};
use meshgate_policy::mcp_headers::{check_against_body, RequestIntent};

/// `Mcp-Method` / `Mcp-Name` against the parsed body. `required`: a 2026-07-28 request,
/// which must name its method. Older clients do not send the headers; when one does,
/// they are held to the body too (the filter may have authorized on them).
pub fn check_headers(
    headers: &HeaderMap,
    id: Option<&Id>,
    method: &str,
    params: Option<&Value>,
    required: bool,
) -> Result<(), Box<Response<Body>>> {
    let mismatch = |message: String| {
        Box::new(error_reply(
            StatusCode::BAD_REQUEST,
            id,
            RpcError::header_mismatch(message),
        ))
    };
    let pairs = headers
        .iter()
        .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)));
    let intent = RequestIntent::from_pairs(pairs).map_err(|e| mismatch(e.to_string()))?;
    for name in [
        meshgate_policy::mcp_headers::METHOD_HEADER,
        meshgate_policy::mcp_headers::NAME_HEADER,
    ] {
        // A value hyper cannot show as text never reached `from_pairs`.
        if headers.get(name).is_some_and(|v| v.to_str().is_err()) {
            return Err(mismatch(format!(
                "header {name} is malformed: it is not visible ASCII (use =?base64?…?=)"
            )));
        }
    }
    if required && intent.method().is_none() {
        return Err(mismatch(format!(
            "header Mcp-Method is missing; MCP 2026-07-28 requests must carry it (the body's method is `{}`)",
            method.chars().take(64).collect::<String>()
        )));
    }
    check_against_body(&intent, method, params).map_err(|e| mismatch(e.message))
}
