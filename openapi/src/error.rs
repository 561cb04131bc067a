//! Error types: [`OpenApiError`] for loading a spec, [`CallError`] for building a call.
//!
//! Messages name the spec (its `source`, with any credentials stripped), the field and the
//! reason. They never contain argument values that could be secrets (header values, cookies).

/// Loading a spec failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenApiError {
    /// The bytes are neither valid JSON nor valid YAML.
    #[error("cannot parse OpenAPI spec {source_name} as {format}: {reason}")]
    Parse {
        source_name: String,
        format: &'static str,
        reason: String,
    },
    /// Parsed, but it is not an OpenAPI/Swagger document.
    #[error("{source_name} is not an OpenAPI document: {reason}")]
    NotOpenApi { source_name: String, reason: String },
    /// `swagger`/`openapi` names a version this crate does not handle.
    #[error("OpenAPI spec {source_name}: unsupported version `{version}` (supported: Swagger 2.0, OpenAPI 3.0.x, 3.1.x)")]
    UnsupportedVersion {
        source_name: String,
        version: String,
    },
    /// A field has the wrong shape (e.g. `paths` is not an object).
    #[error("OpenAPI spec {source_name}: invalid field `{field}`: {reason}")]
    InvalidField {
        source_name: String,
        field: String,
        reason: String,
    },
}

/// Building the HTTP request for a `tools/call` failed. The message is meant to be shown to the
/// model (as an `isError` tool result) so that it can fix its arguments.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CallError {
    #[error("unknown tool `{0}`")]
    UnknownTool(String),
    #[error("invalid argument `{param}`: {reason}")]
    InvalidArgument { param: String, reason: String },
    #[error("missing required argument `{0}`")]
    MissingArgument(String),
    /// The base URL is not an absolute http(s) URL.
    #[error("invalid base URL: {0}")]
    InvalidBaseUrl(String),
}

impl CallError {
    pub(crate) fn invalid(param: impl Into<String>, reason: impl Into<String>) -> CallError {
        CallError::InvalidArgument {
            param: param.into(),
            reason: reason.into(),
        }
    }
}

/// Strip credentials (userinfo, query, fragment) from a spec source before it goes in a message.
pub fn redact_source(source: &str) -> String {
    match url::Url::parse(source) {
        Ok(mut u) if u.has_host() => {
            let had_query = u.query().is_some();
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            let mut s = u.to_string();
            if had_query {
                s.push_str("?…");
            }
            s
        }
        _ => source.to_string(),
    }
}
