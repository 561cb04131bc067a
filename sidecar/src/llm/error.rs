//! Errors of the OpenAI-compatible routes, in LiteLLM's shape:
//! `{"error": {"message", "type", "param", "code"}}` with `code` the status as a string.
//! Messages name what was wrong and never carry a provider key or URL.

use http::StatusCode;
use serde_json::json;

use crate::body::{self, Body};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmError {
    pub status: StatusCode,
    /// LiteLLM's `type` (`invalid_request_error`, `key_model_access_denied`…).
    pub kind: &'static str,
    pub param: Option<&'static str>,
    pub message: String,
}

impl LlmError {
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        LlmError {
            status,
            kind,
            param: None,
            message: meshgate_policy::scrub::scrub_urls(&message.into()),
        }
    }

    /// A request that cannot be served as written (400 `invalid_request_error`).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    /// LiteLLM's answer for a model `model_list` does not have.
    pub fn unknown_model(route: &str, model: &str) -> Self {
        Self::invalid(format!(
            "{route}: Invalid model name passed in model={model}. Call `/v1/models` to view available models for your key."
        ))
    }

    /// LiteLLM's answer for a model the key may not call.
    pub fn model_not_allowed(allowed: &[String], model: &str) -> Self {
        let listed = allowed
            .iter()
            .map(|m| format!("'{m}'"))
            .collect::<Vec<_>>()
            .join(", ");
        LlmError {
            param: Some("model"),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                "key_model_access_denied",
                format!(
                    "key not allowed to access model. This key can only access models=[{listed}]. Tried to access {model}"
                ),
            )
        }
    }

    /// The provider could not be reached, failed or answered something unusable.
    pub fn provider(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "api_error", message)
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(StatusCode::GATEWAY_TIMEOUT, "timeout", message)
    }

    pub fn body(&self) -> serde_json::Value {
        json!({"error": {
            "message": self.message,
            "type": self.kind,
            "param": self.param,
            "code": self.status.as_u16().to_string(),
        }})
    }

    pub fn into_response(self) -> http::Response<Body> {
        body::json(self.status, self.body().to_string())
    }
}

impl std::fmt::Display for LlmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.status.as_u16(),
            self.kind,
            self.message
        )
    }
}
