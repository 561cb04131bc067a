//! One [`ToolDef`] per operation (get/put/post/delete/patch/head/options) of `paths`.
//! Webhooks and callbacks are not operations of this API and never become tools.

use serde_json::{json, Map, Value};

use crate::body::{oas3_body, swagger_body, swagger_form};
use crate::load::{Dialect, Loaded};
use crate::media::{is_json, pick_accept};
use crate::model::{Location, Operation};
use crate::naming::{base_name_in, Namer, ToolNaming};
use crate::params::{collect, is_true, merged};
use crate::refs::Refs;
use crate::schema::{SchemaCx, DEPTHS, SIZE_LIMIT};

/// An MCP tool generated from one operation.
#[derive(Debug, Clone)]
pub struct ToolDef {
    /// `^[A-Za-z0-9_.-]{1,64}$` (or the configured maximum), unique within the spec: the
    /// name in the configured [`ToolNaming`].
    pub name: String,
    /// The name in the other scheme, when it differs (calls by it still resolve when no
    /// other tool claims it).
    pub(crate) other_name: Option<String>,
    pub description: String,
    /// JSON Schema (2020-12) of the `arguments` object; see the crate docs for the layout.
    /// Numbers beyond i64/u64/f64 are marked strings here: read it with
    /// [`ToolDef::input_schema`] or emit it with [`ToolDef::to_mcp_json_text`].
    pub(crate) input_schema: Value,
    /// Only for operations whose success response is a JSON object.
    pub(crate) output_schema: Option<Value>,
    pub(crate) title: Option<String>,
    pub(crate) op: Operation,
}

impl ToolDef {
    /// The name in the scheme not listed ([`ToolNaming`]), when it differs.
    pub fn other_name(&self) -> Option<&str> {
        self.other_name.as_deref()
    }

    pub fn method(&self) -> &http::Method {
        &self.op.method
    }

    /// The path template as written in the spec, e.g. `/pet/{petId}`.
    pub fn path_template(&self) -> &str {
        &self.op.path
    }

    /// The operation's summary, if any (used as the MCP `title`).
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// The MCP `tools/list` entry: `{name, title?, description, inputSchema, outputSchema?,
    /// annotations}`. Annotations are hints derived from the HTTP method. Numbers beyond
    /// i64/u64/f64 are approximated here; [`to_mcp_json_text`](Self::to_mcp_json_text) keeps
    /// them exact.
    pub fn to_mcp_json(&self) -> Value {
        crate::numbers::plain(&self.mcp_json())
    }

    /// The `tools/list` entry as JSON text, named `name` (e.g. the gateway's prefixed name),
    /// with every number exactly as the spec wrote it.
    pub fn to_mcp_json_text(&self, name: &str) -> String {
        let mut t = self.mcp_json();
        t["name"] = Value::String(name.to_string());
        crate::numbers::to_text(&t)
    }

    /// The inputSchema without marks (see [`to_mcp_json`](Self::to_mcp_json)).
    pub fn input_schema(&self) -> Value {
        crate::numbers::plain(&self.input_schema)
    }

    /// The outputSchema without marks.
    pub fn output_schema(&self) -> Option<Value> {
        self.output_schema.as_ref().map(crate::numbers::plain)
    }

    fn mcp_json(&self) -> Value {
        let m = &self.op.method;
        let read_only =
            *m == http::Method::GET || *m == http::Method::HEAD || *m == http::Method::OPTIONS;
        let mut annotations = json!({
            "readOnlyHint": read_only,
            "openWorldHint": true,
        });
        if !read_only {
            annotations["destructiveHint"] = json!(*m == http::Method::DELETE);
            annotations["idempotentHint"] =
                json!(*m == http::Method::PUT || *m == http::Method::DELETE);
        }
        let mut t = json!({
            "name": self.name,
            "description": self.description,
            "inputSchema": self.input_schema,
            "annotations": annotations,
        });
        if let Some(title) = &self.title {
            t["title"] = json!(title);
        }
        if let Some(o) = &self.output_schema {
            t["outputSchema"] = o.clone();
        }
        t
    }
}

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "options", "head", "patch"];
/// The methods LiteLLM exposes, in the order it names them.
const LITELLM_METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];
/// Largest inputSchema kept when even no `$ref` expansion brings it under [`SIZE_LIMIT`]:
/// past this the operation is left out (no model can use a tool that size).
pub(crate) const HARD_SIZE_LIMIT: usize = 256 * 1024;

/// An operation that could not be turned into a tool (left out, the rest of the spec loads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedOperation {
    /// Upper case, e.g. `GET`.
    pub method: String,
    pub path: String,
    pub operation_id: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for SkippedOperation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "operation {} {}", self.method, self.path)?;
        if let Some(id) = &self.operation_id {
            write!(f, " (operationId `{id}`)")?;
        }
        write!(f, " left out: {}", self.reason)
    }
}

/// How tools are named; see `naming.rs`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NameRules {
    pub scheme: ToolNaming,
    pub max: usize,
}

/// One operation found under `paths`, before naming.
struct Found<'a> {
    path_index: usize,
    path: &'a str,
    method: &'static str,
    op: &'a Value,
    built: Result<ToolDef, String>,
}

pub(crate) struct Built {
    pub tools: Vec<ToolDef>,
    pub skipped: Vec<SkippedOperation>,
}

pub(crate) fn build<'a>(loaded: &'a Loaded, refs: &Refs<'a>, rules: NameRules) -> Built {
    let doc = &loaded.doc;
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return Built {
            tools: Vec::new(),
            skipped: Vec::new(),
        };
    };
    let mut found: Vec<Found<'a>> = Vec::new();
    for (path_index, (path, keys)) in loaded.path_order.iter().enumerate() {
        let Some((path, raw_item)) = paths.get_key_value(path) else {
            continue;
        };
        let Some(item) = refs.deref(raw_item) else {
            continue;
        };
        let mut methods: Vec<&'static str> = keys
            .iter()
            .filter_map(|k| METHODS.iter().copied().find(|m| m == k))
            .collect();
        for m in METHODS {
            if !methods.contains(&m) && item.get(m).is_some() {
                methods.push(m);
            }
        }
        for m in methods {
            let Some(op) = item.get(m) else { continue };
            // Each operation on its own: a bug in one conversion must not cost the others.
            let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                build_one(loaded, refs, path, m, item, op)
            }))
            .unwrap_or_else(|_| Err("internal error while converting it".to_string()));
            found.push(Found {
                path_index,
                path,
                method: m,
                op,
                built,
            });
        }
    }
    let exact = names_in_order(
        &found,
        NameRules {
            scheme: ToolNaming::Exact,
            ..rules
        },
        refs,
        rules,
    );
    let litellm = names_in_order(
        &found,
        NameRules {
            scheme: ToolNaming::LiteLlm,
            ..rules
        },
        refs,
        rules,
    );
    let mut tools = Vec::new();
    let mut skipped = Vec::new();
    for ((f, exact), litellm) in found.into_iter().zip(exact).zip(litellm) {
        let (name, other) = match rules.scheme {
            ToolNaming::Exact => (exact, litellm),
            ToolNaming::LiteLlm => (litellm, exact),
        };
        match f.built {
            Ok(tool) => tools.push(ToolDef {
                other_name: (other != name).then_some(other),
                name,
                ..tool
            }),
            Err(reason) => {
                let s = SkippedOperation {
                    method: f.method.to_ascii_uppercase(),
                    path: f.path.to_string(),
                    operation_id: operation_id(f.op).map(str::to_string),
                    reason,
                };
                refs.warn(s.to_string());
                skipped.push(s);
            }
        }
    }
    Built { tools, skipped }
}

fn operation_id(op: &Value) -> Option<&str> {
    op.get("operationId").and_then(Value::as_str)
}

/// Names of `found` (same order) in one scheme. Every operation is named, even one left
/// out, so that leaving it out never renames the others. Collisions are warned about when
/// `scheme` is the listed one.
fn names_in_order(
    found: &[Found<'_>],
    scheme: NameRules,
    refs: &Refs<'_>,
    listed: NameRules,
) -> Vec<String> {
    let mut order: Vec<usize> = (0..found.len()).collect();
    if scheme.scheme == ToolNaming::LiteLlm {
        // LiteLLM's methods first, in its order; the others (head, options) afterwards.
        let rank = |f: &Found<'_>| match LITELLM_METHODS.iter().position(|m| *m == f.method) {
            Some(i) => (0, f.path_index, i),
            None => (1, f.path_index, 0),
        };
        order.sort_by_key(|i| rank(&found[*i]));
    }
    let mut namer = Namer::new(scheme.max);
    let mut names = vec![String::new(); found.len()];
    for i in order {
        let f = &found[i];
        let base = base_name_in(
            scheme.scheme,
            operation_id(f.op),
            f.method,
            f.path,
            scheme.max,
        );
        let name = namer.unique(base.clone());
        if name != base && scheme.scheme == listed.scheme {
            let id = operation_id(f.op)
                .map(|id| format!(" (operationId `{id}`)"))
                .unwrap_or_default();
            let why = if scheme.scheme == ToolNaming::LiteLlm {
                " (LiteLLM naming lowercases and replaces characters outside [A-Za-z0-9_-])"
            } else {
                ""
            };
            refs.warn(format!(
                "tool name `{base}` is already taken{why}: {} {}{id} is named `{name}`",
                f.method.to_ascii_uppercase(),
                f.path
            ));
        }
        names[i] = name;
    }
    names
}

fn str_list(v: Option<&Value>) -> Option<Vec<&str>> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
}

/// What the input side of an operation turns into.
struct Input {
    params: Vec<crate::model::Param>,
    body: Option<crate::model::Body>,
    schema: Value,
    overflowed: bool,
}

fn build_one<'a>(
    loaded: &'a Loaded,
    refs: &Refs<'a>,
    path_key: &str,
    method: &str,
    item: &'a Value,
    op: &'a Value,
) -> Result<ToolDef, String> {
    if !op.is_object() {
        return Err("the operation is not an object".into());
    }
    let path = path_key.split('#').next().unwrap_or("").to_string();
    check_template(&path)?;
    for (what, holder) in [("path item", item), ("operation", op)] {
        if holder
            .get("parameters")
            .is_some_and(|p| !p.is_array() && !p.is_null())
        {
            return Err(format!("the {what}'s `parameters` is not a list"));
        }
    }
    let mut input = None;
    for depth in DEPTHS {
        let candidate = build_input(loaded, refs, item, op, &path, depth);
        let fits = !candidate.overflowed && candidate.schema.to_string().len() <= SIZE_LIMIT;
        input = Some(candidate);
        if fits {
            break;
        }
    }
    let input = input.unwrap_or_else(|| build_input(loaded, refs, item, op, &path, 0));
    let input_size = input.schema.to_string().len();
    if input_size > HARD_SIZE_LIMIT {
        return Err(format!(
            "its inputSchema is {} KiB even with no $ref expanded (at most {} KiB)",
            input_size / 1024,
            HARD_SIZE_LIMIT / 1024
        ));
    }
    let mut output_schema = None;
    let mut accept = None;
    for depth in DEPTHS {
        let (schema, acc, overflowed) = output(loaded, refs, op, depth);
        accept = acc;
        let fits = schema
            .as_ref()
            .is_none_or(|s| !overflowed && s.to_string().len() <= SIZE_LIMIT);
        output_schema = schema;
        if fits {
            break;
        }
    }
    let summary = op
        .get("summary")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let method_up = method.to_ascii_uppercase();
    Ok(ToolDef {
        name: String::new(),
        other_name: None,
        description: description(op, summary, &method_up, &path),
        input_schema: input.schema,
        output_schema,
        title: summary.map(str::to_string),
        op: Operation {
            method: http::Method::from_bytes(method_up.as_bytes()).unwrap_or(http::Method::GET),
            path,
            params: input.params,
            body: input.body,
            accept,
        },
    })
}

/// A path template the request builder can fill: `{` and `}` pair up, never nest, and
/// enclose a name.
fn check_template(path: &str) -> Result<(), String> {
    let mut open = false;
    let mut empty = true;
    for c in path.chars() {
        match c {
            '{' if open => return Err(format!("the path template `{path}` nests `{{`")),
            '{' => {
                open = true;
                empty = true;
            }
            '}' if !open => {
                return Err(format!(
                    "the path template `{path}` has a `}}` without `{{`"
                ))
            }
            '}' if empty => return Err(format!("the path template `{path}` has an empty `{{}}`")),
            '}' => open = false,
            _ => empty = false,
        }
    }
    if open {
        return Err(format!("the path template `{path}` has an unclosed `{{`"));
    }
    Ok(())
}

fn build_input<'a>(
    loaded: &'a Loaded,
    refs: &Refs<'a>,
    item: &'a Value,
    op: &'a Value,
    path: &str,
    depth: usize,
) -> Input {
    let dialect = loaded.dialect;
    let mut cx = SchemaCx::new(refs, depth);
    let list = merged(refs, item, op);
    let collected = collect(refs, &mut cx, dialect, list, path);
    let consumes = str_list(op.get("consumes"))
        .or_else(|| str_list(loaded.doc.get("consumes")))
        .unwrap_or_default();
    let body = if dialect == Dialect::Swagger2 {
        if let Some(p) = collected.body_param {
            Some(swagger_body(&mut cx, p, &consumes))
        } else if !collected.form_params.is_empty() {
            Some(swagger_form(&mut cx, &collected.form_params, &consumes))
        } else {
            None
        }
    } else {
        op.get("requestBody")
            .and_then(|rb| refs.deref(rb))
            .and_then(|rb| oas3_body(&mut cx, rb))
    };

    let mut props = Map::new();
    let mut required: Vec<&str> = Vec::new();
    for (i, loc) in Location::ALL.iter().enumerate() {
        let g = &collected.groups[i];
        if g.properties.is_empty() {
            continue;
        }
        let mut o = json!({
            "type": "object",
            "description": format!("{} parameters", loc.key()),
            "properties": g.properties,
            "additionalProperties": false,
        });
        if !g.required.is_empty() {
            o["required"] = json!(g.required);
            required.push(loc.key());
        }
        props.insert(loc.key().to_string(), o);
    }
    let body = body.map(|(b, schema)| {
        props.insert("body".into(), schema);
        if b.required {
            required.push("body");
        }
        b
    });
    let mut schema = json!({
        "type": "object",
        "properties": props,
        "additionalProperties": false,
    });
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    Input {
        params: collected.params,
        body,
        schema,
        overflowed: cx.overflowed(),
    }
}

/// Summary, then description (both when both exist), else `METHOD /path`; deprecated
/// operations are kept and say so first.
fn description(op: &Value, summary: Option<&str>, method: &str, path: &str) -> String {
    let desc = op
        .get("description")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let mut text = match (summary, desc) {
        (Some(s), Some(d)) if s != d => format!("{s}\n\n{d}"),
        (Some(s), _) => s.to_string(),
        (None, Some(d)) => d.to_string(),
        (None, None) => format!("{method} {path}"),
    };
    if is_true(op.get("deprecated")) {
        text = format!("(deprecated) {text}");
    }
    text
}

/// The success response: 200, 201, other 2xx, 2XX; `default` only when there is no 2xx.
fn success_response<'a>(refs: &Refs<'a>, op: &'a Value) -> Option<&'a Value> {
    let responses = op.get("responses")?.as_object()?;
    let mut codes: Vec<&String> = responses
        .keys()
        .filter(|k| k.len() == 3 && k.starts_with('2') && k.chars().all(|c| c.is_ascii_digit()))
        .collect();
    codes.sort_by_key(|k| match k.as_str() {
        "200" => 0,
        "201" => 1,
        _ => 2,
    });
    let key = codes
        .first()
        .map(|k| k.as_str())
        .or_else(|| {
            ["2XX", "2xx"]
                .into_iter()
                .find(|k| responses.contains_key(*k))
        })
        .or_else(|| responses.contains_key("default").then_some("default"))?;
    refs.deref(responses.get(key)?)
}

fn output<'a>(
    loaded: &'a Loaded,
    refs: &Refs<'a>,
    op: &'a Value,
    depth: usize,
) -> (Option<Value>, Option<String>, bool) {
    let Some(resp) = success_response(refs, op) else {
        return (None, None, false);
    };
    let mut cx = SchemaCx::new(refs, depth);
    if loaded.dialect == Dialect::Swagger2 {
        let produces = str_list(op.get("produces"))
            .or_else(|| str_list(loaded.doc.get("produces")))
            .unwrap_or_default();
        let accept = pick_accept(produces.iter().copied());
        let json_ok = produces.is_empty() || produces.iter().any(|p| is_json(p));
        let schema = resp
            .get("schema")
            .filter(|_| json_ok)
            .map(|s| cx.convert(s))
            .and_then(object_schema);
        return (schema, accept, cx.overflowed());
    }
    let Some(Value::Object(content)) = resp.get("content") else {
        return (None, None, false);
    };
    let accept = pick_accept(content.keys().map(String::as_str));
    let schema = content
        .iter()
        .find(|(k, _)| is_json(k))
        .and_then(|(_, mt)| mt.get("schema"))
        .map(|s| cx.convert(s))
        .and_then(object_schema);
    (schema, accept, cx.overflowed())
}

fn objectish(s: &Value) -> bool {
    s.get("type").and_then(Value::as_str) == Some("object")
        || (s.get("type").is_none() && s.get("properties").is_some())
}

/// MCP requires `outputSchema` to be an object schema: keep only those (and say so).
fn object_schema(s: Value) -> Option<Value> {
    let Value::Object(mut m) = s else { return None };
    let ok = match m.get("type") {
        Some(t) => t == "object",
        None => {
            m.contains_key("properties")
                || m.get("allOf")
                    .and_then(Value::as_array)
                    .is_some_and(|a| a.iter().all(objectish))
        }
    };
    if !ok {
        return None;
    }
    m.insert("type".into(), json!("object"));
    Some(Value::Object(m))
}
