//! pre_mcp_call guardrails, inline: the built-in guardrails of the snapshot scan the
//! arguments of each `tools/call` in a request body (a single message, each element of
//! a batch, or LiteLLM's `/mcp-rest/tools/call`). A BLOCK answers locally (the
//! upstream is never contacted); a MASK rewrites the body. Which guardrails run: the
//! `default_on` ones, the key's and its team's, and those the request names in the
//! `x-mcp-guardrails` header or `params._meta.guardrails` (a request can only add).

use std::collections::BTreeMap;

use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use meshgate_policy::guardrails::texts::{blocked_message, mcp_block_text, mcp_error_result};
use meshgate_policy::guardrails::{
    check_arguments, check_arguments_raw, scan_message, select, Guardrail, GuardrailError,
    GuardrailSet, JsonFinding, MessageScan, Phase, Verdict,
};
use meshgate_policy::PolicySnapshot;

/// Header naming guardrails to add to a request (comma-separated).
pub use meshgate_policy::guardrails::select::REQUEST_HEADER as GUARDRAILS_HEADER;
/// JSON-RPC code of a batch element that was not run because another was blocked.
pub const NOT_RUN_CODE: i64 = -32000;

/// What the request's body becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Forward unchanged.
    Pass,
    /// Forward this body instead (masked arguments).
    Rewrite(Vec<u8>),
    /// Answer locally; the upstream is not contacted.
    Reply { status: u16, body: String },
}

/// A block or a mask, for the log and the counters (never the matched value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub guardrail: String,
    pub entity: String,
    pub action: &'static str,
    pub server: String,
    pub path: String,
}

/// What the request carries besides the body.
pub struct Request<'a> {
    pub snapshot: &'a PolicySnapshot,
    pub set: &'a GuardrailSet,
    /// The key's and its team's guardrail names.
    pub attached: &'a [String],
    /// Names from the `x-mcp-guardrails` header.
    pub header_names: &'a [String],
    /// `/mcp-rest/tools/call` (REST shape, 400 on a block) rather than JSON-RPC.
    pub rest: bool,
}

/// Whether any guardrail of the set runs inline before a call (else bodies stream).
pub fn has_inline_pre(set: &GuardrailSet) -> bool {
    set.iter()
        .any(|g| g.is_builtin() && g.spec.acts_in(Phase::Pre))
}

/// The header's names: comma-separated, trimmed, empty items skipped.
pub fn header_names(value: Option<&str>) -> Vec<String> {
    value
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect()
}

/// Checks a request body. A body that is not JSON passes (the sidecar refuses it).
pub fn check_body(req: &Request<'_>, body: &[u8], events: &mut Vec<Event>) -> Outcome {
    if !may_select(req) && !contains(body, b"guardrails") {
        // Nothing can apply: no default_on guardrail acts before calls, the key, its
        // team and the header name none, and the body cannot name any in `_meta`.
        // (A client escaping its own `_meta` key only declines what it may add.)
        return Outcome::Pass;
    }
    if req.rest {
        return check_rest(req, body, events);
    }
    // The common case in one pass: a message, or every message of a batch, with
    // nothing to find.
    if let Ok(pre) = pre_guardrails(req, &[]) {
        if all_clean(&pre, body) {
            return Outcome::Pass;
        }
    }
    if let Some(outcome) = check_single_raw(req, body, events) {
        return outcome;
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(batch)) => check_batch(req, batch, events),
        Ok(Value::Object(mut message)) => match check_message(req, &mut message, events) {
            Step::Pass => Outcome::Pass,
            Step::Masked => Outcome::Rewrite(Value::Object(message).to_string().into_bytes()),
            Step::Blocked(result) => Outcome::Reply {
                status: 200,
                body: response(raw_id(body).as_deref(), &result),
            },
        },
        _ => Outcome::Pass,
    }
}

/// Whether `body` — one message, or a batch whose elements are each read once more
/// from their text — has nothing for the full check to decide.
fn all_clean(pre: &[&Guardrail], body: &[u8]) -> bool {
    if body.iter().find(|c| !c.is_ascii_whitespace()) != Some(&b'[') {
        return scan_message(pre, body) == MessageScan::Clean;
    }
    serde_json::from_slice::<Vec<&RawValue>>(body).is_ok_and(|batch| {
        batch
            .iter()
            .all(|m| scan_message(pre, m.get().as_bytes()) == MessageScan::Clean)
    })
}

/// Whether anything but the body's own `_meta` could select a guardrail for a call.
fn may_select(req: &Request<'_>) -> bool {
    !req.attached.is_empty()
        || !req.header_names.is_empty()
        || req
            .set
            .iter()
            .any(|g| g.spec.default_on && g.is_builtin() && g.spec.acts_in(Phase::Pre))
}

/// Whether `needle` occurs in `haystack`: compares only where its first byte is.
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    haystack
        .iter()
        .enumerate()
        .any(|(i, &c)| c == first && haystack[i + 1..].starts_with(rest))
}

enum Step {
    Pass,
    Masked,
    /// The `isError` result to answer with.
    Blocked(Value),
}

fn check_batch(req: &Request<'_>, mut batch: Vec<Value>, events: &mut Vec<Event>) -> Outcome {
    let mut steps = Vec::with_capacity(batch.len());
    for element in batch.iter_mut() {
        steps.push(match element.as_object_mut() {
            Some(message) => check_message(req, message, events),
            None => Step::Pass,
        });
    }
    let blocked = steps.iter().any(|s| matches!(s, Step::Blocked(_)));
    if blocked {
        // The whole batch is answered here: blocked calls with their isError result,
        // every other request with an error saying it was not run; notifications get
        // no answer.
        let answers: Vec<String> = batch
            .iter()
            .zip(steps)
            .filter_map(|(element, step)| {
                let id = element.get("id").map(Value::to_string)?;
                Some(match step {
                    Step::Blocked(result) => response(Some(&id), &result),
                    _ => not_run(&id),
                })
            })
            .collect();
        return Outcome::Reply {
            status: 200,
            body: format!("[{}]", answers.join(",")),
        };
    }
    if steps.iter().any(|s| matches!(s, Step::Masked)) {
        return Outcome::Rewrite(Value::Array(batch).to_string().into_bytes());
    }
    Outcome::Pass
}

/// One JSON-RPC message: only `tools/call` requests are scanned.
fn check_message(
    req: &Request<'_>,
    message: &mut Map<String, Value>,
    events: &mut Vec<Event>,
) -> Step {
    if message.get("method").and_then(Value::as_str) != Some("tools/call") {
        return Step::Pass;
    }
    let params = message.get("params");
    let tool = params
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let server = server_of(req.snapshot, tool);
    let requested = match meta_names(params.and_then(|p| p.get("_meta"))) {
        Ok(names) => names,
        Err(text) => return Step::Blocked(mcp_error_result(&text)),
    };
    let arguments = params
        .and_then(|p| p.get("arguments"))
        .unwrap_or(&Value::Null);
    match verdict(req, &requested, Arguments::Tree(arguments), &server, events) {
        Checked::Pass => Step::Pass,
        Checked::Refused(text) => Step::Blocked(mcp_error_result(&text)),
        Checked::Masked(value) => {
            if let Some(params) = message.get_mut("params").and_then(Value::as_object_mut) {
                params.insert("arguments".into(), value);
            }
            Step::Masked
        }
    }
}

fn check_rest(req: &Request<'_>, body: &[u8], events: &mut Vec<Event>) -> Outcome {
    // The members as text: the arguments are scanned without a tree unless something
    // is found (masking rebuilds the body).
    let Ok(call) = serde_json::from_slice::<RawObject<'_>>(body) else {
        return Outcome::Pass;
    };
    if let Some(slot) = model_call_slot(&call) {
        return check_model_call(req, body, slot, events);
    }
    let server = call
        .get("server_id")
        .and_then(|s| serde_json::from_str::<String>(s.get()).ok())
        .unwrap_or_else(|| "-".to_string());
    let arguments = call.get("arguments").map_or("null", |a| a.get());
    match verdict(req, &[], Arguments::Raw(arguments), &server, events) {
        Checked::Pass => Outcome::Pass,
        Checked::Refused(text) => Outcome::Reply {
            status: 400,
            body: json!({"error": "guardrail_violation", "message": text, "detail": text})
                .to_string(),
        },
        Checked::Masked(value) => match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(mut call)) => {
                call.insert("arguments".into(), value);
                Outcome::Rewrite(Value::Object(call).to_string().into_bytes())
            }
            // Cannot happen (the body parsed as an object above); refuse rather than
            // forward the unmasked arguments.
            _ => Outcome::Reply {
                status: 400,
                body: json!({"error": "guardrail_violation", "message": "the body could not be masked"})
                    .to_string(),
            },
        },
    }
}

/// Where a model's tool call, which `/mcp-rest/tools/call` takes beside LiteLLM's
/// shape (docs/bridge.md), keeps its tool name and arguments.
#[derive(Clone, Copy)]
enum Slot {
    /// OpenAI Chat: `function.name`, `function.arguments` (JSON text or an object).
    Function,
    /// Responses `function_call` item: `name`, `arguments` (JSON text or an object).
    Arguments,
    /// Anthropic `tool_use` block: `name`, `input`.
    Input,
}

/// The shape of a model's tool call, as the sidecar tells them apart
/// (`meshgate_bridge::ToolCall::detect`); `None` for LiteLLM's shape.
fn model_call_slot(call: &RawObject<'_>) -> Option<Slot> {
    if call.contains_key("function") {
        return Some(Slot::Function);
    }
    let kind = call
        .get("type")
        .and_then(|t| serde_json::from_str::<String>(t.get()).ok());
    match kind.as_deref() {
        Some("function_call") => Some(Slot::Arguments),
        Some("tool_use") => Some(Slot::Input),
        _ => None,
    }
}

/// A model-shaped REST call: its arguments — parsed from their JSON text when they are
/// a string, as the sidecar will read them — are checked like any call's, and a mask
/// is written back in the form they came in. Arguments that do not parse pass here:
/// the sidecar refuses them (400) before any upstream is contacted.
fn check_model_call(
    req: &Request<'_>,
    body: &[u8],
    slot: Slot,
    events: &mut Vec<Event>,
) -> Outcome {
    let Ok(Value::Object(mut call)) = serde_json::from_slice::<Value>(body) else {
        return Outcome::Pass;
    };
    let holder = match slot {
        Slot::Function => match call.get("function") {
            Some(Value::Object(f)) => f,
            _ => return Outcome::Pass,
        },
        Slot::Arguments | Slot::Input => &call,
    };
    let key = match slot {
        Slot::Input => "input",
        Slot::Function | Slot::Arguments => "arguments",
    };
    let tool = holder
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let server = match call.get("server_id").and_then(Value::as_str) {
        Some(id) => id.to_string(),
        None => server_of(req.snapshot, tool),
    };
    let (arguments, as_text) = match holder.get(key) {
        Some(Value::String(text)) if matches!(slot, Slot::Function | Slot::Arguments) => {
            if text.trim().is_empty() {
                return Outcome::Pass;
            }
            match serde_json::from_str::<Value>(text) {
                Ok(tree) => (tree, true),
                Err(_) => return Outcome::Pass,
            }
        }
        Some(other) => (other.clone(), false),
        None => (Value::Null, false),
    };
    match verdict(req, &[], Arguments::Tree(&arguments), &server, events) {
        Checked::Pass => Outcome::Pass,
        Checked::Refused(text) => Outcome::Reply {
            status: 400,
            body: json!({"error": "guardrail_violation", "message": text, "detail": text})
                .to_string(),
        },
        Checked::Masked(value) => {
            let value = if as_text {
                Value::String(value.to_string())
            } else {
                value
            };
            let holder = match slot {
                Slot::Function => call.get_mut("function").and_then(Value::as_object_mut),
                Slot::Arguments | Slot::Input => Some(&mut call),
            };
            match holder {
                Some(holder) => {
                    holder.insert(key.into(), value);
                    Outcome::Rewrite(Value::Object(call).to_string().into_bytes())
                }
                // Cannot happen (read above); refuse rather than forward unmasked.
                None => Outcome::Reply {
                    status: 400,
                    body: json!({"error": "guardrail_violation", "message": "the body could not be masked"})
                        .to_string(),
                },
            }
        }
    }
}

/// The arguments to check: a parsed tree, or their JSON text (scanned without
/// building a tree unless something is found).
#[derive(Clone, Copy)]
enum Arguments<'a> {
    Tree(&'a Value),
    Raw(&'a str),
}

/// A JSON object's members as JSON text, borrowed from the body (the last of
/// duplicate keys wins, as in a `Value`).
type RawObject<'a> = BTreeMap<String, &'a RawValue>;

/// A single message (not a batch), the common case, checked without parsing its
/// arguments into a tree: only its members and `params`' members are split, and the
/// arguments are scanned from their text. `None` when the body is not a JSON object
/// (a batch, or not JSON: the tree path decides).
fn check_single_raw(req: &Request<'_>, body: &[u8], events: &mut Vec<Event>) -> Option<Outcome> {
    if body.iter().find(|c| !c.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    let message: RawObject<'_> = serde_json::from_slice(body).ok()?;
    let text = |raw: &RawValue| serde_json::from_str::<String>(raw.get()).ok();
    if message.get("method").and_then(|m| text(m)).as_deref() != Some("tools/call") {
        return Some(Outcome::Pass);
    }
    // `params` that is not an object has no name, `_meta` or arguments.
    let params: RawObject<'_> = message
        .get("params")
        .and_then(|p| serde_json::from_str(p.get()).ok())
        .unwrap_or_default();
    let tool = params.get("name").and_then(|n| text(n)).unwrap_or_default();
    let server = server_of(req.snapshot, &tool);
    let meta = params
        .get("_meta")
        .and_then(|m| serde_json::from_str::<Value>(m.get()).ok());
    let refused = |text: &str| Outcome::Reply {
        status: 200,
        body: response(raw_id(body).as_deref(), &mcp_error_result(text)),
    };
    let requested = match meta_names(meta.as_ref()) {
        Ok(names) => names,
        Err(text) => return Some(refused(&text)),
    };
    let arguments = params.get("arguments").map_or("null", |a| a.get());
    let before = events.len();
    match verdict(req, &requested, Arguments::Raw(arguments), &server, events) {
        Checked::Pass => Some(Outcome::Pass),
        Checked::Refused(text) => Some(refused(&text)),
        Checked::Masked(value) => {
            let Ok(Value::Object(mut message)) = serde_json::from_slice::<Value>(body) else {
                // Cannot happen (the body parsed as an object above): let the tree
                // path decide, without counting this mask twice.
                events.truncate(before);
                return None;
            };
            if let Some(params) = message.get_mut("params").and_then(Value::as_object_mut) {
                params.insert("arguments".into(), value);
            }
            Some(Outcome::Rewrite(
                Value::Object(message).to_string().into_bytes(),
            ))
        }
    }
}

enum Checked {
    Pass,
    Masked(Value),
    /// Refused with this text (a block, or a guardrail name that does not exist).
    Refused(String),
}

fn verdict(
    req: &Request<'_>,
    requested: &[String],
    arguments: Arguments<'_>,
    server: &str,
    events: &mut Vec<Event>,
) -> Checked {
    let pre = match pre_guardrails(req, requested) {
        Ok(pre) => pre,
        Err(text) => return Checked::Refused(text),
    };
    if pre.is_empty() {
        return Checked::Pass;
    }
    let checked = match arguments {
        Arguments::Tree(value) => check_arguments(&pre, value),
        Arguments::Raw(text) => check_arguments_raw(&pre, text),
    };
    match checked {
        Verdict::Pass => Checked::Pass,
        Verdict::Block(finding) => {
            events.push(event(&finding, "block", server));
            Checked::Refused(mcp_block_text(&blocked_message(
                finding.guardrail,
                finding.entity,
            )))
        }
        Verdict::Mask { value, masked } => {
            events.extend(masked.iter().map(|f| event(f, "mask", server)));
            Checked::Masked(value)
        }
    }
}

/// The built-in guardrails that run before this call: `default_on`, the key's and its
/// team's, the header's and `requested` (from `_meta`). Err: the refusal text for a
/// name that is not configured.
fn pre_guardrails<'s>(
    req: &Request<'s>,
    requested: &[String],
) -> Result<Vec<&'s Guardrail>, String> {
    let requested: Vec<String> = req.header_names.iter().chain(requested).cloned().collect();
    let unknown: Vec<&str> = requested
        .iter()
        .chain(req.attached)
        .filter(|n| !req.snapshot.guardrail_names.contains(n))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "Error: unknown guardrail(s): {} (not in this gateway's `guardrails:` configuration)",
            unknown.join(", ")
        ));
    }
    // Names the sidecar runs (external providers) are not in the filter's set.
    let inline = |names: &[String]| -> Vec<String> {
        names
            .iter()
            .filter(|n| req.set.get(n).is_some())
            .cloned()
            .collect()
    };
    let attached = inline(req.attached);
    match select(req.set, &[&attached], &inline(&requested)) {
        Ok(selected) => Ok(selected.builtin_in_phase(Phase::Pre)),
        Err(
            GuardrailError::UnknownRequested { names } | GuardrailError::UnknownAttached { names },
        ) => Err(format!("Error: unknown guardrail(s): {}", names.join(", "))),
        Err(other) => Err(format!("Error: {other}")),
    }
}

fn event(finding: &JsonFinding<'_>, action: &'static str, server: &str) -> Event {
    Event {
        guardrail: finding.guardrail.to_string(),
        entity: finding.entity.to_string(),
        action,
        server: server.to_string(),
        path: finding.path.clone(),
    }
}

/// `params._meta.guardrails`: an array of names; anything else there is refused.
fn meta_names(meta: Option<&Value>) -> Result<Vec<String>, String> {
    let Some(names) = meta.and_then(|m| m.get("guardrails")) else {
        return Ok(Vec::new());
    };
    names
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .map(|n| n.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| {
            "Error: params._meta.guardrails must be an array of guardrail names".to_string()
        })
}

/// The server a prefixed tool name belongs to (for logs and counters).
fn server_of(snapshot: &PolicySnapshot, tool: &str) -> String {
    snapshot
        .split_name(tool)
        .and_then(|(prefix, _)| snapshot.server_by_any_name(prefix))
        .map_or_else(|| "-".to_string(), |s| s.name.clone())
}

/// The id of a single message exactly as the client wrote it.
fn raw_id(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<std::collections::BTreeMap<String, Box<RawValue>>>(body)
        .ok()?
        .get("id")
        .map(|id| id.get().to_string())
}

fn response(id: Option<&str>, result: &Value) -> String {
    format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{},\"result\":{}}}",
        id.unwrap_or("null"),
        result
    )
}

fn not_run(id: &str) -> String {
    format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"error\":{{\"code\":{NOT_RUN_CODE},\"message\":\"not run: another call of this batch was blocked by a guardrail\"}}}}"
    )
}

#[cfg(test)]
mod contains_tests {
    use super::contains;

    #[test]
    fn finds_the_needle_anywhere_and_only_whole() {
        assert!(contains(b"{\"_meta\":{\"guardrails\":[]}}", b"guardrails"));
        assert!(contains(b"guardrails", b"guardrails"));
        assert!(contains(b"xguardrails", b"guardrails"));
        assert!(!contains(b"guardrail", b"guardrails"));
        assert!(!contains(b"gguardrailx", b"guardrails"));
        assert!(!contains(b"", b"guardrails"));
        assert!(contains(b"abc", b""));
    }
}
