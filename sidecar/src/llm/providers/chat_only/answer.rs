//! A `chat.completion` as a Responses API `response`: the message's text → a `message`
//! item (`output_text`), `reasoning_content` (vLLM, DeepSeek…) → a `reasoning` item
//! before it, `tool_calls` → `function_call` items; `finish_reason: length` →
//! `status: incomplete` (`max_output_tokens`); `usage` in Responses' names.

use serde_json::{json, Value};

use crate::llm::stream::now_secs;
use crate::llm::usage;

/// Responses' `usage` for Chat's.
pub fn responses_usage(u: Option<&Value>) -> Value {
    let n = |k: &str| {
        u.and_then(|u| u.get(k))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    let cached = u
        .and_then(|u| u.pointer("/prompt_tokens_details/cached_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let reasoning = u
        .and_then(|u| u.pointer("/completion_tokens_details/reasoning_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let (input, output) = (n("prompt_tokens"), n("completion_tokens"));
    json!({
        "input_tokens": input,
        "output_tokens": output,
        "total_tokens": if n("total_tokens") > 0 { n("total_tokens") } else { input + output },
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens_details": {"reasoning_tokens": reasoning},
    })
}

/// A `reasoning` item with the model's reasoning text as its summary.
pub fn reasoning_item(id: &str, text: &str) -> Value {
    json!({"type": "reasoning", "id": id,
           "summary": [{"type": "summary_text", "text": text}]})
}

/// A finished `message` item.
pub fn message_item(id: &str, text: &str) -> Value {
    json!({
        "type": "message", "id": id, "role": "assistant", "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    })
}

/// A finished `function_call` item.
pub fn call_item(call_id: &str, name: &str, arguments: &str) -> Value {
    json!({
        "type": "function_call", "id": format!("fc_{call_id}"), "call_id": call_id,
        "name": name, "arguments": if arguments.is_empty() { "{}" } else { arguments },
        "status": "completed",
    })
}

/// The `response` object around `output`.
pub fn response(id: &str, model: &Value, status: &str, output: Vec<Value>, usage: Value) -> Value {
    json!({
        "id": id,
        "object": "response",
        "created_at": now_secs(),
        "status": status,
        "incomplete_details": if status == "incomplete" {
            json!({"reason": "max_output_tokens"}) } else { Value::Null },
        "error": null,
        "model": model,
        "output": output,
        "parallel_tool_calls": true,
        "tool_choice": "auto",
        "tools": [],
        "usage": usage,
    })
}

/// A `chat.completion` (its first choice) as a `response`.
pub fn to_responses(chat: &Value) -> Value {
    let message = chat.pointer("/choices/0/message").unwrap_or(&Value::Null);
    let text = |k: &str| message.get(k).and_then(Value::as_str).unwrap_or("");
    let mut output = Vec::new();
    let reasoning = if text("reasoning_content").is_empty() {
        text("reasoning")
    } else {
        text("reasoning_content")
    };
    if !reasoning.is_empty() {
        output.push(reasoning_item(&usage::new_id("rs_"), reasoning));
    }
    let content = match message.get("content") {
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => text("content").to_string(),
    };
    if !content.is_empty() || !text("refusal").is_empty() {
        let shown = if content.is_empty() {
            text("refusal")
        } else {
            content.as_str()
        };
        output.push(message_item(&usage::new_id("msg_"), shown));
    }
    for call in message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let s = |p: &str| call.pointer(p).and_then(Value::as_str).unwrap_or("");
        let call_id = if s("/id").is_empty() {
            usage::new_id("call_")
        } else {
            s("/id").to_string()
        };
        output.push(call_item(
            &call_id,
            s("/function/name"),
            s("/function/arguments"),
        ));
    }
    let finish = chat
        .pointer("/choices/0/finish_reason")
        .and_then(Value::as_str);
    let status = if finish == Some("length") {
        "incomplete"
    } else {
        "completed"
    };
    response(
        &usage::new_id("resp_"),
        chat.get("model").unwrap_or(&Value::Null),
        status,
        output,
        responses_usage(chat.get("usage")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_answer_becomes_a_response() {
        let chat = json!({"id": "chatcmpl-1", "model": "q", "choices": [{"index": 0,
            "message": {"role": "assistant", "content": "Let me add.", "reasoning_content": "think",
                "tool_calls": [{"id": "c1", "type": "function",
                    "function": {"name": "demo-add", "arguments": "{\"a\":2}"}}]},
            "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14}});
        let r = to_responses(&chat);
        let kinds: Vec<&str> = r["output"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["reasoning", "message", "function_call"]);
        assert_eq!(r["output"][1]["content"][0]["text"], "Let me add.");
        assert_eq!(r["output"][2]["call_id"], "c1");
        assert_eq!(r["output"][2]["arguments"], "{\"a\":2}");
        assert_eq!(r["status"], "completed");
        assert_eq!(r["usage"]["input_tokens"], 10);
        assert_eq!(r["usage"]["total_tokens"], 14);
        assert!(r["id"].as_str().unwrap().starts_with("resp_"));
        let cut = json!({"choices": [{"message": {"content": "x"}, "finish_reason": "length"}]});
        let r = to_responses(&cut);
        assert_eq!(r["status"], "incomplete");
        assert_eq!(r["incomplete_details"]["reason"], "max_output_tokens");
    }
}
