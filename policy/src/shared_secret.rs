//! The secret the filter seals decisions with and the sidecar verifies them with: one
//! rule for both ends (at least [`MIN_LEN`] characters; in the filter's document either
//! literal or `os.environ/NAME`).

use std::fmt;

use thiserror::Error;

use crate::env::{env_reference, EnvSource};

/// Shortest secret either end accepts.
pub const MIN_LEN: usize = 16;

/// A secret that satisfies the rule. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedSecret(Vec<u8>);

/// Why a secret cannot be used; the caller says where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SecretError {
    #[error("required")]
    Missing,
    #[error("environment variable `{0}` is not set")]
    Unset(String),
    #[error("must be at least {MIN_LEN} characters")]
    TooShort,
}

impl SharedSecret {
    pub fn new(value: String) -> Result<SharedSecret, SecretError> {
        if value.len() < MIN_LEN {
            return Err(SecretError::TooShort);
        }
        Ok(SharedSecret(value.into_bytes()))
    }

    /// The filter's `meshgate.shared_secret`: a literal, or `os.environ/NAME` looked up in
    /// `env`.
    pub fn from_config(
        value: Option<&str>,
        env: &dyn EnvSource,
    ) -> Result<SharedSecret, SecretError> {
        let value = value.ok_or(SecretError::Missing)?;
        let secret = match env_reference(value) {
            Some(name) => env
                .var(name)
                .ok_or_else(|| SecretError::Unset(name.to_string()))?,
            None => value.to_string(),
        };
        SharedSecret::new(secret)
    }

    /// The sidecar's: the environment variable `name`.
    pub fn from_env(name: &str, env: &dyn EnvSource) -> Result<SharedSecret, SecretError> {
        SharedSecret::new(
            env.var(name)
                .ok_or_else(|| SecretError::Unset(name.to_string()))?,
        )
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The secret as text (it came from a `String`, so it is UTF-8).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedSecret(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env() -> HashMap<String, String> {
        HashMap::from([
            ("LONG".to_string(), "0123456789abcdef".to_string()),
            ("SHORT".to_string(), "short".to_string()),
        ])
    }

    #[test]
    fn literal_and_env_references_follow_one_rule() {
        let e = env();
        let literal = SharedSecret::from_config(Some("a-secret-of-16-ch"), &e).unwrap();
        assert_eq!(literal.as_bytes(), b"a-secret-of-16-ch");
        let from_env = SharedSecret::from_config(Some("os.environ/LONG"), &e).unwrap();
        assert_eq!(from_env.as_str(), "0123456789abcdef");
        assert_eq!(SharedSecret::from_env("LONG", &e), Ok(from_env));
        assert_eq!(
            SharedSecret::from_config(Some("os.environ/SHORT"), &e),
            Err(SecretError::TooShort)
        );
        assert_eq!(
            SharedSecret::from_env("SHORT", &e),
            Err(SecretError::TooShort)
        );
        assert_eq!(
            SharedSecret::from_config(Some("os.environ/NOPE"), &e),
            Err(SecretError::Unset("NOPE".into()))
        );
        assert_eq!(
            SharedSecret::from_config(None, &e),
            Err(SecretError::Missing)
        );
        assert_eq!(
            SharedSecret::from_config(Some("fifteen-chars!!"), &e),
            Err(SecretError::TooShort)
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        let s = SharedSecret::new("0123456789abcdef".into()).unwrap();
        assert!(!format!("{s:?}").contains("0123"));
    }
}
