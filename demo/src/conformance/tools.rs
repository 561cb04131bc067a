//! The tools the conformance scenarios call (`tools-*`, `elicitation-*`,
//! `json-schema-2020-12`), plus two that make the fixture emit list/resource change
//! notifications on the GET stream (for testing a gateway's relay of them).

use super::body::sse_event;
use super::call::Call;
use super::content::{PNG_BASE64, WAV_BASE64};
use super::resources::WATCHED_URI;
use super::session::Session;
use super::{Fixture, Outcome, RpcError};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How a `tools/call` is answered.
pub enum Plan {
    /// A plain JSON response.
    Now(Outcome),
    /// An SSE response: messages to the client precede the result.
    Stream(Streamed),
}

pub enum Streamed {
    Logging,
    Progress,
    Sampling { prompt: String },
    Elicitation(Elicit),
}

pub enum Elicit {
    Basic { message: String },
    Defaults,
    Enums,
}

pub const DYNAMIC_TOOL: &str = "test_dynamic_added";

fn no_args() -> Value {
    json!({"type": "object", "properties": {}})
}

fn tool(name: &str, description: &str, input_schema: Value) -> Value {
    json!({"name": name, "description": description, "inputSchema": input_schema})
}

fn string_arg(name: &str, description: &str) -> Value {
    json!({"type": "object", "properties": {name: {"type": "string", "description": description}}, "required": [name]})
}

pub fn list(fx: &Fixture) -> Value {
    let mut tools = vec![
        tool("test_simple_text", "Returns one text block.", no_args()),
        tool("test_image_content", "Returns one PNG image block.", no_args()),
        tool("test_audio_content", "Returns one WAV audio block.", no_args()),
        tool("test_embedded_resource", "Returns one embedded text resource.", no_args()),
        tool(
            "test_multiple_content_types",
            "Returns a text, an image and an embedded JSON resource.",
            no_args(),
        ),
        tool(
            "test_tool_with_logging",
            "Sends three info-level log notifications (50 ms apart) before its result.",
            no_args(),
        ),
        tool(
            "test_tool_with_progress",
            "Reports progress 0, 50 and 100 of 100 (50 ms apart) when the call carries a progress token.",
            no_args(),
        ),
        tool("test_error_handling", "Always fails with a tool error (isError).", no_args()),
        tool(
            "test_sampling",
            "Asks the client for an LLM completion (sampling/createMessage) of `prompt`.",
            string_arg("prompt", "The prompt to send to the LLM"),
        ),
        tool(
            "test_elicitation",
            "Asks the client for a username and an email (elicitation/create) with `message`.",
            string_arg("message", "The message to show the user"),
        ),
        tool(
            "test_elicitation_sep1034_defaults",
            "Elicitation whose schema gives a default for every primitive type (SEP-1034).",
            no_args(),
        ),
        tool(
            "test_elicitation_sep1330_enums",
            "Elicitation whose schema uses all five enum forms (SEP-1330).",
            no_args(),
        ),
        tool(
            "json_schema_2020_12_tool",
            "Takes an input schema with JSON Schema 2020-12 keywords ($schema, $defs, additionalProperties).",
            json!({
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "type": "object",
                "$defs": {"address": {"type": "object", "properties": {"street": {"type": "string"}, "city": {"type": "string"}}}},
                "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
                "additionalProperties": false
            }),
        ),
        tool(
            "test_dynamic_tool",
            "Adds the tool `test_dynamic_added` (or removes it when present) and sends notifications/tools/list_changed on every session's GET stream.",
            no_args(),
        ),
        tool(
            "test_update_watched_resource",
            "Changes test://watched-resource and sends notifications/resources/updated on the GET stream of every session subscribed to it.",
            no_args(),
        ),
    ];
    if fx.dynamic_tool.load(Ordering::Relaxed) {
        tools.push(tool(
            DYNAMIC_TOOL,
            "Exists only after test_dynamic_tool added it.",
            no_args(),
        ));
    }
    json!({"tools": tools})
}

pub fn text(t: impl Into<String>) -> Value {
    json!({"content": [{"type": "text", "text": t.into()}]})
}

pub fn tool_error(t: impl Into<String>) -> Value {
    json!({"content": [{"type": "text", "text": t.into()}], "isError": true})
}

fn required_string(args: &Value, name: &str) -> Result<String, Value> {
    match args.get(name).and_then(Value::as_str) {
        Some(s) => Ok(s.to_string()),
        None => Err(tool_error(format!(
            "missing required string argument `{name}`"
        ))),
    }
}

/// Decides how a `tools/call` is answered; side effects of plain tools happen here.
pub fn plan(fx: &Fixture, session: &Session, params: &Value) -> Plan {
    let name = params.get("name").and_then(Value::as_str).unwrap_or("");
    let args = params.get("arguments").cloned().unwrap_or(json!({}));
    let now = |v: Value| Plan::Now(Ok(v));
    match name {
        "test_simple_text" => now(text("This is a simple text response for testing.")),
        "test_image_content" => now(json!({"content": [
            {"type": "image", "data": PNG_BASE64, "mimeType": "image/png"}
        ]})),
        "test_audio_content" => now(json!({"content": [
            {"type": "audio", "data": WAV_BASE64, "mimeType": "audio/wav"}
        ]})),
        "test_embedded_resource" => now(json!({"content": [{"type": "resource", "resource": {
            "uri": "test://embedded-resource",
            "mimeType": "text/plain",
            "text": "This is an embedded resource content."
        }}]})),
        "test_multiple_content_types" => now(json!({"content": [
            {"type": "text", "text": "Multiple content types test:"},
            {"type": "image", "data": PNG_BASE64, "mimeType": "image/png"},
            {"type": "resource", "resource": {
                "uri": "test://mixed-content-resource",
                "mimeType": "application/json",
                "text": json!({"test": "data", "value": 123}).to_string()
            }}
        ]})),
        "test_error_handling" => now(tool_error(
            "This tool intentionally returns an error for testing",
        )),
        "json_schema_2020_12_tool" => now(text(format!("Received arguments: {args}"))),
        "test_tool_with_logging" => Plan::Stream(Streamed::Logging),
        "test_tool_with_progress" => Plan::Stream(Streamed::Progress),
        "test_sampling" => {
            if !session.client_supports("sampling") {
                return now(tool_error(
                    "The client did not declare the sampling capability",
                ));
            }
            match required_string(&args, "prompt") {
                Ok(prompt) => Plan::Stream(Streamed::Sampling { prompt }),
                Err(e) => now(e),
            }
        }
        "test_elicitation"
        | "test_elicitation_sep1034_defaults"
        | "test_elicitation_sep1330_enums" => {
            if !session.client_supports("elicitation") {
                return now(tool_error(
                    "The client did not declare the elicitation capability",
                ));
            }
            let kind = match name {
                "test_elicitation" => match required_string(&args, "message") {
                    Ok(message) => Elicit::Basic { message },
                    Err(e) => return now(e),
                },
                "test_elicitation_sep1034_defaults" => Elicit::Defaults,
                _ => Elicit::Enums,
            };
            Plan::Stream(Streamed::Elicitation(kind))
        }
        "test_dynamic_tool" => {
            let added = !fx.dynamic_tool.fetch_xor(true, Ordering::Relaxed);
            let event =
                sse_event(&json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}));
            let notified = fx
                .sessions
                .all()
                .iter()
                .filter(|s| s.send_on_get_stream(event.clone()))
                .count();
            now(text(format!(
                "Tool {DYNAMIC_TOOL} {}; list_changed sent on {notified} GET stream(s).",
                if added { "added" } else { "removed" }
            )))
        }
        DYNAMIC_TOOL if fx.dynamic_tool.load(Ordering::Relaxed) => {
            now(text("The dynamically added tool was called."))
        }
        "test_update_watched_resource" => {
            let content = format!(
                "Watched resource content, updated at {} ms",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis())
                    .unwrap_or(0)
            );
            if let Ok(mut w) = fx.watched.lock() {
                *w = content;
            }
            let event = sse_event(
                &json!({"jsonrpc": "2.0", "method": "notifications/resources/updated", "params": {"uri": WATCHED_URI}}),
            );
            let notified = fx
                .sessions
                .all()
                .iter()
                .filter(|s| s.is_subscribed(WATCHED_URI) && s.send_on_get_stream(event.clone()))
                .count();
            now(text(format!(
                "{WATCHED_URI} updated; {notified} subscriber(s) notified."
            )))
        }
        other => Plan::Now(Err(RpcError::invalid_params(format!(
            "Unknown tool: {other}"
        )))),
    }
}

const STEP: Duration = Duration::from_millis(50);

/// Runs a streamed tool; its messages go on `call`'s stream, the result is returned.
pub async fn run(streamed: Streamed, call: &Call) -> Outcome {
    let outcome = match streamed {
        Streamed::Logging => logging(call).await,
        Streamed::Progress => progress(call).await,
        Streamed::Sampling { prompt } => sampling(call, &prompt).await,
        Streamed::Elicitation(kind) => elicitation(call, kind).await,
    };
    Ok(outcome.unwrap_or_else(tool_error))
}

async fn logging(call: &Call) -> Result<Value, String> {
    call.log("info", "Tool execution started").await?;
    tokio::time::sleep(STEP).await;
    call.log("info", "Tool processing data").await?;
    tokio::time::sleep(STEP).await;
    call.log("info", "Tool execution completed").await?;
    Ok(text("Tool with logging executed successfully"))
}

async fn progress(call: &Call) -> Result<Value, String> {
    for (i, p) in [0u64, 50, 100].into_iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(STEP).await;
        }
        call.progress(p, 100, &format!("Completed step {p} of 100"))
            .await?;
    }
    let token = call
        .progress_token
        .as_ref()
        .map(|t| t.to_string())
        .unwrap_or_else(|| "none".into());
    Ok(text(format!(
        "Tool with progress executed successfully (progress token: {token})"
    )))
}

async fn sampling(call: &Call, prompt: &str) -> Result<Value, String> {
    let result = call
        .request(
            "sampling/createMessage",
            json!({
                "messages": [{"role": "user", "content": {"type": "text", "text": prompt}}],
                "maxTokens": 100
            }),
        )
        .await?;
    let answer = result
        .pointer("/content/text")
        .and_then(Value::as_str)
        .unwrap_or("(no text content)");
    Ok(text(format!("LLM response: {answer}")))
}

fn elicitation_schema(kind: &Elicit) -> (String, Value) {
    match kind {
        Elicit::Basic { message } => (
            message.clone(),
            json!({
                "type": "object",
                "properties": {
                    "username": {"type": "string", "description": "User's response"},
                    "email": {"type": "string", "description": "User's email address"}
                },
                "required": ["username", "email"]
            }),
        ),
        Elicit::Defaults => (
            "Please review the form; every field has a default".into(),
            json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "Name", "default": "John Doe"},
                    "age": {"type": "integer", "description": "Age", "default": 30},
                    "score": {"type": "number", "description": "Score", "default": 95.5},
                    "status": {"type": "string", "description": "Status", "enum": ["active", "inactive", "pending"], "default": "active"},
                    "verified": {"type": "boolean", "description": "Verified", "default": true}
                }
            }),
        ),
        Elicit::Enums => (
            "Please choose from each kind of list".into(),
            json!({
                "type": "object",
                "properties": {
                    "untitledSingle": {"type": "string", "description": "Untitled single choice",
                        "enum": ["option1", "option2", "option3"]},
                    "titledSingle": {"type": "string", "description": "Titled single choice",
                        "oneOf": [
                            {"const": "value1", "title": "First Option"},
                            {"const": "value2", "title": "Second Option"},
                            {"const": "value3", "title": "Third Option"}
                        ]},
                    "legacyEnum": {"type": "string", "description": "Titled single choice, legacy form",
                        "enum": ["opt1", "opt2", "opt3"],
                        "enumNames": ["Option One", "Option Two", "Option Three"]},
                    "untitledMulti": {"type": "array", "description": "Untitled multiple choice",
                        "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
                    "titledMulti": {"type": "array", "description": "Titled multiple choice",
                        "items": {"anyOf": [
                            {"const": "value1", "title": "First Choice"},
                            {"const": "value2", "title": "Second Choice"},
                            {"const": "value3", "title": "Third Choice"}
                        ]}}
                }
            }),
        ),
    }
}

async fn elicitation(call: &Call, kind: Elicit) -> Result<Value, String> {
    let (message, schema) = elicitation_schema(&kind);
    let mut params = json!({"message": message, "requestedSchema": schema});
    if call.session.protocol.as_str() >= "2025-11-25" {
        params["mode"] = json!("form");
    }
    let result = call.request("elicitation/create", params).await?;
    let action = result.get("action").and_then(Value::as_str).unwrap_or("?");
    let content = result.get("content").cloned().unwrap_or(json!({}));
    Ok(text(match kind {
        Elicit::Basic { .. } => format!("User response: action={action}, content={content}"),
        _ => format!("Elicitation completed: action={action}, content={content}"),
    }))
}
