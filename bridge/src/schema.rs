//! Input-schema normalization: what an MCP `inputSchema` becomes in each LLM API.

use serde_json::{Map, Value};

/// Normalizes an MCP `inputSchema` into OpenAI function `parameters`, exactly as LiteLLM
/// does (`experimental_mcp_client/tools.py::_normalize_mcp_input_schema`):
///
/// - a missing, `null` or empty schema becomes
///   `{"type": "object", "properties": {}, "additionalProperties": false}`;
/// - otherwise the schema is kept and only the keys that are **absent** are added:
///   `"type": "object"`, `"properties": {}`, `"additionalProperties": false`
///   (a key that is present, whatever its value, is left alone).
///
/// A schema that is not a JSON object at all (`true`, a string, an array — none of
/// which an MCP server may send) is treated as empty, where LiteLLM would fail.
///
/// ```
/// use meshgate_bridge::normalize_openai_schema;
/// use serde_json::json;
///
/// let empty = normalize_openai_schema(None);
/// assert_eq!(
///     serde_json::Value::Object(empty),
///     json!({"type": "object", "properties": {}, "additionalProperties": false})
/// );
///
/// let given = json!({"properties": {"a": {"type": "number"}}, "required": ["a"]});
/// assert_eq!(
///     serde_json::Value::Object(normalize_openai_schema(Some(&given))),
///     json!({"type": "object", "properties": {"a": {"type": "number"}},
///            "required": ["a"], "additionalProperties": false})
/// );
/// ```
pub fn normalize_openai_schema(schema: Option<&Value>) -> Map<String, Value> {
    let mut out = match schema {
        Some(Value::Object(map)) if !map.is_empty() => map.clone(),
        _ => Map::new(),
    };
    out.entry("type")
        .or_insert_with(|| Value::String("object".into()));
    out.entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    out.entry("additionalProperties")
        .or_insert(Value::Bool(false));
    out
}

/// The JSON-Schema keywords Anthropic refuses at the top level of a tool's
/// `input_schema` ("input_schema does not support oneOf, allOf, or anyOf at the top
/// level").
const ROOT_COMBINATORS: [&str; 3] = ["allOf", "anyOf", "oneOf"];

/// Normalizes an MCP `inputSchema` into an Anthropic Messages `input_schema`.
///
/// - a missing, `null`, empty or non-object schema becomes
///   `{"type": "object", "properties": {}}`;
/// - a missing `type` becomes `"object"`; an object schema without `properties` gets
///   `"properties": {}`;
/// - top-level `allOf`, `anyOf` and `oneOf`, which Anthropic refuses with a 400 for the
///   whole request, are folded into the root instead of dropped (LiteLLM's
///   `sanitize_input_schema_for_anthropic` drops them and ships empty `properties`,
///   LiteLLM issue #43157): the members' `properties` are added to the root's (a
///   property the root already has wins), `allOf` members' `required` entries are
///   added to the root's `required` (all of them must hold), `anyOf`/`oneOf`
///   alternatives' are not (only one alternative has to hold), and the combinator is
///   described in the root's `description` so the model still sees the rule.
///   Nested combinators (inside `properties`) are left alone: Anthropic accepts them.
///
/// No `additionalProperties` is added: Anthropic does not need it.
///
/// ```
/// use meshgate_bridge::normalize_anthropic_schema;
/// use serde_json::json;
///
/// let schema = json!({"type": "object", "anyOf": [
///     {"properties": {"url": {"type": "string"}}, "required": ["url"]},
///     {"properties": {"path": {"type": "string"}}, "required": ["path"]}
/// ]});
/// let out = serde_json::Value::Object(normalize_anthropic_schema(Some(&schema)));
/// assert!(out.get("anyOf").is_none());
/// assert_eq!(out["properties"]["url"], json!({"type": "string"}));
/// assert_eq!(out["properties"]["path"], json!({"type": "string"}));
/// assert!(out.get("required").is_none());
/// ```
pub fn normalize_anthropic_schema(schema: Option<&Value>) -> Map<String, Value> {
    let mut out = match schema {
        Some(Value::Object(map)) if !map.is_empty() => map.clone(),
        _ => Map::new(),
    };
    out.entry("type")
        .or_insert_with(|| Value::String("object".into()));
    if out.get("type").and_then(Value::as_str) == Some("object") {
        out.entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
    }
    let mut notes = Vec::new();
    for keyword in ROOT_COMBINATORS {
        let Some(members) = out.remove(keyword) else {
            continue;
        };
        let members = match members {
            Value::Array(items) => items,
            other => vec![other],
        };
        let mut alternatives = Vec::new();
        for member in &members {
            let Some(member) = member.as_object() else {
                continue;
            };
            let props = member.get("properties").and_then(Value::as_object);
            if let Some(props) = props {
                let root = out
                    .entry("properties")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Some(root) = root.as_object_mut() {
                    for (name, prop) in props {
                        root.entry(name.clone()).or_insert_with(|| prop.clone());
                    }
                }
            }
            let required: Vec<&str> = member
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if keyword == "allOf" {
                add_required(&mut out, &required);
            } else if !required.is_empty() {
                alternatives.push(required.join(" + "));
            }
        }
        if !alternatives.is_empty() {
            let rule = if keyword == "oneOf" {
                "exactly one of"
            } else {
                "at least one of"
            };
            notes.push(format!(
                "Arguments must provide {rule}: {}.",
                alternatives.join("; ")
            ));
        }
    }
    if !notes.is_empty() {
        let note = notes.join(" ");
        let description = match out.get("description").and_then(Value::as_str) {
            Some(d) if !d.is_empty() => format!("{d} {note}"),
            _ => note,
        };
        out.insert("description".into(), Value::String(description));
    }
    out
}

/// Adds `names` to the schema's `required` list (keeping order, without duplicates).
fn add_required(schema: &mut Map<String, Value>, names: &[&str]) {
    if names.is_empty() {
        return;
    }
    let entry = schema
        .entry("required")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !entry.is_array() {
        *entry = Value::Array(Vec::new());
    }
    if let Some(list) = entry.as_array_mut() {
        for name in names {
            if !list.iter().any(|v| v.as_str() == Some(name)) {
                list.push(Value::String((*name).to_string()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn openai(schema: Option<Value>) -> Value {
        Value::Object(normalize_openai_schema(schema.as_ref()))
    }

    fn anthropic(schema: Option<Value>) -> Value {
        Value::Object(normalize_anthropic_schema(schema.as_ref()))
    }

    #[test]
    fn openai_empty_missing_and_null_schemas_become_an_empty_closed_object() {
        let closed = json!({"type": "object", "properties": {}, "additionalProperties": false});
        assert_eq!(openai(None), closed);
        assert_eq!(openai(Some(Value::Null)), closed);
        assert_eq!(openai(Some(json!({}))), closed);
        // Not objects: never valid MCP, treated as empty rather than failing.
        assert_eq!(openai(Some(json!(true))), closed);
        assert_eq!(openai(Some(json!("object"))), closed);
        assert_eq!(openai(Some(json!([1, 2]))), closed);
    }

    #[test]
    fn openai_adds_only_absent_keys() {
        assert_eq!(
            openai(Some(json!({"type": "object"}))),
            json!({"type": "object", "properties": {}, "additionalProperties": false})
        );
        // Present keys are kept whatever their value (LiteLLM checks `in`, not truthiness).
        assert_eq!(
            openai(Some(
                json!({"type": null, "properties": null, "additionalProperties": true})
            )),
            json!({"type": null, "properties": null, "additionalProperties": true})
        );
        let full = json!({"type": "object", "properties": {"a": {"type": "number", "enum": [1, 2]}},
                          "required": ["a"], "$defs": {"x": {"type": "string"}}, "additionalProperties": false});
        assert_eq!(openai(Some(full.clone())), full);
    }

    #[test]
    fn anthropic_empty_schemas_become_an_empty_object_without_additional_properties() {
        let empty = json!({"type": "object", "properties": {}});
        assert_eq!(anthropic(None), empty);
        assert_eq!(anthropic(Some(Value::Null)), empty);
        assert_eq!(anthropic(Some(json!({}))), empty);
        assert_eq!(anthropic(Some(json!(42))), empty);
        assert_eq!(anthropic(Some(json!({"type": "object"}))), empty);
        let kept = json!({"type": "object", "properties": {"q": {"type": "string"}}, "additionalProperties": true});
        assert_eq!(anthropic(Some(kept.clone())), kept);
    }

    #[test]
    fn anthropic_folds_root_all_of_into_properties_and_required() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"],
        "allOf": [
            {"properties": {"b": {"type": "number"}, "a": {"type": "integer"}}, "required": ["b", "a"]},
            {"properties": {"c": {"type": "boolean"}}}
        ]});
        let out = anthropic(Some(schema));
        assert!(out.get("allOf").is_none());
        // The root's own `a` wins over the member's.
        assert_eq!(
            out["properties"],
            json!({"a": {"type": "string"}, "b": {"type": "number"}, "c": {"type": "boolean"}})
        );
        assert_eq!(out["required"], json!(["a", "b"]));
        assert!(out.get("description").is_none());
    }

    #[test]
    fn anthropic_folds_root_one_of_and_keeps_the_rule_in_the_description() {
        let schema = json!({"description": "Fetch a page.", "oneOf": [
            {"properties": {"url": {"type": "string"}}, "required": ["url"]},
            {"properties": {"file": {"type": "string"}}, "required": ["file"]}
        ]});
        let out = anthropic(Some(schema));
        assert!(out.get("oneOf").is_none());
        assert_eq!(out["type"], "object");
        assert_eq!(
            out["properties"],
            json!({"url": {"type": "string"}, "file": {"type": "string"}})
        );
        assert!(out.get("required").is_none());
        assert_eq!(
            out["description"],
            "Fetch a page. Arguments must provide exactly one of: url; file."
        );
    }

    #[test]
    fn anthropic_leaves_nested_combinators_alone() {
        let schema = json!({"type": "object", "properties": {"v": {"anyOf": [{"type": "string"}, {"type": "null"}]}}});
        assert_eq!(anthropic(Some(schema.clone())), schema);
    }

    #[test]
    fn anthropic_survives_hostile_combinators() {
        let schema =
            json!({"anyOf": "not a list", "allOf": [1, null, {"required": "x"}], "oneOf": []});
        let out = anthropic(Some(schema));
        assert_eq!(out, json!({"type": "object", "properties": {}}));
    }
}
