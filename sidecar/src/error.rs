//! HTTP-level errors of the sidecar, mapped to responses in one place. JSON-RPC errors
//! inside a 200 are built by the MCP layer; these are the ones that end a request early.

use http::{header, HeaderValue, Response, StatusCode};

use crate::body::{self, Body};
use crate::jsonrpc::RpcError;
use crate::versions::all_versions;
use meshgate_policy::{ConfigError, SignatureError};

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("request refused: {0}")]
    Unsigned(SignatureError),
    #[error("the request body is larger than {0} bytes")]
    BodyTooLarge(usize),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotAcceptable(&'static str),
    #[error("no such endpoint")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("unsupported MCP-Protocol-Version `{0}`")]
    UnsupportedVersion(String),
    #[error("session not found: it expired, was ended, or was not issued by this gateway; initialize again")]
    SessionNotFound,
    #[error("{0}")]
    InvalidConfig(ConfigError),
    #[error("requests from this Origin are not allowed (meshgate.allowed_origins)")]
    ForbiddenOrigin,
    #[error("too many open streams: {limit} is the limit ({setting}); close one first")]
    TooManyStreams { setting: &'static str, limit: usize },
    #[error("the session was ended here but could not be recorded for the other replicas; try DELETE again")]
    RevocationNotShared,
}

impl From<crate::relay::TooManyStreams> for HttpError {
    fn from(e: crate::relay::TooManyStreams) -> Self {
        HttpError::TooManyStreams {
            setting: e.setting,
            limit: e.limit,
        }
    }
}

impl HttpError {
    pub fn into_response(self) -> Response<Body> {
        let message = self.to_string();
        match self {
            HttpError::Unsigned(_) => {
                body::json_error(StatusCode::FORBIDDEN, "unsigned_request", &message)
            }
            HttpError::BodyTooLarge(_) => {
                body::json_error(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", &message)
            }
            HttpError::BadRequest(_) => {
                body::json_error(StatusCode::BAD_REQUEST, "bad_request", &message)
            }
            HttpError::NotAcceptable(_) => {
                body::json_error(StatusCode::NOT_ACCEPTABLE, "not_acceptable", &message)
            }
            HttpError::NotFound => body::json_error(StatusCode::NOT_FOUND, "not_found", &message),
            HttpError::MethodNotAllowed => {
                let mut resp = body::json_error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    &message,
                );
                resp.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, POST, DELETE"));
                resp
            }
            // -32022 with `data: {requested, supported}`, as 2026-07-28 defines it.
            HttpError::UnsupportedVersion(requested) => body::json(
                StatusCode::BAD_REQUEST,
                RpcError::unsupported_version(&requested, &message, &all_versions())
                    .to_response(None),
            ),
            HttpError::SessionNotFound => body::json(
                StatusCode::NOT_FOUND,
                RpcError::session_not_found(message).to_response(None),
            ),
            HttpError::ForbiddenOrigin => body::json(
                StatusCode::FORBIDDEN,
                RpcError::invalid_request(message).to_response(None),
            ),
            HttpError::TooManyStreams { .. } => {
                body::json_error(StatusCode::TOO_MANY_REQUESTS, "too_many_streams", &message)
            }
            HttpError::RevocationNotShared => body::json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "revocation_not_shared",
                &message,
            ),
            HttpError::InvalidConfig(_) => {
                body::json_error(StatusCode::BAD_REQUEST, "invalid_config", &message)
            }
        }
    }
}
