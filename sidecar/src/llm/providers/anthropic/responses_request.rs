//! A Responses API request read as a Chat Completions request, so an Anthropic model's
//! Responses requests share the Chat translation (`request.rs`): `instructions` → a
//! system message; `input` messages as they are; `function_call` items join the
//! assistant message before them as `tool_calls`; `function_call_output` → `tool`
//! messages; `reasoning` items are not replayed; function tools get Chat's shape;
//! `previous_response_id` is refused (the gateway keeps no responses yet).

use serde_json::{json, Map, Value};

use crate::llm::error::LlmError;

/// A Responses API request read as a Chat Completions request: `instructions` and
/// `input` items (messages, `function_call`, `function_call_output`) become
/// `messages`, function tools get Chat's shape, `max_output_tokens` is kept.
pub fn responses_as_chat(body: &Value) -> Result<Value, LlmError> {
    if body
        .get("previous_response_id")
        .is_some_and(|v| !v.is_null())
    {
        return Err(LlmError::invalid(
            "`previous_response_id` cannot be used with an Anthropic model (send the whole input)",
        ));
    }
    let mut messages: Vec<Value> = Vec::new();
    if let Some(text) = body.get("instructions").and_then(Value::as_str) {
        messages.push(json!({"role": "system", "content": text}));
    }
    let items = match body.get("input") {
        Some(Value::String(s)) => vec![json!({"role": "user", "content": s})],
        Some(Value::Array(items)) => items.clone(),
        _ => {
            return Err(LlmError::invalid(
                "`input` must be a string or a list of items",
            ))
        }
    };
    for item in &items {
        match item
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("message")
        {
            "message" => messages.push(json!({
                "role": item.get("role").cloned().unwrap_or(json!("user")),
                "content": item.get("content").cloned().unwrap_or(Value::Null),
            })),
            "function_call" => {
                let call = json!({
                    "id": item.get("call_id").cloned().unwrap_or(json!("")),
                    "type": "function",
                    "function": {"name": item.get("name").cloned().unwrap_or(json!("")),
                                 "arguments": item.get("arguments").cloned().unwrap_or(json!("{}"))},
                });
                // Calls of one answer join its assistant message.
                match messages.last_mut() {
                    Some(last) if last["role"] == "assistant" => match last.get_mut("tool_calls") {
                        Some(Value::Array(calls)) => calls.push(call),
                        _ => last["tool_calls"] = json!([call]),
                    },
                    _ => messages.push(json!({"role": "assistant", "content": null,
                                               "tool_calls": [call]})),
                }
            }
            "function_call_output" => messages.push(json!({
                "role": "tool",
                "tool_call_id": item.get("call_id").cloned().unwrap_or(json!("")),
                "content": item.get("output").cloned().unwrap_or(json!("")),
            })),
            // The model's reasoning of an earlier round: not replayed.
            "reasoning" => {}
            other => {
                return Err(LlmError::invalid(format!(
                    "input: a `{other}` item cannot be sent to an Anthropic model"
                )))
            }
        }
    }
    let mut chat = Map::new();
    chat.insert("messages".into(), Value::Array(messages));
    for key in [
        "temperature",
        "top_p",
        "stream",
        "user",
        "max_output_tokens",
        "parallel_tool_calls",
    ] {
        if let Some(v) = body.get(key) {
            chat.insert(key.into(), v.clone());
        }
    }
    if let Some(Value::Array(tools)) = body.get("tools") {
        let mut out = Vec::new();
        for (i, t) in tools.iter().enumerate() {
            if t.get("type").and_then(Value::as_str) != Some("function") {
                return Err(LlmError::invalid(format!(
                    "tools[{i}]: a `{}` tool cannot be sent to an Anthropic model (function tools only)",
                    t.get("type").and_then(Value::as_str).unwrap_or("untyped")
                )));
            }
            out.push(json!({"type": "function", "function": {
                "name": t.get("name").cloned().unwrap_or(Value::Null),
                "description": t.get("description").cloned().unwrap_or(json!("")),
                "parameters": t.get("parameters").cloned().unwrap_or(Value::Null),
            }}));
        }
        chat.insert("tools".into(), Value::Array(out));
    }
    if let Some(choice) = body.get("tool_choice") {
        chat.insert("tool_choice".into(), choice.clone());
    }
    Ok(Value::Object(chat))
}

#[cfg(test)]
mod tests {
    use super::super::request::messages_request;
    use super::*;

    #[test]
    fn a_responses_round_reads_as_chat() {
        let body = json!({"instructions": "hi", "max_output_tokens": 9, "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "q"}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "let me see"}]},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "r"}],
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}]});
        let chat = responses_as_chat(&body).unwrap();
        let m = messages_request(&chat, "c").unwrap();
        assert_eq!(m["max_tokens"], 9);
        assert_eq!(m["system"], "hi");
        let turns = m["messages"].as_array().unwrap();
        assert_eq!(turns[1]["content"][0]["text"], "let me see");
        assert_eq!(turns[1]["content"][1]["type"], "tool_use");
        assert_eq!(turns[2]["content"][0]["content"], "r");
        assert!(responses_as_chat(&json!({"input": "x", "previous_response_id": "r"})).is_err());
    }
}
