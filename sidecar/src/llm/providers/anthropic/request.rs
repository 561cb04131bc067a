//! Requests translated for the Messages API: an OpenAI Chat Completions request becomes
//! a `POST /v1/messages` body ([`messages_request`]); a Responses request is first read
//! as a Chat request (`providers::responses_as_chat`) so both APIs share one translation.
//!
//! - `system`/`developer` messages → the top-level `system` text;
//! - user text and images (data URLs as base64, others as URL sources) → content blocks;
//! - assistant `tool_calls` → `tool_use` blocks (arguments parsed by
//!   `meshgate_bridge::parse_arguments`); `tool` messages → `tool_result` blocks of the
//!   next user turn (consecutive turns of one role are merged, as Anthropic wants);
//! - function tools → `{name, description, input_schema}` with the bridge's Anthropic
//!   schema rule; `tool_choice` auto/required/none/a function → auto/any/none/tool;
//! - `max_tokens` / `max_completion_tokens` / `max_output_tokens` (else
//!   [`DEFAULT_MAX_TOKENS`]), `temperature`, `top_p`, `stop` → `stop_sequences`,
//!   `user` → `metadata.user_id`, `stream`.

use serde_json::{json, Map, Value};

use crate::llm::error::LlmError;

/// `max_tokens` when the request names none (Anthropic requires one).
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// The Messages body for an OpenAI Chat Completions `body`, for provider model `model`.
pub fn messages_request(body: &Value, model: &str) -> Result<Value, LlmError> {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| LlmError::invalid("`messages` must be a list"))?;
    let mut system: Vec<String> = Vec::new();
    let mut turns: Vec<Value> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        let blocks = match role {
            "system" | "developer" => {
                system.push(text_of(m.get("content")));
                continue;
            }
            "user" => user_blocks(m.get("content"), i)?,
            "assistant" => assistant_blocks(m, i)?,
            "tool" | "function" => vec![json!({
                "type": "tool_result",
                "tool_use_id": m.get("tool_call_id").and_then(Value::as_str).unwrap_or(""),
                "content": text_of(m.get("content")),
            })],
            other => {
                return Err(LlmError::invalid(format!(
                    "messages[{i}].role: `{other}` cannot be sent to an Anthropic model"
                )))
            }
        };
        let role = if role == "assistant" {
            "assistant"
        } else {
            "user"
        };
        push_turn(&mut turns, role, blocks);
    }
    let mut out = Map::new();
    out.insert("model".into(), json!(model));
    out.insert("messages".into(), Value::Array(turns));
    out.insert("max_tokens".into(), json!(max_tokens(body)?));
    let system: Vec<String> = system.into_iter().filter(|s| !s.is_empty()).collect();
    if !system.is_empty() {
        out.insert("system".into(), json!(system.join("\n\n")));
    }
    for key in ["temperature", "top_p", "top_k", "stream"] {
        if let Some(v) = body.get(key).filter(|v| !v.is_null()) {
            out.insert(key.into(), v.clone());
        }
    }
    match body.get("stop") {
        Some(Value::String(s)) => {
            out.insert("stop_sequences".into(), json!([s]));
        }
        Some(Value::Array(a)) if !a.is_empty() => {
            out.insert("stop_sequences".into(), Value::Array(a.clone()));
        }
        _ => {}
    }
    if let Some(user) = body.get("user").and_then(Value::as_str) {
        out.insert("metadata".into(), json!({"user_id": user}));
    }
    let tools = tools(body.get("tools"))?;
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = tool_choice(body)? {
            out.insert("tool_choice".into(), choice);
        }
    }
    Ok(Value::Object(out))
}

fn max_tokens(body: &Value) -> Result<u64, LlmError> {
    for key in ["max_completion_tokens", "max_tokens", "max_output_tokens"] {
        match body.get(key) {
            None | Some(Value::Null) => {}
            Some(v) => {
                return v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                    LlmError::invalid(format!("`{key}` must be a positive whole number"))
                })
            }
        }
    }
    Ok(DEFAULT_MAX_TOKENS)
}

/// Appends `blocks` as a turn of `role`, merged into the last turn when it has the same
/// role (tool results of one round go back in one user turn).
fn push_turn(turns: &mut Vec<Value>, role: &str, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    if let Some(last) = turns.last_mut() {
        if last.get("role").and_then(Value::as_str) == Some(role) {
            if let Some(Value::Array(content)) = last.get_mut("content") {
                content.extend(blocks);
                return;
            }
        }
    }
    turns.push(json!({"role": role, "content": blocks}));
}

/// A message's text: a string, or its text parts joined.
fn text_of(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn user_blocks(content: Option<&Value>, i: usize) -> Result<Vec<Value>, LlmError> {
    let parts = match content {
        Some(Value::String(s)) => return Ok(vec![json!({"type": "text", "text": s})]),
        Some(Value::Array(parts)) => parts,
        _ => return Ok(Vec::new()),
    };
    let mut out = Vec::new();
    for p in parts {
        match p.get("type").and_then(Value::as_str) {
            Some("text" | "input_text") => {
                let text = p.get("text").and_then(Value::as_str).unwrap_or("");
                if !text.is_empty() {
                    out.push(json!({"type": "text", "text": text}));
                }
            }
            Some("image_url" | "input_image") => {
                let url = p
                    .pointer("/image_url/url")
                    .or_else(|| p.get("image_url"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                out.push(image_block(url));
            }
            other => {
                return Err(LlmError::invalid(format!(
                    "messages[{i}].content: a `{}` part cannot be sent to an Anthropic model",
                    other.unwrap_or("untyped")
                )))
            }
        }
    }
    Ok(out)
}

/// An image part: a `data:` URL as a base64 source, any other URL as a URL source.
fn image_block(url: &str) -> Value {
    if let Some(rest) = url.strip_prefix("data:") {
        if let Some((media, data)) = rest.split_once(";base64,") {
            return json!({"type": "image", "source": {
                "type": "base64", "media_type": media, "data": data}});
        }
    }
    json!({"type": "image", "source": {"type": "url", "url": url}})
}

fn assistant_blocks(m: &Value, i: usize) -> Result<Vec<Value>, LlmError> {
    let mut out = Vec::new();
    let text = text_of(m.get("content"));
    if !text.is_empty() {
        out.push(json!({"type": "text", "text": text}));
    }
    for (k, call) in m
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let name = call
            .pointer("/function/name")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                LlmError::invalid(format!(
                    "messages[{i}].tool_calls[{k}] has no function name"
                ))
            })?;
        let raw = call
            .pointer("/function/arguments")
            .cloned()
            .unwrap_or(Value::Null);
        let input = meshgate_bridge::parse_arguments(name, &raw)
            .map_err(|e| LlmError::invalid(format!("messages[{i}].tool_calls[{k}]: {e}")))?;
        out.push(json!({
            "type": "tool_use",
            "id": call.get("id").and_then(Value::as_str).unwrap_or(""),
            "name": name,
            "input": input,
        }));
    }
    Ok(out)
}

/// Chat function tools as Messages tools.
fn tools(tools: Option<&Value>) -> Result<Vec<Value>, LlmError> {
    let mut out = Vec::new();
    for (i, t) in tools
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let f = match (t.get("type").and_then(Value::as_str), t.get("function")) {
            (Some("function") | None, Some(f)) => f,
            (kind, _) => {
                return Err(LlmError::invalid(format!(
                    "tools[{i}]: a `{}` tool cannot be sent to an Anthropic model (function tools only)",
                    kind.unwrap_or("untyped")
                )))
            }
        };
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| LlmError::invalid(format!("tools[{i}].function.name is required")))?;
        let mut tool = json!({
            "name": name,
            "input_schema": meshgate_bridge::normalize_anthropic_schema(f.get("parameters")),
        });
        if let Some(d) = f.get("description").and_then(Value::as_str) {
            if !d.is_empty() {
                tool["description"] = json!(d);
            }
        }
        out.push(tool);
    }
    Ok(out)
}

fn tool_choice(body: &Value) -> Result<Option<Value>, LlmError> {
    let mut choice = match body.get("tool_choice") {
        None | Some(Value::Null) => {
            if body.get("parallel_tool_calls") == Some(&Value::Bool(false)) {
                json!({"type": "auto"})
            } else {
                return Ok(None);
            }
        }
        Some(Value::String(s)) => match s.as_str() {
            "auto" => json!({"type": "auto"}),
            "required" => json!({"type": "any"}),
            "none" => json!({"type": "none"}),
            other => {
                return Err(LlmError::invalid(format!(
                    "`tool_choice`: `{other}` is not auto, required or none"
                )))
            }
        },
        Some(v) => {
            let name = v
                .pointer("/function/name")
                .or_else(|| v.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| LlmError::invalid("`tool_choice` names no function"))?;
            json!({"type": "tool", "name": name})
        }
    };
    if body.get("parallel_tool_calls") == Some(&Value::Bool(false)) && choice["type"] != "none" {
        choice["disable_parallel_tool_use"] = Value::Bool(true);
    }
    Ok(Some(choice))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_round_becomes_tool_use_then_one_user_turn_of_results() {
        let chat = json!({
            "model": "x", "max_tokens": 50, "stop": "END", "temperature": 0.2,
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "add"},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "t1", "type": "function", "function": {"name": "demo-add", "arguments": "{\"a\": 2, \"b\": 3}"}},
                    {"id": "t2", "type": "function", "function": {"name": "demo-echo", "arguments": ""}}]},
                {"role": "tool", "tool_call_id": "t1", "content": "5"},
                {"role": "tool", "tool_call_id": "t2", "content": "x"}],
            "tools": [{"type": "function", "function": {"name": "demo-add", "description": "Adds.",
                "parameters": {"properties": {"a": {"type": "number"}}}}}],
            "tool_choice": "required",
        });
        let m = messages_request(&chat, "claude-x").unwrap();
        assert_eq!(m["system"], "be brief");
        assert_eq!(m["max_tokens"], 50);
        assert_eq!(m["stop_sequences"], json!(["END"]));
        assert_eq!(m["tool_choice"], json!({"type": "any"}));
        assert_eq!(m["tools"][0]["input_schema"]["type"], "object");
        let turns = m["messages"].as_array().unwrap();
        assert_eq!(turns.len(), 3, "{m}");
        assert_eq!(turns[1]["content"][0]["input"], json!({"a": 2, "b": 3}));
        assert_eq!(turns[1]["content"][1]["input"], json!({}));
        assert_eq!(turns[2]["role"], "user");
        assert_eq!(turns[2]["content"][1]["tool_use_id"], "t2");
        assert_eq!(
            messages_request(&json!({"messages": []}), "c").unwrap()["max_tokens"],
            DEFAULT_MAX_TOKENS
        );
    }
}
