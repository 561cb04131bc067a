//! `os.environ/NAME` values, resolved against an environment the caller supplies
//! (the sidecar's process environment; tests use a map).

use serde_json::Value;

use crate::error::ConfigError;

pub const ENV_PREFIX: &str = "os.environ/";

/// Where `os.environ/NAME` values are looked up.
pub trait EnvSource {
    fn var(&self, name: &str) -> Option<String>;
}

/// The real process environment.
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl<S: std::hash::BuildHasher> EnvSource for std::collections::HashMap<String, String, S> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

/// The variable named by an `os.environ/NAME` value, if it is one.
pub fn env_reference(value: &str) -> Option<&str> {
    value.trim().strip_prefix(ENV_PREFIX).map(str::trim)
}

/// Replaces every string value of the form `os.environ/NAME` in the document.
pub fn resolve_env_refs(value: &mut Value, env: &dyn EnvSource) -> Result<(), ConfigError> {
    resolve_at(value, env, &mut String::new())
}

fn resolve_at(
    value: &mut Value,
    env: &dyn EnvSource,
    path: &mut String,
) -> Result<(), ConfigError> {
    match value {
        Value::String(s) => {
            if let Some(name) = env_reference(s) {
                let resolved = env.var(name).ok_or_else(|| ConfigError::MissingEnv {
                    field: path.clone(),
                    variable: name.to_string(),
                })?;
                *s = resolved;
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = path.len();
                push_segment(path, &i.to_string());
                resolve_at(item, env, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                let len = path.len();
                push_segment(path, key);
                resolve_at(item, env, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn push_segment(path: &mut String, segment: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(segment);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn resolves_nested_values_and_names_missing_ones() {
        let env: HashMap<String, String> = [("TOKEN".to_string(), "s3cret".to_string())].into();
        let mut doc = serde_json::json!({"a": {"b": ["x", "os.environ/TOKEN"]}});
        resolve_env_refs(&mut doc, &env).unwrap();
        assert_eq!(doc["a"]["b"][1], "s3cret");

        let mut doc = serde_json::json!({"mcp_servers": {"gh": {"auth_value": "os.environ/NOPE"}}});
        let err = resolve_env_refs(&mut doc, &env).unwrap_err();
        assert_eq!(
            err,
            ConfigError::MissingEnv {
                field: "mcp_servers.gh.auth_value".into(),
                variable: "NOPE".into()
            }
        );
    }
}
