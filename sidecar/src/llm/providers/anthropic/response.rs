//! Messages answers in OpenAI's shapes: a `chat.completion` ([`to_chat`]) or a
//! Responses `response` ([`to_responses`]), and Anthropic's error body as an
//! OpenAI-shaped error ([`status_error`]).
//!
//! - `text` blocks → the message's content (Responses: an `output_text` part);
//! - `tool_use` blocks → `tool_calls` (Responses: `function_call` items), `input` as
//!   JSON text;
//! - `stop_reason` → `finish_reason`: `end_turn`/`stop_sequence`/`pause_turn` → `stop`,
//!   `max_tokens` → `length`, `tool_use` → `tool_calls`, `refusal` → `content_filter`;
//! - `usage`: `prompt_tokens` = input + cache read + cache creation tokens (cache reads
//!   also as `prompt_tokens_details.cached_tokens`), `completion_tokens` = output.

use http::StatusCode;
use serde_json::{json, Value};

use crate::llm::error::LlmError;
use crate::llm::stream::now_secs;
use crate::llm::usage;

/// OpenAI's `finish_reason` for Anthropic's `stop_reason`.
pub fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        _ => "stop",
    }
}

/// Chat Completions' `usage` for Anthropic's.
pub fn chat_usage(u: &Value) -> Value {
    let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
    let cached = n("cache_read_input_tokens");
    let prompt = n("input_tokens") + cached + n("cache_creation_input_tokens");
    let completion = n("output_tokens");
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    })
}

/// The text and the tool calls (Chat shape) of an answer's content blocks.
fn content_of(resp: &Value) -> (String, Vec<Value>) {
    let mut text = String::new();
    let mut calls = Vec::new();
    for block in resp
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("tool_use") => calls.push(json!({
                "id": block.get("id").cloned().unwrap_or(json!("")),
                "type": "function",
                "function": {
                    "name": block.get("name").cloned().unwrap_or(json!("")),
                    "arguments": block.get("input").map_or_else(|| "{}".to_string(), Value::to_string),
                },
            })),
            _ => {}
        }
    }
    (text, calls)
}

/// A Messages answer as a `chat.completion`.
pub fn to_chat(resp: &Value) -> Value {
    let (text, calls) = content_of(resp);
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) },
    });
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    json!({
        "id": resp.get("id").cloned().unwrap_or(json!("")),
        "object": "chat.completion",
        "created": now_secs(),
        "model": resp.get("model").cloned().unwrap_or(Value::Null),
        "choices": [{
            "index": 0,
            "message": message,
            "finish_reason": finish_reason(resp.get("stop_reason").and_then(Value::as_str)),
        }],
        "usage": chat_usage(resp.get("usage").unwrap_or(&Value::Null)),
    })
}

/// A Messages answer as a Responses API `response` (output items in the blocks' order).
pub fn to_responses(resp: &Value) -> Value {
    let id = resp.get("id").and_then(Value::as_str).unwrap_or("");
    let mut output = Vec::new();
    for block in resp
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => output.push(json!({
                "type": "message",
                "id": usage::new_id("msg_"),
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": block.get("text").cloned().unwrap_or(json!("")),
                             "annotations": []}],
            })),
            Some("tool_use") => output.push(json!({
                "type": "function_call",
                "id": format!("fc_{}", block.get("id").and_then(Value::as_str).unwrap_or("")),
                "call_id": block.get("id").cloned().unwrap_or(json!("")),
                "name": block.get("name").cloned().unwrap_or(json!("")),
                "arguments": block.get("input").map_or_else(|| "{}".to_string(), Value::to_string),
                "status": "completed",
            })),
            _ => {}
        }
    }
    let u = chat_usage(resp.get("usage").unwrap_or(&Value::Null));
    let truncated = resp.get("stop_reason").and_then(Value::as_str) == Some("max_tokens");
    json!({
        "id": format!("resp_{id}"),
        "object": "response",
        "created_at": now_secs(),
        "status": if truncated { "incomplete" } else { "completed" },
        "incomplete_details": if truncated { json!({"reason": "max_output_tokens"}) } else { Value::Null },
        "error": null,
        "model": resp.get("model").cloned().unwrap_or(Value::Null),
        "output": output,
        "parallel_tool_calls": true,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": u["prompt_tokens"],
            "output_tokens": u["completion_tokens"],
            "total_tokens": u["total_tokens"],
            "input_tokens_details": {"cached_tokens": u["prompt_tokens_details"]["cached_tokens"]},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    })
}

/// Anthropic's error (`{"type": "error", "error": {"type", "message"}}`) as an
/// OpenAI-shaped one with the provider's status (529 `overloaded_error` → 503), worded
/// as LiteLLM does (`AnthropicException - <message>`); `key` never appears in it.
pub fn status_error(status: StatusCode, bytes: &[u8], key: Option<&str>) -> LlmError {
    let parsed = serde_json::from_slice::<Value>(bytes).ok();
    let kind = parsed
        .as_ref()
        .and_then(|v| v.pointer("/error/type"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let message = parsed
        .as_ref()
        .and_then(|v| v.pointer("/error/message"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(bytes).chars().take(500).collect());
    error_of(status.as_u16(), kind, &message, key)
}

/// The error an `error` event of Anthropic's stream reports (`{"error": {"type",
/// "message"}}`), as the OpenAI-shaped error both stream translations send.
pub fn stream_error(ev: &Value) -> LlmError {
    let kind = ev
        .pointer("/error/type")
        .and_then(Value::as_str)
        .unwrap_or("");
    let message = ev
        .pointer("/error/message")
        .and_then(Value::as_str)
        .unwrap_or("the provider's stream reported an error");
    error_of(0, kind, message, None)
}

/// An Anthropic error type and message as an `LlmError` (also for a stream's `error`
/// event, where `status` is 0: the status follows the type).
pub fn error_of(status: u16, kind: &str, message: &str, key: Option<&str>) -> LlmError {
    let (fallback, openai_kind) = match kind {
        "invalid_request_error" => (400, "invalid_request_error"),
        "authentication_error" => (401, "authentication_error"),
        "permission_error" => (403, "permission_error"),
        "not_found_error" => (404, "not_found_error"),
        "request_too_large" => (413, "invalid_request_error"),
        "rate_limit_error" => (429, "rate_limit_error"),
        "overloaded_error" => (503, "overloaded_error"),
        "timeout_error" => (504, "timeout"),
        _ => (502, "api_error"),
    };
    let status = match status {
        0 => fallback,
        // Anthropic's "overloaded" status; OpenAI's clients know 503.
        529 => 503,
        s => s,
    };
    let mut message = message.to_string();
    if let Some(k) = key.filter(|k| !k.is_empty()) {
        message = message.replace(k, "<redacted>");
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let kind = if status == StatusCode::BAD_REQUEST {
        "invalid_request_error"
    } else {
        openai_kind
    };
    LlmError::new(status, kind, format!("AnthropicException - {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_use_and_usage_map_to_chat_and_responses() {
        let resp = json!({"id": "msg_1", "type": "message", "model": "claude-x",
            "content": [{"type": "text", "text": "Let me add."},
                        {"type": "tool_use", "id": "tu_1", "name": "demo-add", "input": {"a": 2}}],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 10, "output_tokens": 4, "cache_read_input_tokens": 2}});
        let chat = to_chat(&resp);
        assert_eq!(chat["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(chat["choices"][0]["message"]["content"], "Let me add.");
        let call = &chat["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(call["function"]["arguments"], "{\"a\":2}");
        assert_eq!(chat["usage"]["prompt_tokens"], 12);
        assert_eq!(chat["usage"]["total_tokens"], 16);
        let r = to_responses(&resp);
        assert_eq!(r["output"][0]["type"], "message");
        assert_eq!(r["output"][1]["call_id"], "tu_1");
        assert_eq!(r["usage"]["input_tokens"], 12);
    }

    #[test]
    fn errors_keep_the_status_and_never_the_key() {
        let body =
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        let e = status_error(StatusCode::from_u16(529).unwrap(), body, Some("sk-1"));
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.kind, "overloaded_error");
        let body =
            br#"{"type":"error","error":{"type":"authentication_error","message":"bad key sk-1"}}"#;
        let e = status_error(StatusCode::UNAUTHORIZED, body, Some("sk-1"));
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        assert!(!e.message.contains("sk-1"), "{}", e.message);
    }
}
