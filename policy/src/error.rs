//! Errors of the policy domain. Every message names what was wrong; none carries a secret.

use thiserror::Error;

/// A configuration that cannot be used. `field` is a dotted path such as
/// `mcp_servers.github.transport`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("configuration is not valid YAML/JSON: {message}")]
    Syntax { message: String },
    #[error("invalid configuration at `{field}`: {message}")]
    Field { field: String, message: String },
    #[error(
        "configuration at `{field}` refers to environment variable `{variable}`, which is not set"
    )]
    MissingEnv { field: String, variable: String },
}

impl ConfigError {
    pub(crate) fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Field {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A request signature that does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SignatureError {
    #[error("the request carries no meshgate signature")]
    Missing,
    #[error("the meshgate signature is malformed")]
    Malformed,
    #[error("the meshgate signature has expired or is from the future")]
    Stale,
    #[error("the meshgate signature does not match")]
    Mismatch,
    #[error("the meshgate decision was already used")]
    Replayed,
    #[error("the meshgate decision is not bound to this request body")]
    BodyMismatch,
    #[error("the meshgate decision binds no request body, which this path requires")]
    BodyUnbound,
    #[error("too many filter instances are signing requests; refusing until older ones expire")]
    TooManySigners,
}
