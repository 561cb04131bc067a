//! A Responses API request read as a Chat Completions request, for every model that
//! has no Responses API of its own: chat-only OpenAI-compatible providers
//! (`chat_only.rs`) and Anthropic (its Chat translation, `anthropic/request.rs`, then
//! serves both APIs).
//!
//! - `instructions` → a system message; `input` (a string: one user message) item by
//!   item: messages keep their role, their parts in Chat's shape (`input_text` /
//!   `output_text` / `refusal` → `text`, `input_image` → `image_url`);
//!   `function_call` items join the assistant message before them as `tool_calls`;
//!   `function_call_output` → `tool` messages; an `mcp_call` item (an earlier answer's,
//!   sent back) → an assistant tool call and its result; `reasoning` and
//!   `mcp_list_tools` items are not replayed; any other item is a 400 naming it.
//! - Function tools get Chat's shape; other tools are a 400 (the model could not run
//!   them). `tool_choice` → Chat's; `text.format` → `response_format`;
//!   `reasoning.effort` → `reasoning_effort`; `max_output_tokens` → `max_tokens`;
//!   `temperature`, `top_p`, `user`, `parallel_tool_calls`, `stream` kept. The
//!   Responses-only rest (`store`, `include`, `metadata`, `truncation`,
//!   `previous_response_id` — the gateway expands its own before) is not sent.

use serde_json::{json, Map, Value};

use crate::llm::error::LlmError;

/// A Responses `body` as a Chat Completions request; `target` names the kind of
/// model in messages (`an Anthropic model`).
pub fn responses_as_chat(body: &Value, target: &str) -> Result<Value, LlmError> {
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
    for (i, item) in items.iter().enumerate() {
        match item
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("message")
        {
            "message" => messages.push(json!({
                "role": item.get("role").cloned().unwrap_or(json!("user")),
                "content": chat_content(item.get("content"), i)?,
            })),
            "function_call" => push_call(
                &mut messages,
                item.get("call_id"),
                item.get("name"),
                item.get("arguments"),
            ),
            "function_call_output" => messages.push(json!({
                "role": "tool",
                "tool_call_id": item.get("call_id").cloned().unwrap_or(json!("")),
                "content": output_text(item.get("output")),
            })),
            "mcp_call" => {
                let id = item.get("id").cloned().unwrap_or(json!(""));
                push_call(
                    &mut messages,
                    Some(&id),
                    item.get("name"),
                    item.get("arguments"),
                );
                let result = match item.get("error") {
                    Some(Value::String(e)) => e.clone(),
                    _ => output_text(item.get("output")),
                };
                messages.push(json!({"role": "tool", "tool_call_id": id, "content": result}));
            }
            // The model's reasoning and the gateway's tool listing: not replayed.
            "reasoning" | "mcp_list_tools" => {}
            other => {
                return Err(LlmError::invalid(format!(
                    "input[{i}]: a `{other}` item cannot be sent to {target}"
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
        "parallel_tool_calls",
    ] {
        if let Some(v) = body.get(key).filter(|v| !v.is_null()) {
            chat.insert(key.into(), v.clone());
        }
    }
    if let Some(v) = body.get("max_output_tokens").filter(|v| !v.is_null()) {
        chat.insert("max_tokens".into(), v.clone());
    }
    if let Some(effort) = body.pointer("/reasoning/effort").filter(|v| !v.is_null()) {
        chat.insert("reasoning_effort".into(), effort.clone());
    }
    if let Some(format) = body.pointer("/text/format").and_then(response_format) {
        chat.insert("response_format".into(), format);
    }
    if let Some(Value::Array(tools)) = body.get("tools") {
        let mut out = Vec::new();
        for (i, t) in tools.iter().enumerate() {
            if t.get("type").and_then(Value::as_str) != Some("function") {
                return Err(LlmError::invalid(format!(
                    "tools[{i}]: a `{}` tool cannot be sent to {target} (function tools only)",
                    t.get("type").and_then(Value::as_str).unwrap_or("untyped")
                )));
            }
            let mut function = json!({
                "name": t.get("name").cloned().unwrap_or(Value::Null),
                "description": t.get("description").cloned().unwrap_or(json!("")),
                "parameters": t.get("parameters").cloned().unwrap_or(Value::Null),
            });
            if let Some(strict) = t.get("strict").filter(|v| v.is_boolean()) {
                function["strict"] = strict.clone();
            }
            out.push(json!({"type": "function", "function": function}));
        }
        chat.insert("tools".into(), Value::Array(out));
    }
    match body.get("tool_choice") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            chat.insert("tool_choice".into(), json!(s));
        }
        Some(v) => {
            let name = v
                .get("name")
                .or_else(|| v.pointer("/function/name"))
                .cloned()
                .ok_or_else(|| LlmError::invalid("`tool_choice` names no function"))?;
            chat.insert(
                "tool_choice".into(),
                json!({"type": "function", "function": {"name": name}}),
            );
        }
    }
    Ok(Value::Object(chat))
}

/// A tool call joins the assistant message before it (calls of one answer), else
/// starts one.
fn push_call(
    messages: &mut Vec<Value>,
    id: Option<&Value>,
    name: Option<&Value>,
    arguments: Option<&Value>,
) {
    let call = json!({
        "id": id.cloned().unwrap_or(json!("")),
        "type": "function",
        "function": {"name": name.cloned().unwrap_or(json!("")),
                     "arguments": arguments.cloned().unwrap_or(json!("{}"))},
    });
    match messages.last_mut() {
        Some(last) if last["role"] == "assistant" => match last.get_mut("tool_calls") {
            Some(Value::Array(calls)) => calls.push(call),
            _ => last["tool_calls"] = json!([call]),
        },
        _ => messages.push(json!({"role": "assistant", "content": null, "tool_calls": [call]})),
    }
}

/// A message's content in Chat's shape: a string as it is, parts converted.
fn chat_content(content: Option<&Value>, i: usize) -> Result<Value, LlmError> {
    let parts = match content {
        None | Some(Value::Null) => return Ok(json!("")),
        Some(Value::String(s)) => return Ok(json!(s)),
        Some(Value::Array(parts)) => parts,
        Some(_) => {
            return Err(LlmError::invalid(format!(
                "input[{i}].content must be a string or a list of parts"
            )))
        }
    };
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        match p.get("type").and_then(Value::as_str) {
            Some("input_text" | "output_text" | "text") => {
                out.push(
                    json!({"type": "text", "text": p.get("text").cloned().unwrap_or(json!(""))}),
                );
            }
            Some("refusal") => {
                out.push(
                    json!({"type": "text", "text": p.get("refusal").cloned().unwrap_or(json!(""))}),
                );
            }
            Some("input_image" | "image_url") => {
                let url = p
                    .get("image_url")
                    .and_then(|u| u.as_str().map(str::to_string).or_else(|| {
                        u.get("url").and_then(Value::as_str).map(str::to_string)
                    }))
                    .ok_or_else(|| {
                        LlmError::invalid(format!(
                            "input[{i}]: an image part without `image_url` (file ids are not supported)"
                        ))
                    })?;
                let mut image = json!({"url": url});
                if let Some(detail) = p.get("detail").filter(|d| d.is_string()) {
                    image["detail"] = detail.clone();
                }
                out.push(json!({"type": "image_url", "image_url": image}));
            }
            other => {
                return Err(LlmError::invalid(format!(
                    "input[{i}]: a `{}` content part is not supported here",
                    other.unwrap_or("untyped")
                )))
            }
        }
    }
    Ok(Value::Array(out))
}

/// A tool output as text: a string as it is, text parts joined, anything else as JSON.
fn output_text(output: Option<&Value>) -> String {
    match output {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        Some(other) => other.to_string(),
    }
}

/// Responses' `text.format` as Chat's `response_format`.
fn response_format(format: &Value) -> Option<Value> {
    match format.get("type").and_then(Value::as_str)? {
        "json_schema" => {
            let mut schema = Map::new();
            for key in ["name", "schema", "strict", "description"] {
                if let Some(v) = format.get(key) {
                    schema.insert(key.into(), v.clone());
                }
            }
            Some(json!({"type": "json_schema", "json_schema": schema}))
        }
        "json_object" => Some(json!({"type": "json_object"})),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::anthropic::request::messages_request;
    use super::*;

    #[test]
    fn a_responses_round_reads_as_chat() {
        let body = json!({"instructions": "hi", "max_output_tokens": 9, "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "q"}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "let me see"}]},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "r"}],
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}]});
        let chat = responses_as_chat(&body, "an Anthropic model").unwrap();
        let m = messages_request(&chat, "c").unwrap();
        assert_eq!(m["max_tokens"], 9);
        assert_eq!(m["system"], "hi");
        let turns = m["messages"].as_array().unwrap();
        assert_eq!(turns[1]["content"][0]["text"], "let me see");
        assert_eq!(turns[1]["content"][1]["type"], "tool_use");
        assert_eq!(turns[2]["content"][0]["content"], "r");
    }

    #[test]
    fn parts_tools_choices_and_formats_take_chats_shape() {
        let body = json!({"input": [
            {"role": "user", "content": [{"type": "input_text", "text": "see"},
                {"type": "input_image", "image_url": "data:image/png;base64,AA", "detail": "low"}]},
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "mcp_list_tools", "id": "mcpl_1", "server_label": "gw", "tools": []},
            {"type": "mcp_call", "id": "mcp_1", "name": "demo-add", "arguments": "{}", "output": "5"},
            {"type": "mcp_call", "id": "mcp_2", "name": "demo-fail", "arguments": "{}", "error": "boom"}],
            "tools": [{"type": "function", "name": "f", "parameters": {}, "strict": true}],
            "tool_choice": {"type": "function", "name": "f"},
            "text": {"format": {"type": "json_schema", "name": "n", "schema": {"type": "object"}}},
            "reasoning": {"effort": "low"}, "store": true, "previous_response_id": null});
        let chat = responses_as_chat(&body, "a chat-completions model").unwrap();
        let m = chat["messages"].as_array().unwrap();
        assert_eq!(
            m[0]["content"][1]["image_url"]["url"],
            "data:image/png;base64,AA"
        );
        assert_eq!(m[1]["tool_calls"].as_array().unwrap().len(), 1);
        assert_eq!(
            m[2],
            json!({"role": "tool", "tool_call_id": "mcp_1", "content": "5"})
        );
        assert_eq!(m[3]["tool_calls"][0]["function"]["name"], "demo-fail");
        assert_eq!(m[4]["content"], "boom");
        assert_eq!(m.len(), 5, "reasoning and mcp_list_tools are not replayed");
        assert_eq!(chat["tool_choice"]["function"]["name"], "f");
        assert_eq!(chat["tools"][0]["function"]["strict"], true);
        assert_eq!(chat["response_format"]["json_schema"]["name"], "n");
        assert_eq!(chat["reasoning_effort"], "low");
        assert!(chat.get("store").is_none() && chat.get("previous_response_id").is_none());
        let hosted = json!({"input": "x", "tools": [{"type": "web_search"}]});
        let e = responses_as_chat(&hosted, "a chat-completions model").unwrap_err();
        assert!(e.message.contains("tools[0]"), "{}", e.message);
        let odd = json!({"input": [{"type": "item_reference", "id": "x"}]});
        let e = responses_as_chat(&odd, "a chat-completions model").unwrap_err();
        assert!(e.message.contains("input[0]") && e.message.contains("item_reference"));
    }
}
