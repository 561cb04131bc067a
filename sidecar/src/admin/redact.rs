//! What an MCP server's configuration may show: credentials (`auth_value`,
//! `authentication_token`, `client_secret`, AWS keys), every `static_headers` and `env`
//! value, and URL userinfo / secret-looking query values are replaced by a marker. A
//! client that sends the marker back unchanged (GET → edit → PUT) keeps the stored value.

use serde_json::{Map, Value};

pub const REDACTED: &str = "<redacted>";
const URL_MASK: &str = "***";

/// Fields whose whole value is a secret.
const SECRET_VALUES: &[&str] = &[
    "auth_value",
    "authentication_token",
    "client_secret",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
];

/// Maps whose every value may be a secret.
const SECRET_MAPS: &[&str] = &[
    "static_headers",
    "env",
    "env_vars",
    "header_variables",
    "credentials",
];

/// URLs that may carry credentials in their userinfo or query.
const URL_FIELDS: &[&str] = &[
    "url",
    "spec_path",
    "token_url",
    "authorization_url",
    "registration_url",
    "token_exchange_endpoint",
];

/// Query parameter names whose values are masked in shown URLs.
const SECRET_QUERY_HINTS: &[&str] = &[
    "key",
    "token",
    "secret",
    "password",
    "passwd",
    "auth",
    "sig",
    "credential",
];

/// Redacts a server configuration object in place.
pub fn redact_config(config: &mut Map<String, Value>) {
    for (field, value) in config.iter_mut() {
        let field = field.as_str();
        if value.is_null() {
            continue;
        }
        if SECRET_VALUES.contains(&field) {
            *value = Value::String(REDACTED.into());
        } else if SECRET_MAPS.contains(&field) {
            match value {
                Value::Object(map) => {
                    for v in map.values_mut() {
                        *v = Value::String(REDACTED.into());
                    }
                }
                other => *other = Value::String(REDACTED.into()),
            }
        } else if URL_FIELDS.contains(&field) {
            if let Value::String(s) = value {
                *s = redact_url(s);
            }
        }
    }
}

/// A URL with its userinfo and secret-looking query values masked; text that is not an
/// absolute URL (a file path, an `os.environ/` reference) is returned as is.
pub fn redact_url(text: &str) -> String {
    let Ok(mut url) = url::Url::parse(text) else {
        return text.to_string();
    };
    if !url.has_host() {
        return text.to_string();
    }
    if !url.username().is_empty() {
        let _ = url.set_username(URL_MASK);
    }
    if url.password().is_some() {
        let _ = url.set_password(Some(URL_MASK));
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let lower = k.to_ascii_lowercase();
                let secret = SECRET_QUERY_HINTS.iter().any(|h| lower.contains(h));
                let v = if secret {
                    URL_MASK.to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

/// Puts stored secrets back where an update sent the marker (or the masked URL) unchanged.
pub fn restore_redacted(new: &mut Map<String, Value>, old: &Map<String, Value>) {
    let marker = Value::String(REDACTED.into());
    for field in SECRET_VALUES {
        if new.get(*field) == Some(&marker) {
            match old.get(*field) {
                Some(v) => {
                    new.insert((*field).to_string(), v.clone());
                }
                None => {
                    new.remove(*field);
                }
            }
        }
    }
    for field in SECRET_MAPS {
        let old_map = old.get(*field).and_then(Value::as_object);
        match new.get_mut(*field) {
            Some(Value::Object(map)) => {
                let keys: Vec<String> = map
                    .iter()
                    .filter(|(_, v)| **v == marker)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in keys {
                    match old_map.and_then(|m| m.get(&k)) {
                        Some(v) => {
                            map.insert(k, v.clone());
                        }
                        None => {
                            map.remove(&k);
                        }
                    }
                }
            }
            Some(v) if *v == marker => match old.get(*field) {
                Some(o) => *v = o.clone(),
                None => {
                    new.remove(*field);
                }
            },
            _ => {}
        }
    }
    for field in URL_FIELDS {
        let (Some(Value::String(now)), Some(Value::String(before))) =
            (new.get(*field), old.get(*field))
        else {
            continue;
        };
        if now != before && *now == redact_url(before) {
            new.insert((*field).to_string(), Value::String(before.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn secrets_are_masked_and_nothing_else() {
        let mut c = obj(json!({
            "url": "https://user:pw@api.example.com/mcp?api_key=s3cret&region=eu",
            "auth_value": "tok", "authentication_token": "tok2", "client_secret": "cs",
            "static_headers": {"X-Key": "hdr"}, "env": {"TOKEN": "envv"},
            "transport": "http", "client_id": "public-id", "spec_path": "/etc/spec.json",
        }));
        redact_config(&mut c);
        let text = Value::Object(c.clone()).to_string();
        for secret in ["tok", "tok2", "cs", "hdr", "envv", "s3cret", "user", ":pw"] {
            assert!(
                !text.contains(&format!("\"{secret}\"")) && !text.contains(&format!("{secret}@")),
                "{secret} in {text}"
            );
        }
        assert!(!text.contains("s3cret") && !text.contains("pw@"), "{text}");
        assert_eq!(c["transport"], "http");
        assert_eq!(c["client_id"], "public-id");
        assert_eq!(c["spec_path"], "/etc/spec.json");
        assert!(c["url"].as_str().unwrap().contains("region=eu"));
        assert_eq!(c["static_headers"]["X-Key"], REDACTED);
    }

    #[test]
    fn markers_sent_back_keep_the_stored_secrets() {
        let old = obj(json!({
            "url": "https://user:pw@h/mcp", "auth_value": "tok",
            "static_headers": {"A": "1", "B": "2"},
        }));
        let mut shown = old.clone();
        redact_config(&mut shown);
        let mut new = shown.clone();
        new.insert(
            "static_headers".into(),
            json!({"A": REDACTED, "B": "changed", "C": REDACTED}),
        );
        restore_redacted(&mut new, &old);
        assert_eq!(new["auth_value"], "tok");
        assert_eq!(new["url"], "https://user:pw@h/mcp");
        assert_eq!(new["static_headers"], json!({"A": "1", "B": "changed"}));
    }
}
