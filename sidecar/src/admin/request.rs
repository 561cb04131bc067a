//! One admin request, read whole: who sent it, its query and its JSON body, with the
//! checks every handler shares (master only, body parsing that names the bad field).

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use super::error::ApiError;
use crate::body::{self, Body};
use crate::verify::Principal;

pub type AdminResult = Result<Response<Body>, ApiError>;

pub struct AdminRequest {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub principal: Principal,
}

impl AdminRequest {
    pub fn new(
        method: Method,
        path: &str,
        raw_query: Option<&str>,
        headers: HeaderMap,
        body: Bytes,
        principal: Principal,
    ) -> Self {
        let query = raw_query
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        AdminRequest {
            method,
            path: path.to_string(),
            query,
            headers,
            body,
            principal,
        }
    }

    /// A query parameter; empty values count as absent.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.trim().is_empty())
    }

    pub fn is_master(&self) -> bool {
        self.principal.who.is_master()
    }

    /// The key id (first 16 hex digits of its hash) when a virtual key sent the request.
    pub fn key_id(&self) -> Option<&str> {
        self.principal.key_id()
    }

    pub fn require_master(&self) -> Result<(), ApiError> {
        if self.is_master() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "{} {} needs the master key",
                self.method, self.path
            )))
        }
    }

    /// The body as a JSON object; an empty body is `{}`.
    pub fn object(&self) -> Result<Map<String, Value>, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Map::new());
        }
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(other) => Err(ApiError::MalformedJson(format!(
                "the request body must be a JSON object, not {}",
                type_name(&other)
            ))),
            Err(e) => Err(ApiError::MalformedJson(format!(
                "the request body is not valid JSON: {e}"
            ))),
        }
    }
}

/// Typed view of a JSON value; a type error names the field (`object_permission.mcp_servers`).
pub fn parse<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner().to_string();
        let field = match path.as_str() {
            "." | "" => missing_field_name(&inner).unwrap_or_else(|| "body".to_string()),
            p => p.to_string(),
        };
        ApiError::Invalid {
            message: format!("invalid {field}: {inner}"),
            field,
        }
    })
}

/// Parses an object after dropping top-level `null`s (for create requests, where `null`
/// and absent mean the same).
pub fn parse_without_nulls<T: DeserializeOwned>(
    mut map: Map<String, Value>,
) -> Result<T, ApiError> {
    map.retain(|_, v| !v.is_null());
    parse(Value::Object(map))
}

/// serde's "missing field `x`" → `x`.
fn missing_field_name(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next().map(str::to_string)
}

/// A required string field of a body.
pub fn required_str<'a>(map: &'a Map<String, Value>, field: &str) -> Result<&'a str, ApiError> {
    match map.get(field) {
        None | Some(Value::Null) => Err(ApiError::missing(field)),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.as_str()),
        Some(Value::String(_)) => Err(ApiError::invalid(
            field,
            format!("invalid {field}: must not be empty"),
        )),
        Some(other) => Err(ApiError::invalid(
            field,
            format!(
                "invalid {field}: expected a string, found {}",
                type_name(other)
            ),
        )),
    }
}

/// A required list of strings (`keys`, `team_ids`, …); a single string is accepted too.
pub fn required_strings(map: &Map<String, Value>, field: &str) -> Result<Vec<String>, ApiError> {
    match map.get(field) {
        None | Some(Value::Null) => Err(ApiError::missing(field)),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item.as_str() {
                    Some(s) if !s.trim().is_empty() => out.push(s.to_string()),
                    _ => {
                        return Err(ApiError::invalid(
                            format!("{field}[{i}]"),
                            format!("invalid {field}[{i}]: expected a non-empty string"),
                        ))
                    }
                }
            }
            if out.is_empty() {
                return Err(ApiError::invalid(
                    field,
                    format!("invalid {field}: the list is empty"),
                ));
            }
            Ok(out)
        }
        Some(other) => Err(ApiError::invalid(
            field,
            format!(
                "invalid {field}: expected a list of strings, found {}",
                type_name(other)
            ),
        )),
    }
}

pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// 200 with a JSON body.
pub fn ok<T: Serialize>(value: &T) -> AdminResult {
    match serde_json::to_vec(value) {
        Ok(bytes) => Ok(body::json(StatusCode::OK, bytes)),
        Err(e) => {
            tracing::error!("cannot serialize an admin response: {e}");
            Err(ApiError::Internal)
        }
    }
}

/// A record as a JSON object, to add fields to.
pub fn to_object<T: Serialize>(value: &T) -> Result<Map<String, Value>, ApiError> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) | Err(_) => {
            tracing::error!("an admin record did not serialize to an object");
            Err(ApiError::Internal)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshgate_store::NewOrganization;

    #[test]
    fn type_errors_and_missing_fields_name_the_field() {
        let e =
            parse::<meshgate_store::NewKey>(serde_json::json!({"rpm_limit": "many"})).unwrap_err();
        assert!(
            matches!(&e, ApiError::Invalid { field, .. } if field == "rpm_limit"),
            "{e:?}"
        );
        let e = parse::<meshgate_store::NewKey>(
            serde_json::json!({"object_permission": {"mcp_servers": "a"}}),
        )
        .unwrap_err();
        assert!(
            matches!(&e, ApiError::Invalid { field, .. } if field == "object_permission.mcp_servers"),
            "{e:?}"
        );
        let e = parse::<NewOrganization>(serde_json::json!({})).unwrap_err();
        assert!(
            matches!(&e, ApiError::Invalid { field, .. } if field == "organization_alias"),
            "{e:?}"
        );
    }

    #[test]
    fn string_lists() {
        let m = serde_json::json!({"keys": ["a", "b"], "one": "x", "bad": [1]});
        let m = m.as_object().unwrap();
        assert_eq!(required_strings(m, "keys").unwrap(), ["a", "b"]);
        assert_eq!(required_strings(m, "one").unwrap(), ["x"]);
        assert!(
            matches!(required_strings(m, "bad"), Err(ApiError::Invalid { field, .. }) if field == "bad[0]")
        );
        assert!(matches!(
            required_strings(m, "none"),
            Err(ApiError::Missing { .. })
        ));
    }
}
