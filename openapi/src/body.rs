//! Request bodies: OpenAPI 3 `requestBody`, Swagger 2 `in: body` and `in: formData`.
//! Produces the body's JSON Schema (the `body` property of the inputSchema) and how to encode it.
//!
//! Files (multipart properties with `format: binary` / `contentMediaType`, and raw
//! non-text bodies such as `application/octet-stream`) are passed by the model as base64
//! strings: their schema says `"contentEncoding": "base64"` and the request builder decodes them.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::load::Dialect;
use crate::media::pick_request;
use crate::model::{Body, BodyKind, FieldEncoding, Location, Style};
use crate::params::{is_true, param_schema};
use crate::schema::SchemaCx;

/// OpenAPI 3 `requestBody` (already dereferenced).
pub(crate) fn oas3_body(cx: &mut SchemaCx<'_, '_>, rb: &Value) -> Option<(Body, Value)> {
    let Some(Value::Object(content)) = rb.get("content") else {
        return None;
    };
    let (ct, kind) = pick_request(content.keys().map(String::as_str))?;
    // The media-type object for the chosen type (wildcards map back to their own entry).
    let media = content
        .iter()
        .find(|(k, _)| {
            k.trim() == ct || (kind == BodyKind::Multipart && k.starts_with("multipart/"))
        })
        .or_else(|| {
            content
                .iter()
                .find(|(k, _)| crate::media::is_json(k) || k.contains('*'))
        })
        .map(|(_, v)| v)?;
    let schema = media
        .get("schema")
        .map(|s| cx.convert(s))
        .unwrap_or(json!({}));
    let mut fields = BTreeMap::new();
    if let Some(Value::Object(enc)) = media.get("encoding") {
        for (name, e) in enc {
            let style = e
                .get("style")
                .and_then(Value::as_str)
                .and_then(Style::parse);
            let explode = e
                .get("explode")
                .and_then(Value::as_bool)
                .unwrap_or(style.is_none_or(|s| s == Style::Form));
            fields.insert(
                name.clone(),
                FieldEncoding {
                    style: style.unwrap_or(Style::Form),
                    explode,
                    allow_reserved: is_true(e.get("allowReserved")),
                    content_type: e
                        .get("contentType")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    binary: false,
                },
            );
        }
    }
    let required = is_true(rb.get("required"));
    let mut schema = describe(schema, rb);
    finish(&mut schema, kind, &ct, &mut fields);
    Some((
        Body {
            content_type: ct,
            kind,
            required,
            fields,
        },
        schema,
    ))
}

/// Swagger 2 `in: body` parameter; `consumes` is the operation's (or global) list.
pub(crate) fn swagger_body(
    cx: &mut SchemaCx<'_, '_>,
    p: &Value,
    consumes: &[&str],
) -> (Body, Value) {
    let (ct, kind) = pick_request(consumes.iter().copied())
        .unwrap_or_else(|| ("application/json".to_string(), BodyKind::Json));
    let schema = p.get("schema").map(|s| cx.convert(s)).unwrap_or(json!({}));
    let mut schema = describe(schema, p);
    let mut fields = BTreeMap::new();
    finish(&mut schema, kind, &ct, &mut fields);
    (
        Body {
            content_type: ct,
            kind,
            required: is_true(p.get("required")),
            fields,
        },
        schema,
    )
}

/// Swagger 2 `in: formData` parameters → one object body.
pub(crate) fn swagger_form(
    cx: &mut SchemaCx<'_, '_>,
    params: &[&Value],
    consumes: &[&str],
) -> (Body, Value) {
    let has_file = params
        .iter()
        .any(|p| p.get("type").and_then(Value::as_str) == Some("file"));
    let declares = |prefix: &str| consumes.iter().any(|c| c.trim().starts_with(prefix));
    let multipart = has_file
        || (declares("multipart/form-data") && !declares("application/x-www-form-urlencoded"));
    let (ct, kind) = if multipart {
        ("multipart/form-data".to_string(), BodyKind::Multipart)
    } else {
        (
            "application/x-www-form-urlencoded".to_string(),
            BodyKind::Form,
        )
    };
    let mut props = Map::new();
    let mut required = Vec::new();
    let mut fields = BTreeMap::new();
    for p in params {
        let Some(name) = p.get("name").and_then(Value::as_str) else {
            continue;
        };
        let (schema, _) = param_schema(cx, p, Dialect::Swagger2);
        props.insert(name.to_string(), schema);
        if is_true(p.get("required")) {
            required.push(name.to_string());
        }
        let cf = p.get("collectionFormat").and_then(Value::as_str);
        let (style, explode) = Style::from_collection_format(cf, Location::Query);
        fields.insert(
            name.to_string(),
            FieldEncoding {
                style,
                explode,
                ..FieldEncoding::default()
            },
        );
    }
    let any_required = !required.is_empty();
    let mut schema = json!({"type": "object", "properties": props, "additionalProperties": false});
    if any_required {
        schema["required"] = json!(required);
    }
    finish(&mut schema, kind, &ct, &mut fields);
    (
        Body {
            content_type: ct,
            kind,
            required: any_required,
            fields,
        },
        schema,
    )
}

fn describe(schema: Value, holder: &Value) -> Value {
    match (schema, holder.get("description").and_then(Value::as_str)) {
        (Value::Object(mut m), Some(d)) if !m.contains_key("description") => {
            m.insert("description".into(), json!(d));
            Value::Object(m)
        }
        (s, _) => s,
    }
}

/// Adapt the body schema to how the body is sent.
fn finish(
    schema: &mut Value,
    kind: BodyKind,
    ct: &str,
    fields: &mut BTreeMap<String, FieldEncoding>,
) {
    match kind {
        BodyKind::Json | BodyKind::Form => {}
        BodyKind::Text => {
            let desc = text_desc(schema, &format!("Raw request body ({ct})."));
            *schema = json!({"type": "string", "description": desc});
        }
        BodyKind::Binary => {
            let desc = text_desc(schema, &format!("Request body ({ct}), base64-encoded."));
            *schema = json!({"type": "string", "contentEncoding": "base64", "description": desc});
        }
        BodyKind::Multipart => {
            if let Some(Value::Object(props)) = schema.get_mut("properties") {
                for (name, prop) in props.iter_mut() {
                    if mark_binary(prop) {
                        fields.entry(name.clone()).or_default().binary = true;
                    }
                }
            }
        }
    }
}

fn text_desc(schema: &Value, suffix: &str) -> String {
    match schema.get("description").and_then(Value::as_str) {
        Some(d) => format!("{d} {suffix}"),
        None => suffix.to_string(),
    }
}

fn is_binary(s: &Value) -> bool {
    s.get("format").and_then(Value::as_str) == Some("binary")
        || (s.get("contentMediaType").is_some() && s.get("contentEncoding").is_none())
}

/// Rewrite a file property (or array of files) to a base64 string; true when it was one.
fn mark_binary(prop: &mut Value) -> bool {
    if is_binary(prop) {
        let desc = text_desc(prop, "(file contents, base64-encoded)");
        *prop = json!({"type": "string", "contentEncoding": "base64", "description": desc});
        return true;
    }
    if let Some(items) = prop.get_mut("items") {
        if is_binary(items) {
            *items = json!({"type": "string", "contentEncoding": "base64", "description": "file contents, base64-encoded"});
            return true;
        }
    }
    false
}
