//! Anthropic's stream events as `chat.completion.chunk`s, one event at a time (nothing
//! is held back): `message_start` → the `role` chunk; a `tool_use` block's start → a
//! `tool_calls` delta with its id and name; `text_delta` → `content`;
//! `input_json_delta` → the call's `arguments` piece; `message_delta` → the
//! `finish_reason` chunk; `message_stop` → the usage chunk (when asked for) and
//! `[DONE]`; an `error` event → `{"error": …}` (read as an error by the loop and by the
//! OpenAI SDK). `ping` and thinking deltas give nothing.

use serde_json::{json, Value};
use std::collections::HashMap;

use super::response::{chat_usage, finish_reason, stream_error};
use crate::llm::stream::now_secs;

/// One stream's translation state.
pub struct ToChunks {
    id: String,
    model: Value,
    created: u64,
    /// Anthropic's usage so far (input from `message_start`, output from
    /// `message_delta`).
    usage: Value,
    /// Content block index → the tool call's index among the answer's calls.
    calls: HashMap<u64, u64>,
    include_usage: bool,
}

impl ToChunks {
    /// `include_usage`: end with a chunk carrying the usage (`stream_options`).
    pub fn new(include_usage: bool) -> Self {
        ToChunks {
            id: String::new(),
            model: Value::Null,
            created: now_secs(),
            usage: json!({}),
            calls: HashMap::new(),
            include_usage,
        }
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> String {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })
        .to_string()
    }

    /// The chunks (each a `data:` payload) for one event's data.
    pub fn translate(&mut self, data: &str) -> Vec<String> {
        let Ok(ev) = serde_json::from_str::<Value>(data) else {
            return Vec::new();
        };
        let kind = ev.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "message_start" => {
                let m = ev.get("message").unwrap_or(&Value::Null);
                self.id = m
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                self.model = m.get("model").cloned().unwrap_or(Value::Null);
                if let Some(Value::Object(u)) = m.get("usage") {
                    self.usage = Value::Object(u.clone());
                }
                vec![self.chunk(json!({"role": "assistant", "content": ""}), None)]
            }
            "content_block_start" => {
                let block = ev.get("content_block").unwrap_or(&Value::Null);
                let index = ev.get("index").and_then(Value::as_u64).unwrap_or(0);
                match block.get("type").and_then(Value::as_str) {
                    Some("tool_use") => {
                        let k = self.calls.len() as u64;
                        self.calls.insert(index, k);
                        vec![self.chunk(
                            json!({"tool_calls": [{"index": k, "id": block.get("id"),
                                "type": "function",
                                "function": {"name": block.get("name"), "arguments": ""}}]}),
                            None,
                        )]
                    }
                    Some("text") => match block.get("text").and_then(Value::as_str) {
                        Some(t) if !t.is_empty() => vec![self.chunk(json!({"content": t}), None)],
                        _ => Vec::new(),
                    },
                    _ => Vec::new(),
                }
            }
            "content_block_delta" => {
                let d = ev.get("delta").unwrap_or(&Value::Null);
                let index = ev.get("index").and_then(Value::as_u64).unwrap_or(0);
                match d.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        vec![self.chunk(json!({"content": d.get("text")}), None)]
                    }
                    Some("input_json_delta") => {
                        let Some(k) = self.calls.get(&index) else {
                            return Vec::new();
                        };
                        vec![self.chunk(
                            json!({"tool_calls": [{"index": k,
                                "function": {"arguments": d.get("partial_json")}}]}),
                            None,
                        )]
                    }
                    _ => Vec::new(),
                }
            }
            "message_delta" => {
                if let (Some(Value::Object(more)), Value::Object(u)) =
                    (ev.get("usage"), &mut self.usage)
                {
                    for (k, v) in more {
                        u.insert(k.clone(), v.clone());
                    }
                }
                let stop = ev.pointer("/delta/stop_reason").and_then(Value::as_str);
                vec![self.chunk(json!({}), Some(finish_reason(stop)))]
            }
            "message_stop" => {
                let mut out = Vec::new();
                if self.include_usage {
                    let mut c = json!({
                        "id": self.id, "object": "chat.completion.chunk",
                        "created": self.created, "model": self.model, "choices": [],
                    });
                    c["usage"] = chat_usage(&self.usage);
                    out.push(c.to_string());
                }
                out.push("[DONE]".to_string());
                out
            }
            "error" => {
                vec![stream_error(&ev).body().to_string()]
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_use_stream_becomes_chat_chunks() {
        let mut t = ToChunks::new(true);
        let events = [
            r#"{"type":"message_start","message":{"id":"msg_1","model":"claude-x","usage":{"input_tokens":7,"output_tokens":1}}}"#,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"tu_1","name":"demo-add","input":{}}}"#,
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}"#,
            r#"{"type":"ping"}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9}}"#,
            r#"{"type":"message_stop"}"#,
        ];
        let out: Vec<Value> = events
            .iter()
            .flat_map(|e| t.translate(e))
            .map(|c| serde_json::from_str(&c).unwrap_or(Value::String(c)))
            .collect();
        assert_eq!(out.len(), 7, "{out:?}");
        assert_eq!(out[0]["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(out[1]["choices"][0]["delta"]["content"], "Hi");
        assert_eq!(out[2]["choices"][0]["delta"]["tool_calls"][0]["id"], "tu_1");
        assert_eq!(out[3]["choices"][0]["delta"]["tool_calls"][0]["index"], 0);
        assert_eq!(out[4]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(out[5]["usage"]["completion_tokens"], 9);
        assert_eq!(out[5]["usage"]["prompt_tokens"], 7);
        assert_eq!(out[6], "[DONE]");
        let err = t.translate(
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        );
        assert!(
            err[0].contains("AnthropicException - Overloaded"),
            "{err:?}"
        );
    }
}
