//! Converting an OpenAPI schema object (Swagger 2.0 / OpenAPI 3.0 / 3.1) into a self-contained
//! JSON Schema (draft 2020-12) with every `$ref` inlined.
//!
//! * 3.0 `nullable: true` (and Swagger's `x-nullable`) becomes a type array (`["string","null"]`),
//!   `null` in the `enum`, or `anyOf: [<schema>, {"type":"null"}]` for composed schemas.
//! * 3.0 boolean `exclusiveMinimum`/`exclusiveMaximum` become the 2020-12 numeric form.
//! * `example` becomes `examples: [..]`; tuple `items: [..]` becomes `prefixItems`;
//!   Swagger `type: file` becomes `{"type":"string","format":"binary"}`.
//! * Keywords that are not JSON Schema (`xml`, `externalDocs`, `discriminator`, `x-*`, ...)
//!   are dropped, and keywords whose value has the wrong type are dropped, so the result is
//!   always a valid 2020-12 schema.
//! * Recursion: a `$ref` that is already being expanded (a cycle) is replaced by
//!   `{"type": <target's type>, "description": "(recursive reference to <Name>)"}`.
//!   Expansion also stops (same kind of placeholder) past `max_depth` nested refs or once
//!   one schema has grown past [`NODE_BUDGET`] nodes. The tool builder picks the largest
//!   depth (from [`DEPTHS`]) whose schema fits in [`SIZE_LIMIT`] bytes, so a huge schema is
//!   cut evenly at one nesting level instead of keeping its first branches whole.

use serde_json::{json, Map, Value};

use crate::numbers;
use crate::refs::{ref_name, Refs};

/// Nested `$ref` expansion depths tried, largest first.
pub(crate) const DEPTHS: [usize; 8] = [10, 6, 5, 4, 3, 2, 1, 0];
/// Serialized size (bytes) an input or output schema should stay under.
pub(crate) const SIZE_LIMIT: usize = 32 * 1024;
/// Schema objects one conversion may produce before refs stop being expanded (a hard cap
/// on the work done at the larger depths).
pub(crate) const NODE_BUDGET: usize = 4_000;

const TYPES: [&str; 7] = [
    "string", "number", "integer", "boolean", "object", "array", "null",
];

/// Keys allowed as siblings of `$ref` that only annotate (overlaid on the target).
const ANNOTATIONS: [&str; 9] = [
    "description",
    "title",
    "default",
    "example",
    "examples",
    "readOnly",
    "writeOnly",
    "deprecated",
    "nullable",
];

pub(crate) struct SchemaCx<'a, 'r> {
    refs: &'r Refs<'a>,
    stack: Vec<String>,
    nodes: usize,
    max_depth: usize,
}

impl<'a, 'r> SchemaCx<'a, 'r> {
    /// A converter expanding at most `max_depth` nested `$ref`s on any branch.
    pub fn new(refs: &'r Refs<'a>, max_depth: usize) -> Self {
        SchemaCx {
            refs,
            stack: Vec::new(),
            nodes: 0,
            max_depth,
        }
    }

    /// True when the node budget ran out (the result is then cut unevenly: try a lower depth).
    pub fn overflowed(&self) -> bool {
        self.nodes >= NODE_BUDGET
    }

    /// Convert one schema (or `$ref` to one).
    pub fn convert(&mut self, v: &Value) -> Value {
        self.nodes += 1;
        match v {
            Value::Bool(b) => Value::Bool(*b),
            Value::Object(o) => match o.get("$ref").and_then(Value::as_str) {
                Some(r) => self.convert_ref(r, o),
                None => self.convert_object(o),
            },
            _ => json!({}),
        }
    }

    fn placeholder(&self, reference: &str, why: &str) -> Value {
        let name = ref_name(reference);
        let mut out = Map::new();
        if let Ok(target) = self.refs.lookup(reference) {
            if let Some(t) = target.get("type").and_then(Value::as_str) {
                if TYPES.contains(&t) {
                    out.insert("type".into(), json!(t));
                }
            } else if target.get("properties").is_some() {
                out.insert("type".into(), json!("object"));
            }
        }
        out.insert("description".into(), json!(format!("({why} {name})")));
        Value::Object(out)
    }

    fn convert_ref(&mut self, reference: &str, o: &Map<String, Value>) -> Value {
        let target = if self.stack.iter().any(|s| s == reference) {
            self.placeholder(reference, "recursive reference to")
        } else if self.stack.len() >= self.max_depth || self.nodes >= NODE_BUDGET {
            self.placeholder(reference, "not expanded, nesting too deep:")
        } else {
            match self.refs.lookup(reference) {
                Ok(t) => {
                    self.stack.push(reference.to_string());
                    let c = self.convert(t);
                    self.stack.pop();
                    c
                }
                Err(reason) => {
                    self.refs
                        .warn(format!("cannot resolve $ref `{reference}`: {reason}"));
                    json!({ "description": format!("(unresolved reference {reference})") })
                }
            }
        };
        self.merge_siblings(target, o)
    }

    /// Siblings of `$ref`: annotations are overlaid on the target (3.0 tools commonly put a
    /// `description` or `nullable` next to a `$ref`); anything else is combined with `allOf`
    /// (the 3.1 meaning).
    fn merge_siblings(&mut self, target: Value, o: &Map<String, Value>) -> Value {
        let mut rest: Map<String, Value> = o
            .iter()
            .filter(|(k, _)| *k != "$ref" && (!k.starts_with("x-") || *k == "x-nullable"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if rest.is_empty() {
            return target;
        }
        let nullable = is_true(rest.get("nullable")) || is_true(rest.get("x-nullable"));
        let only_annotations = rest
            .keys()
            .all(|k| ANNOTATIONS.contains(&k.as_str()) || k == "x-nullable");
        rest.remove("nullable");
        rest.remove("x-nullable");
        let rest = self.convert_object(&rest);
        let merged = if only_annotations {
            match (target, rest) {
                (Value::Object(mut t), Value::Object(r)) => {
                    for (k, v) in r {
                        t.insert(k, v);
                    }
                    Value::Object(t)
                }
                (Value::Bool(true), r) => r,
                (t, r) => json!({ "allOf": [t, r] }),
            }
        } else {
            json!({ "allOf": [target, rest] })
        };
        if nullable {
            make_nullable(merged)
        } else {
            merged
        }
    }

    /// Convert the keywords of one (non-`$ref`) schema object.
    fn convert_object(&mut self, o: &Map<String, Value>) -> Value {
        let mut out = Map::new();
        let mut nullable = false;
        let mut required_from_props: Vec<String> = Vec::new();
        for (k, v) in o {
            match k.as_str() {
                "nullable" | "x-nullable" => nullable |= v.as_bool().unwrap_or(false),
                "type" => {
                    if let Some(t) = convert_type(v, &mut out) {
                        out.insert("type".into(), t);
                    }
                }
                "properties" | "patternProperties" | "dependentSchemas" => {
                    if let Value::Object(props) = v {
                        let mut m = Map::new();
                        for (name, s) in props {
                            if k == "properties" && is_true(s.get("required")) {
                                required_from_props.push(name.clone());
                            }
                            m.insert(name.clone(), self.convert(s));
                        }
                        out.insert(k.clone(), Value::Object(m));
                    }
                }
                "additionalProperties"
                | "unevaluatedProperties"
                | "unevaluatedItems"
                | "propertyNames"
                | "contains"
                | "not"
                | "if"
                | "then"
                | "else"
                | "contentSchema"
                    if v.is_object() || v.is_boolean() =>
                {
                    out.insert(k.clone(), self.convert(v));
                }
                "items" => match v {
                    Value::Array(a) if !a.is_empty() => {
                        let items: Vec<Value> = a.iter().map(|s| self.convert(s)).collect();
                        out.insert("prefixItems".into(), Value::Array(items));
                    }
                    Value::Object(_) | Value::Bool(_) => {
                        out.insert("items".into(), self.convert(v));
                    }
                    _ => {}
                },
                "prefixItems" | "allOf" | "anyOf" | "oneOf" => {
                    if let Value::Array(a) = v {
                        if !a.is_empty() {
                            let items: Vec<Value> = a.iter().map(|s| self.convert(s)).collect();
                            out.insert(k.clone(), Value::Array(items));
                        }
                    }
                }
                "required" => {
                    if let Value::Array(a) = v {
                        let mut names: Vec<String> = Vec::new();
                        for n in a.iter().filter_map(Value::as_str) {
                            if !names.iter().any(|x| x == n) {
                                names.push(n.to_string());
                            }
                        }
                        out.insert("required".into(), json!(names));
                    }
                }
                "enum" | "examples" if v.is_array() => {
                    out.insert(k.clone(), v.clone());
                }
                "example" if !o.contains_key("examples") => {
                    out.insert("examples".into(), json!([v]));
                }
                "default" | "const" => {
                    out.insert(k.clone(), v.clone());
                }
                // The boolean (3.0 / Swagger) exclusive form is handled after the loop.
                // Kept exactly as written (see numbers.rs), except a bound beyond f64's
                // range: common JSON parsers (serde_json among them) refuse such a number,
                // so one would break the whole tools/list for them; it bounds nothing a
                // double can hold, so it is dropped.
                "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" | "multipleOf"
                    if numbers::is_number(v) =>
                {
                    let f = numbers::approx(v).unwrap_or(f64::NAN);
                    if !f.is_finite() {
                        self.refs.warn(format!(
                            "schema keyword `{k}: {}` is beyond the range of a double; dropped",
                            numbers::scalar_text(v).unwrap_or_default()
                        ));
                    } else if k != "multipleOf" || f > 0.0 {
                        out.insert(k.clone(), v.clone());
                    }
                }
                "minLength" | "maxLength" | "minItems" | "maxItems" | "minProperties"
                | "maxProperties" | "minContains" | "maxContains" => {
                    if let Some(n) = numbers::non_negative_int(v) {
                        out.insert(k.clone(), n);
                    }
                }
                "uniqueItems" | "readOnly" | "writeOnly" | "deprecated" if v.is_boolean() => {
                    out.insert(k.clone(), v.clone());
                }
                "title" | "description" | "format" | "pattern" | "contentEncoding"
                | "contentMediaType"
                    if v.is_string() =>
                {
                    out.insert(k.clone(), v.clone());
                }
                "dependentRequired" => {
                    if let Value::Object(m) = v {
                        if m.values()
                            .all(|a| a.as_array().is_some_and(|a| a.iter().all(Value::is_string)))
                        {
                            out.insert(k.clone(), v.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        for (flag, bound) in [
            ("exclusiveMinimum", "minimum"),
            ("exclusiveMaximum", "maximum"),
        ] {
            if is_true(o.get(flag)) {
                if let Some(b) = out.remove(bound) {
                    out.insert(flag.into(), b);
                }
            }
        }
        if !required_from_props.is_empty() {
            let mut req: Vec<Value> = out
                .get("required")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for n in required_from_props {
                if !req.iter().any(|x| x.as_str() == Some(n.as_str())) {
                    req.push(Value::String(n));
                }
            }
            out.insert("required".into(), Value::Array(req));
        }
        let out = Value::Object(out);
        if nullable {
            make_nullable(out)
        } else {
            out
        }
    }
}

fn is_true(v: Option<&Value>) -> bool {
    v.and_then(Value::as_bool).unwrap_or(false)
}

/// Validate/convert `type`. Swagger's `file` becomes a binary string.
fn convert_type(v: &Value, out: &mut Map<String, Value>) -> Option<Value> {
    match v {
        Value::String(t) if t == "file" => {
            out.entry("format").or_insert_with(|| json!("binary"));
            Some(json!("string"))
        }
        Value::String(t) if TYPES.contains(&t.as_str()) => Some(v.clone()),
        Value::Array(a) => {
            let mut ts: Vec<Value> = Vec::new();
            for t in a.iter().filter_map(Value::as_str) {
                let t = if t == "file" { "string" } else { t };
                if TYPES.contains(&t) && !ts.iter().any(|x| x == t) {
                    ts.push(json!(t));
                }
            }
            match ts.len() {
                0 => None,
                1 => ts.pop(),
                _ => Some(Value::Array(ts)),
            }
        }
        _ => None,
    }
}

/// Make a converted schema also accept `null`.
pub(crate) fn make_nullable(schema: Value) -> Value {
    let Value::Object(mut m) = schema else {
        return schema;
    };
    let composed = ["allOf", "anyOf", "oneOf", "not", "const"]
        .iter()
        .any(|k| m.contains_key(*k));
    match m.get("type").cloned() {
        Some(_) if composed => wrap_null(m),
        Some(Value::String(t)) => {
            if t != "null" {
                m.insert("type".into(), json!([t, "null"]));
            }
            add_null_to_enum(&mut m);
            Value::Object(m)
        }
        Some(Value::Array(mut ts)) => {
            if !ts.iter().any(|t| t == "null") {
                ts.push(json!("null"));
            }
            m.insert("type".into(), Value::Array(ts));
            add_null_to_enum(&mut m);
            Value::Object(m)
        }
        _ if composed => wrap_null(m),
        _ => {
            add_null_to_enum(&mut m);
            Value::Object(m)
        }
    }
}

fn add_null_to_enum(m: &mut Map<String, Value>) {
    if let Some(Value::Array(e)) = m.get_mut("enum") {
        if !e.iter().any(Value::is_null) {
            e.push(Value::Null);
        }
    }
}

fn wrap_null(mut m: Map<String, Value>) -> Value {
    let mut out = Map::new();
    for k in ["description", "title", "default"] {
        if let Some(v) = m.remove(k) {
            out.insert(k.into(), v);
        }
    }
    out.insert(
        "anyOf".into(),
        json!([Value::Object(m), { "type": "null" }]),
    );
    Value::Object(out)
}
