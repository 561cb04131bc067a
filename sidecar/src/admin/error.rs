//! Errors of the admin API, mapped to HTTP in one place: `{"error": code, "message": text}`
//! plus `"field"` when one input field is to blame, and LiteLLM's FastAPI-style
//! `"detail": {"error", "message"}` beside them (what LiteLLM clients parse). Database
//! failures are logged here and answered without their details; no message carries a
//! secret.

use http::{header, HeaderValue, Response, StatusCode};
use meshgate_policy::ConfigError;
use meshgate_store::StoreError;

use crate::body::{self, Body};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400: a field is missing or has a bad value.
    Invalid { field: String, message: String },
    /// 400: a required field is absent (LiteLLM's `missing_parameter`).
    Missing { field: String, message: String },
    /// 400: the body is not JSON (or not a JSON object).
    MalformedJson(String),
    /// 403: the principal may not do this.
    Forbidden(String),
    /// 403 with a LiteLLM error code (`access_denied`, …).
    Denied { code: &'static str, message: String },
    /// 404 with a code (`not_found`, `server_not_found`, `tool_not_found`).
    NotFound { code: &'static str, message: String },
    /// 404: no such admin route.
    NoRoute,
    /// 405, with the methods the route takes.
    WrongMethod(&'static [&'static str]),
    /// 409.
    Conflict(String),
    /// 413.
    TooLarge(usize),
    /// 403: a browser origin that is neither local nor in `meshgate.allowed_origins`.
    ForbiddenOrigin,
    /// 415: a body that is not declared as JSON.
    NotJson,
    /// 500: details are logged, not sent.
    Internal,
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn missing(field: &str) -> Self {
        ApiError::Missing {
            field: field.to_string(),
            message: format!("{field} is required in request body"),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::NotFound {
            code: "not_found",
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Invalid { .. } | ApiError::Missing { .. } | ApiError::MalformedJson(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::Forbidden(_) | ApiError::Denied { .. } | ApiError::ForbiddenOrigin => {
                StatusCode::FORBIDDEN
            }
            ApiError::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotFound { .. } | ApiError::NoRoute => StatusCode::NOT_FOUND,
            ApiError::WrongMethod(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn into_response(self) -> Response<Body> {
        self.into_response_with(|_| {})
    }

    /// The response, with `extend` adding fields to the body (LiteLLM's envelopes).
    pub fn into_response_with(
        self,
        extend: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
    ) -> Response<Body> {
        let status = self.status();
        let (code, message, field): (&str, String, Option<String>) = match &self {
            ApiError::Invalid { field, message } => {
                ("invalid_request", message.clone(), Some(field.clone()))
            }
            ApiError::Missing { field, message } => {
                ("missing_parameter", message.clone(), Some(field.clone()))
            }
            ApiError::MalformedJson(why) => ("invalid_json", why.clone(), None),
            ApiError::Forbidden(why) => ("forbidden", why.clone(), None),
            ApiError::Denied { code, message } => (code, message.clone(), None),
            ApiError::NotFound { code, message } => (code, message.clone(), None),
            ApiError::NoRoute => ("not_found", "no such admin endpoint".to_string(), None),
            ApiError::WrongMethod(allowed) => (
                "method_not_allowed",
                format!("this endpoint takes {}", allowed.join(", ")),
                None,
            ),
            ApiError::Conflict(why) => ("conflict", why.clone(), None),
            ApiError::TooLarge(limit) => (
                "body_too_large",
                format!("the request body is larger than {limit} bytes"),
                None,
            ),
            ApiError::ForbiddenOrigin => (
                "forbidden_origin",
                "this browser origin is not allowed (meshgate.allowed_origins)".to_string(),
                None,
            ),
            ApiError::NotJson => (
                "unsupported_media_type",
                "the request body must be JSON, sent with `Content-Type: application/json`"
                    .to_string(),
                None,
            ),
            ApiError::Internal => (
                "internal_error",
                "the gateway could not complete the request; see the sidecar log".to_string(),
                None,
            ),
        };
        let mut body = serde_json::Map::new();
        body.insert("error".into(), code.into());
        body.insert("message".into(), message.clone().into());
        if let Some(field) = field {
            body.insert("field".into(), serde_json::Value::String(field));
        }
        body.insert(
            "detail".into(),
            serde_json::json!({"error": code, "message": message}),
        );
        extend(&mut body);
        let mut resp = body::json(status, serde_json::Value::Object(body).to_string());
        if let ApiError::WrongMethod(allowed) = &self {
            if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
                resp.headers_mut().insert(header::ALLOW, v);
            }
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid { field, message } => ApiError::Invalid {
                message: format!("invalid {field}: {message}"),
                field,
            },
            e @ StoreError::NotFound { .. } => ApiError::not_found(e.to_string()),
            StoreError::Conflict { message } => ApiError::Conflict(message),
            StoreError::Database(details) => {
                tracing::error!("admin request failed in the database: {details}");
                ApiError::Internal
            }
        }
    }
}

/// A server configuration refused by `meshgate_policy::load_config`, checked as the
/// document `{"mcp_servers": {server_name: config}}`: the field is reported relative to
/// the server (`url`, `transport`, …), the server's own name as `server_name`.
pub fn from_server_config(server_name: &str, e: ConfigError) -> ApiError {
    let relative = |field: &str| -> String {
        let own = format!("mcp_servers.{server_name}");
        match field.strip_prefix(&own) {
            Some("") => "server_name".to_string(),
            Some(rest) => rest.trim_start_matches('.').to_string(),
            None => field.to_string(),
        }
    };
    match e {
        ConfigError::Field { field, message } => {
            let field = relative(&field);
            ApiError::Invalid {
                message: format!("invalid {field}: {message}"),
                field,
            }
        }
        ConfigError::MissingEnv { field, variable } => {
            let field = relative(&field);
            ApiError::Invalid {
                message: format!(
                    "invalid {field}: environment variable `{variable}` is not set in the sidecar"
                ),
                field,
            }
        }
        ConfigError::Syntax { message } => ApiError::invalid("config", message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_map_to_statuses_without_details() {
        let e: ApiError = StoreError::Invalid {
            field: "team_id".into(),
            message: "team `x` does not exist".into(),
        }
        .into();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert!(matches!(&e, ApiError::Invalid { field, .. } if field == "team_id"));
        let e: ApiError = StoreError::Conflict {
            message: "busy".into(),
        }
        .into();
        assert_eq!(e.status(), StatusCode::CONFLICT);
        let e: ApiError = StoreError::Database("password=hunter2".into()).into();
        assert_eq!(e, ApiError::Internal);
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn config_fields_are_relative_to_the_server() {
        let e = from_server_config(
            "web",
            ConfigError::Field {
                field: "mcp_servers.web.transport".into(),
                message: "unknown variant".into(),
            },
        );
        assert!(matches!(&e, ApiError::Invalid { field, .. } if field == "transport"));
        let e = from_server_config(
            "web",
            ConfigError::Field {
                field: "mcp_servers.web".into(),
                message: "bad name".into(),
            },
        );
        assert!(matches!(&e, ApiError::Invalid { field, .. } if field == "server_name"));
    }
}
