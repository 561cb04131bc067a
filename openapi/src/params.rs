//! Parameters of one operation: merging path-level and operation-level lists, their
//! serialization settings and their JSON Schemas (grouped by location).

use serde_json::{json, Map, Value};

use crate::load::Dialect;
use crate::model::{Location, Param, Style};
use crate::refs::Refs;
use crate::schema::SchemaCx;

/// One location's sub-object of the inputSchema.
#[derive(Default)]
pub(crate) struct Group {
    pub properties: Map<String, Value>,
    pub required: Vec<String>,
}

/// Parameters split by what they become.
#[derive(Default)]
pub(crate) struct Collected<'a> {
    pub params: Vec<Param>,
    /// Indexed like [`Location::ALL`].
    pub groups: [Group; 4],
    /// Swagger 2 `in: body` parameter.
    pub body_param: Option<&'a Value>,
    /// Swagger 2 `in: formData` parameters.
    pub form_params: Vec<&'a Value>,
}

fn group_index(loc: Location) -> usize {
    match loc {
        Location::Path => 0,
        Location::Query => 1,
        Location::Header => 2,
        Location::Cookie => 3,
    }
}

/// Path-level parameters followed by the operation's; the operation's wins on the same
/// (name, in). References are resolved; unresolvable ones are skipped (with a warning).
pub(crate) fn merged<'a>(refs: &Refs<'a>, path_item: &'a Value, op: &'a Value) -> Vec<&'a Value> {
    let mut out: Vec<&'a Value> = Vec::new();
    for list in [path_item.get("parameters"), op.get("parameters")] {
        let Some(Value::Array(list)) = list else {
            continue;
        };
        for p in list {
            let Some(p) = refs.deref(p) else { continue };
            let key = |v: &Value| {
                (
                    v.get("name").and_then(Value::as_str).map(str::to_string),
                    v.get("in").and_then(Value::as_str).map(str::to_string),
                )
            };
            let k = key(p);
            match out.iter_mut().find(|q| key(q) == k) {
                Some(slot) => *slot = p,
                None => out.push(p),
            }
        }
    }
    out
}

/// Headers that OpenAPI 3 says to ignore as parameters (they are set by the gateway).
fn ignored_header(name: &str) -> bool {
    ["accept", "content-type", "authorization"].contains(&name.to_ascii_lowercase().as_str())
}

pub(crate) fn collect<'a>(
    refs: &Refs<'a>,
    cx: &mut SchemaCx<'a, '_>,
    dialect: Dialect,
    list: Vec<&'a Value>,
    path: &str,
) -> Collected<'a> {
    let mut c = Collected::default();
    for p in list {
        let Some(name) = p.get("name").and_then(Value::as_str) else {
            refs.warn(format!("{path}: a parameter has no name; skipped"));
            continue;
        };
        let location_text = p.get("in").and_then(Value::as_str).unwrap_or("");
        match location_text {
            "body" if dialect == Dialect::Swagger2 => {
                c.body_param = Some(p);
                continue;
            }
            "formData" if dialect == Dialect::Swagger2 => {
                c.form_params.push(p);
                continue;
            }
            _ => {}
        }
        let Some(location) = Location::parse(location_text) else {
            refs.warn(format!(
                "{path}: parameter `{name}` has unsupported location `{location_text}`; skipped"
            ));
            continue;
        };
        if location == Location::Header && dialect != Dialect::Swagger2 && ignored_header(name) {
            continue;
        }
        let required = location == Location::Path || is_true(p.get("required"));
        let (style, explode) = style_of(p, location, dialect);
        let (schema, json_content) = param_schema(cx, p, dialect);
        c.params.push(Param {
            name: name.to_string(),
            location,
            required,
            style,
            explode,
            allow_reserved: is_true(p.get("allowReserved")),
            json_content,
        });
        let g = &mut c.groups[group_index(location)];
        g.properties.insert(name.to_string(), schema);
        if required {
            g.required.push(name.to_string());
        }
    }
    add_undeclared_path_params(&mut c, path);
    c
}

/// Template variables with no declared parameter still have to be filled: add them as
/// required strings so the model is asked for them.
fn add_undeclared_path_params(c: &mut Collected<'_>, path: &str) {
    for var in template_vars(path) {
        let declared = c
            .params
            .iter()
            .any(|p| p.location == Location::Path && p.name == var);
        if !declared {
            c.params.push(Param {
                name: var.clone(),
                location: Location::Path,
                required: true,
                style: Style::Simple,
                explode: false,
                allow_reserved: false,
                json_content: false,
            });
            let g = &mut c.groups[0];
            g.properties.insert(
                var.clone(),
                json!({"type": "string", "description": "(path parameter not declared in the spec)"}),
            );
            g.required.push(var);
        }
    }
}

/// The `{name}` variables of a path template, in order.
pub(crate) fn template_vars(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else { break };
        let var = after[..end].to_string();
        if !var.is_empty() && !out.contains(&var) {
            out.push(var);
        }
        rest = &after[end + 1..];
    }
    out
}

pub(crate) fn is_true(v: Option<&Value>) -> bool {
    v.and_then(Value::as_bool).unwrap_or(false)
}

fn style_of(p: &Value, loc: Location, dialect: Dialect) -> (Style, bool) {
    if dialect == Dialect::Swagger2 {
        let cf = p.get("collectionFormat").and_then(Value::as_str);
        return Style::from_collection_format(cf, loc);
    }
    let default = match loc {
        Location::Query | Location::Cookie => Style::Form,
        Location::Path | Location::Header => Style::Simple,
    };
    let style = p
        .get("style")
        .and_then(Value::as_str)
        .and_then(Style::parse)
        .unwrap_or(default);
    let explode = p
        .get("explode")
        .and_then(Value::as_bool)
        .unwrap_or(style == Style::Form);
    (style, explode)
}

/// Swagger 2 keeps the schema keywords on the parameter itself.
const SWAGGER_PARAM_KEYS: [&str; 17] = [
    "type",
    "format",
    "items",
    "enum",
    "default",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
    "x-nullable",
];

/// The JSON Schema of a (non-body) parameter, with the parameter's description.
/// Returns the schema and whether the value is sent as JSON text (`content` parameters).
pub(crate) fn param_schema(
    cx: &mut SchemaCx<'_, '_>,
    p: &Value,
    dialect: Dialect,
) -> (Value, bool) {
    let (schema, json_content) = if dialect == Dialect::Swagger2 {
        let mut m = Map::new();
        for k in SWAGGER_PARAM_KEYS {
            if let Some(v) = p.get(k) {
                m.insert(k.to_string(), v.clone());
            }
        }
        (cx.convert(&Value::Object(m)), false)
    } else if let Some(s) = p.get("schema") {
        (cx.convert(s), false)
    } else if let Some(Value::Object(content)) = p.get("content") {
        match content.values().next().and_then(|mt| mt.get("schema")) {
            Some(s) => (cx.convert(s), true),
            None => (json!({}), true),
        }
    } else {
        (json!({}), false)
    };
    (annotate(schema, p), json_content)
}

/// Put the parameter's description / deprecation / example on its schema.
pub(crate) fn annotate(schema: Value, p: &Value) -> Value {
    let mut m = match schema {
        Value::Object(m) => m,
        Value::Bool(true) => Map::new(),
        other => return other,
    };
    let mut desc = p
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            m.get("description")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    if is_true(p.get("deprecated")) {
        desc = Some(
            format!("(deprecated) {}", desc.unwrap_or_default())
                .trim()
                .to_string(),
        );
    }
    if let Some(d) = desc.filter(|d| !d.is_empty()) {
        m.insert("description".into(), Value::String(d));
    }
    if !m.contains_key("examples") {
        if let Some(ex) = p.get("example") {
            m.insert("examples".into(), json!([ex]));
        }
    }
    Value::Object(m)
}
