//! Parsing spec bytes (JSON or YAML) into a `serde_json::Value`, remembering the document
//! order of `paths` (serde_json's map is sorted, and tool de-duplication follows document order).

use serde_json::{Map, Number, Value};
use serde_yaml_ng::Value as Yaml;

use crate::error::{redact_source, OpenApiError};
use crate::numbers;

/// A YAML/JSON value read with integers of any size (see `numbers.rs`): those beyond
/// i64/u64 become marked strings instead of failing the whole document.
struct Doc(Yaml);

impl<'de> serde::Deserialize<'de> for Doc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Doc, D::Error> {
        d.deserialize_any(DocVisitor).map(Doc)
    }
}

struct DocVisitor;

impl<'de> serde::de::Visitor<'de> for DocVisitor {
    type Value = Yaml;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any YAML or JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Yaml, E> {
        Ok(Yaml::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Yaml, E> {
        Ok(Yaml::Number(i.into()))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Yaml, E> {
        Ok(Yaml::Number(u.into()))
    }
    fn visit_i128<E>(self, i: i128) -> Result<Yaml, E> {
        Ok(big_int(i.to_string()))
    }
    fn visit_u128<E>(self, u: u128) -> Result<Yaml, E> {
        Ok(big_int(u.to_string()))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Yaml, E> {
        Ok(Yaml::Number(f.into()))
    }
    fn visit_str<E>(self, s: &str) -> Result<Yaml, E> {
        Ok(Yaml::String(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Yaml, E> {
        Ok(Yaml::String(s))
    }
    fn visit_unit<E>(self) -> Result<Yaml, E> {
        Ok(Yaml::Null)
    }
    fn visit_none<E>(self) -> Result<Yaml, E> {
        Ok(Yaml::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Yaml, D::Error> {
        d.deserialize_any(DocVisitor)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Yaml, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(Doc(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Yaml::Sequence(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Yaml, A::Error> {
        let mut out = serde_yaml_ng::Mapping::new();
        while let Some(Doc(k)) = map.next_key()? {
            // A huge integer used as a key is just its digits.
            let k = match k {
                Yaml::String(s) => match s.strip_prefix(numbers::MARK) {
                    Some(digits) => Yaml::String(digits.to_string()),
                    None => Yaml::String(s),
                },
                other => other,
            };
            let Doc(v) = map.next_value()?;
            match out.entry(k) {
                serde_yaml_ng::mapping::Entry::Occupied(e) => {
                    let name = key_text(e.key()).unwrap_or_default();
                    return Err(serde::de::Error::custom(format!(
                        "duplicate entry with key `{name}`"
                    )));
                }
                serde_yaml_ng::mapping::Entry::Vacant(e) => {
                    e.insert(v);
                }
            }
        }
        Ok(Yaml::Mapping(out))
    }
    fn visit_enum<A: serde::de::EnumAccess<'de>>(self, data: A) -> Result<Yaml, A::Error> {
        // A custom `!tag`: the tag means nothing to OpenAPI; keep the value.
        use serde::de::VariantAccess;
        let (_tag, contents): (String, _) = data.variant()?;
        contents.newtype_variant::<Doc>().map(|d| d.0)
    }
}

fn big_int(digits: String) -> Yaml {
    Yaml::String(format!("{}{digits}", numbers::MARK))
}

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
    let parsed: Result<Doc, OpenApiError> = if first == Some(b'{') {
        serde_json::from_slice::<Doc>(&numbers::protect_json(bytes)).map_err(|e| {
            OpenApiError::Parse {
                source_name: source_name.clone(),
                format: "JSON",
                reason: e.to_string(),
            }
        })
    } else {
        serde_yaml_ng::from_slice(bytes).map_err(|e| OpenApiError::Parse {
            source_name: source_name.clone(),
            format: "YAML",
            reason: e.to_string(),
        })
    };
    let mut yaml = parsed?.0;
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
    numbers::scalar_text(v).map(|s| s.trim().to_string())
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
