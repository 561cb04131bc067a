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

/// The header a stdio `env` value asks for: `${X-NAME}` → `X-NAME` (LiteLLM's rule: the
/// whole value, after trimming, is `${X-…}`; the `X-` is literal).
pub fn header_template(value: &str) -> Option<&str> {
    let inner = value.trim().strip_prefix("${")?.strip_suffix('}')?;
    (inner.starts_with("X-") && !inner.contains('}') && inner.len() > 2).then_some(inner)
}

/// Whether any `env` value is filled from request headers.
pub fn has_header_templates(env: &std::collections::BTreeMap<String, String>) -> bool {
    env.values().any(|v| header_template(v).is_some())
}

/// A stdio server's environment for one request: `${X-HEADER}` values filled from the
/// request's headers (case-insensitive); a template whose header is absent drops the
/// variable; other values pass through.
pub fn fill_header_templates<'a>(
    env: &std::collections::BTreeMap<String, String>,
    header: impl Fn(&str) -> Option<&'a str>,
) -> std::collections::BTreeMap<String, String> {
    env.iter()
        .filter_map(|(k, v)| match header_template(v) {
            Some(name) => header(name).map(|h| (k.clone(), h.to_string())),
            None => Some((k.clone(), v.clone())),
        })
        .collect()
}

#[cfg(test)]
mod template_tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn templates() {
        assert_eq!(
            header_template(" ${X-GITHUB-TOKEN} "),
            Some("X-GITHUB-TOKEN")
        );
        assert_eq!(header_template("${x-lower}"), None, "the X- is literal");
        assert_eq!(header_template("pre ${X-A}"), None);
        assert_eq!(header_template("${X-}"), None);
        let env: BTreeMap<String, String> = [
            ("TOKEN".to_string(), "${X-Token}".to_string()),
            ("MISSING".to_string(), "${X-Absent}".to_string()),
            ("PLAIN".to_string(), "v".to_string()),
        ]
        .into();
        assert!(has_header_templates(&env));
        let headers = [("x-token", "t1")];
        let filled = fill_header_templates(&env, |name| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        });
        assert_eq!(filled.get("TOKEN").map(String::as_str), Some("t1"));
        assert!(!filled.contains_key("MISSING"));
        assert_eq!(filled.get("PLAIN").map(String::as_str), Some("v"));
    }
}
