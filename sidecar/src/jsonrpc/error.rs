//! The JSON-RPC error map: every code the gateway sends, named once, and the
//! constructors of the errors it builds (the upstreams' own errors pass through as
//! they came).

use serde_json::{json, Value};

use super::{error_response, Id};

/// JSON-RPC 2.0: the body is not JSON.
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC 2.0: JSON, but not a valid request.
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
/// A session id this gateway did not issue, or that ended (sent with HTTP 404).
pub const SESSION_NOT_FOUND: i64 = -32001;
/// MCP's "resource not found" (≤ 2025-11-25; 2026-07-28 clients get
/// [`INVALID_PARAMS`] instead).
pub const RESOURCE_NOT_FOUND: i64 = -32002;
/// A 2026-07-28 request header that disagrees with the body (the filter refuses with
/// the same code).
pub const HEADER_MISMATCH: i64 = meshgate_policy::mcp_headers::HEADER_MISMATCH_CODE;
/// An `MCP-Protocol-Version` the gateway does not serve (2026-07-28; HTTP 400).
pub const UNSUPPORTED_VERSION: i64 = -32022;

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(INVALID_REQUEST, message)
    }

    pub fn method_not_found(message: impl Into<String>) -> Self {
        Self::new(METHOD_NOT_FOUND, message)
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(INVALID_PARAMS, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(INTERNAL_ERROR, message)
    }

    pub fn session_not_found(message: impl Into<String>) -> Self {
        Self::new(SESSION_NOT_FOUND, message)
    }

    pub fn resource_not_found(message: impl Into<String>) -> Self {
        Self::new(RESOURCE_NOT_FOUND, message)
    }

    pub fn header_mismatch(message: impl Into<String>) -> Self {
        Self::new(HEADER_MISMATCH, message)
    }

    /// -32022 with `data: {requested, supported}`, as 2026-07-28 defines it; the
    /// message ends with the revisions served.
    pub fn unsupported_version(requested: &str, message: &str, supported: &[&str]) -> Self {
        RpcError {
            code: UNSUPPORTED_VERSION,
            message: format!("{message}; supported: {}", supported.join(", ")),
            data: Some(json!({"requested": requested, "supported": supported})),
        }
    }

    pub fn to_value(&self) -> Value {
        let mut v = json!({"code": self.code, "message": self.message});
        if let (Some(data), Some(obj)) = (&self.data, v.as_object_mut()) {
            obj.insert("data".into(), data.clone());
        }
        v
    }

    /// The error response to `id` (`null` when the request's id could not be read).
    pub fn to_response(&self, id: Option<&Id>) -> Vec<u8> {
        error_response(id, &self.to_value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_serialize_with_data_only_when_present() {
        let plain = RpcError::invalid_params("bad").to_value();
        assert_eq!(plain, json!({"code": -32602, "message": "bad"}));
        let served = ["2025-11-25", "2026-07-28"];
        let version = RpcError::unsupported_version("1999-01-01", "unsupported", &served);
        let v = version.to_value();
        assert_eq!(v["code"], -32022);
        assert_eq!(v["data"]["requested"], "1999-01-01");
        assert_eq!(v["data"]["supported"][1], "2026-07-28");
        assert!(version.message.ends_with("2025-11-25, 2026-07-28"));
    }

    #[test]
    fn a_response_carries_the_id_or_null() {
        let e = RpcError::session_not_found("gone");
        let framed: Value = serde_json::from_slice(&e.to_response(None)).unwrap();
        assert_eq!(framed["id"], Value::Null);
        assert_eq!(framed["error"]["code"], -32001);
        let framed: Value =
            serde_json::from_slice(&e.to_response(Some(&Id::from_string("a")))).unwrap();
        assert_eq!(framed["id"], "a");
    }
}
