//! Errors of the guardrails domain (configuration errors are `ConfigError`s naming
//! the field).

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GuardrailError {
    /// A pattern of a snapshot does not compile (the sidecar checked it at load, so the
    /// snapshot did not come from a valid configuration).
    #[error("guardrail `{guardrail}`: {message}")]
    Compile { guardrail: String, message: String },
    #[error("unknown guardrail{} requested: {}", plural(names), names.join(", "))]
    UnknownRequested { names: Vec<String> },
    #[error("the key or team refers to unknown guardrail{}: {}", plural(names), names.join(", "))]
    UnknownAttached { names: Vec<String> },
}

fn plural(names: &[String]) -> &'static str {
    if names.len() == 1 {
        ""
    } else {
        "s"
    }
}
