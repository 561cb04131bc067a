//! Parsing spec bytes (JSON or YAML) into a `serde_json::Value`, remembering the document
//! order of `paths` (serde_json's map is sorted, and tool de-duplication follows document order).

use serde_json::{Map, Number, Value};
use serde_yaml_ng::Value as Yaml;

use crate::error::{redact_source, OpenApiError};

/// Which flavour of OpenAPI the document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Swagger2,
    OpenApi30,
    OpenApi31,
}

/// A parsed document plus the order information lost by `serde_json::Map`.
pub(crate) struct Loaded {
    pub doc: Value,
    pub dialect: Dialect,
    /// `paths` keys in document order, each with its path item's keys in document order.
    pub path_order: Vec<(String, Vec<String>)>,
}

pub(crate) fn load(bytes: &[u8], source: &str) -> Result<Loaded, OpenApiError> {
    let source_name = redact_source(source);
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    let mut yaml: Yaml = if first == Some(b'{') {
        serde_json::from_slice(bytes).map_err(|e| OpenApiError::Parse {
            source_name: source_name.clone(),
            format: "JSON",
            reason: e.to_string(),
        })?
    } else {
        serde_yaml_ng::from_slice(bytes).map_err(|e| OpenApiError::Parse {
            source_name: source_name.clone(),
            format: "YAML",
            reason: e.to_string(),
        })?
    };
    if let Err(e) = yaml.apply_merge() {
        return Err(OpenApiError::Parse {
            source_name,
            format: "YAML",
            reason: format!("merge key: {e}"),
        });
    }
    let path_order = path_order(&yaml);
    let doc = to_json(yaml);
    let Value::Object(top) = &doc else {
        return Err(OpenApiError::NotOpenApi {
            source_name,
            reason: "the document is not an object".into(),
        });
    };
    let dialect = dialect(top, &source_name)?;
    if let Some(p) = top.get("paths") {
        if !p.is_object() && !p.is_null() {
            return Err(OpenApiError::InvalidField {
                source_name,
                field: "paths".into(),
                reason: "must be an object".into(),
            });
        }
    }
    Ok(Loaded {
        doc,
        dialect,
        path_order,
    })
}

fn version_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn dialect(top: &Map<String, Value>, source_name: &str) -> Result<Dialect, OpenApiError> {
    if let Some(v) = top.get("openapi") {
        let version = version_text(v).unwrap_or_default();
        return if version.starts_with("3.0") {
            Ok(Dialect::OpenApi30)
        } else if version.starts_with("3.1") || version.starts_with("3.2") {
            Ok(Dialect::OpenApi31)
        } else {
            Err(OpenApiError::UnsupportedVersion {
                source_name: source_name.to_string(),
                version,
            })
        };
    }
    if let Some(v) = top.get("swagger") {
        let version = version_text(v).unwrap_or_default();
        return if version == "2.0" || version == "2" {
            Ok(Dialect::Swagger2)
        } else {
            Err(OpenApiError::UnsupportedVersion {
                source_name: source_name.to_string(),
                version,
            })
        };
    }
    Err(OpenApiError::NotOpenApi {
        source_name: source_name.to_string(),
        reason: "no `openapi` or `swagger` version field".into(),
    })
}

fn key_text(k: &Yaml) -> Option<String> {
    match k {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        Yaml::Null => Some("null".into()),
        Yaml::Tagged(t) => key_text(&t.value),
        Yaml::Sequence(_) | Yaml::Mapping(_) => None,
    }
}

fn path_order(yaml: &Yaml) -> Vec<(String, Vec<String>)> {
    let Some(Yaml::Mapping(paths)) = yaml.get("paths") else {
        return Vec::new();
    };
    paths
        .iter()
        .filter_map(|(k, v)| {
            let item_keys = match v {
                Yaml::Mapping(m) => m.keys().filter_map(key_text).collect(),
                _ => Vec::new(),
            };
            key_text(k).map(|k| (k, item_keys))
        })
        .collect()
}

fn to_json(y: Yaml) -> Value {
    match y {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Number(i.into())
            } else if let Some(u) = n.as_u64() {
                Value::Number(u.into())
            } else {
                n.as_f64()
                    .and_then(Number::from_f64)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::String(n.to_string()))
            }
        }
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(seq) => Value::Array(seq.into_iter().map(to_json).collect()),
        Yaml::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                if let Some(k) = key_text(&k) {
                    out.insert(k, to_json(v));
                }
            }
            Value::Object(out)
        }
        Yaml::Tagged(t) => to_json(t.value),
    }
}
