//! Anthropic's stream events as OpenAI Responses events, one event at a time:
//! `message_start` → `response.created`, `response.in_progress`; a `text` block →
//! a `message` item (`response.output_item.added`, `response.content_part.added`,
//! `response.output_text.delta` per `text_delta`, then `…output_text.done`,
//! `…content_part.done`, `…output_item.done` at `content_block_stop`); a `tool_use`
//! block → a `function_call` item (`response.function_call_arguments.delta` per
//! `input_json_delta`, `…done`); `message_stop` → `response.completed` (or
//! `response.incomplete` for `max_tokens`) with the whole response; `error` → an
//! `error` event. Items are numbered in the order they start (thinking blocks are
//! left out); `sequence_number` counts from 0.

use serde_json::{json, Value};
use std::collections::HashMap;

use super::response::{chat_usage, stream_error};
use crate::llm::providers::item_events::close_item;
use crate::llm::stream::now_secs;
use crate::llm::usage;

/// One stream's translation state.
pub struct ToEvents {
    id: String,
    model: Value,
    created_at: u64,
    seq: u64,
    usage: Value,
    stop_reason: Option<String>,
    /// Content block index → the item's `output_index`.
    places: HashMap<u64, usize>,
    /// The items so far (their text / arguments accumulated).
    items: Vec<Value>,
}

impl Default for ToEvents {
    fn default() -> Self {
        ToEvents {
            id: String::new(),
            model: Value::Null,
            created_at: now_secs(),
            seq: 0,
            usage: json!({}),
            stop_reason: None,
            places: HashMap::new(),
            items: Vec::new(),
        }
    }
}

impl ToEvents {
    fn event(&mut self, kind: &str, mut v: Value) -> String {
        v["type"] = json!(kind);
        v["sequence_number"] = json!(self.seq);
        self.seq += 1;
        v.to_string()
    }

    fn response(&self, status: &str) -> Value {
        let u = chat_usage(&self.usage);
        let done = status != "in_progress";
        json!({
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "model": self.model,
            "output": if done { Value::Array(self.items.clone()) } else { json!([]) },
            "parallel_tool_calls": true,
            "tool_choice": "auto",
            "tools": [],
            "error": null,
            "incomplete_details": if status == "incomplete" {
                json!({"reason": "max_output_tokens"}) } else { Value::Null },
            "usage": if done { json!({
                "input_tokens": u["prompt_tokens"],
                "output_tokens": u["completion_tokens"],
                "total_tokens": u["total_tokens"],
                "input_tokens_details": {"cached_tokens": u["prompt_tokens_details"]["cached_tokens"]},
                "output_tokens_details": {"reasoning_tokens": 0},
            }) } else { Value::Null },
        })
    }

    /// The events (each a `data:` payload with its `type`) for one event's data.
    pub fn translate(&mut self, data: &str) -> Vec<String> {
        let Ok(ev) = serde_json::from_str::<Value>(data) else {
            return Vec::new();
        };
        let index = ev.get("index").and_then(Value::as_u64).unwrap_or(0);
        match ev.get("type").and_then(Value::as_str).unwrap_or("") {
            "message_start" => {
                let m = ev.get("message").unwrap_or(&Value::Null);
                let id = m.get("id").and_then(Value::as_str).unwrap_or("");
                self.id = format!("resp_{id}");
                self.model = m.get("model").cloned().unwrap_or(Value::Null);
                if let Some(Value::Object(u)) = m.get("usage") {
                    self.usage = Value::Object(u.clone());
                }
                let r = self.response("in_progress");
                vec![
                    self.event("response.created", json!({"response": r})),
                    self.event("response.in_progress", json!({"response": r})),
                ]
            }
            "content_block_start" => self.start(index, ev.get("content_block")),
            "content_block_delta" => self.delta(index, ev.get("delta")),
            "content_block_stop" => self.stop(index),
            "message_delta" => {
                if let (Some(Value::Object(more)), Value::Object(u)) =
                    (ev.get("usage"), &mut self.usage)
                {
                    for (k, v) in more {
                        u.insert(k.clone(), v.clone());
                    }
                }
                if let Some(s) = ev.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop_reason = Some(s.to_string());
                }
                Vec::new()
            }
            "message_stop" => {
                let (kind, status) = if self.stop_reason.as_deref() == Some("max_tokens") {
                    ("response.incomplete", "incomplete")
                } else {
                    ("response.completed", "completed")
                };
                let r = self.response(status);
                vec![self.event(kind, json!({"response": r}))]
            }
            "error" => {
                let e = stream_error(&ev);
                vec![self.event(
                    "error",
                    json!({"code": e.kind, "message": e.message, "param": null}),
                )]
            }
            _ => Vec::new(),
        }
    }

    fn start(&mut self, index: u64, block: Option<&Value>) -> Vec<String> {
        let block = block.unwrap_or(&Value::Null);
        let item = match block.get("type").and_then(Value::as_str) {
            Some("text") => json!({
                "type": "message", "id": usage::new_id("msg_"), "role": "assistant",
                "status": "in_progress", "content": [],
            }),
            Some("tool_use") => json!({
                "type": "function_call",
                "id": format!("fc_{}", block.get("id").and_then(Value::as_str).unwrap_or("")),
                "call_id": block.get("id").cloned().unwrap_or(json!("")),
                "name": block.get("name").cloned().unwrap_or(json!("")),
                "arguments": "", "status": "in_progress",
            }),
            _ => return Vec::new(),
        };
        let at = self.items.len();
        self.places.insert(index, at);
        self.items.push(item.clone());
        let mut out = vec![self.event(
            "response.output_item.added",
            json!({"output_index": at, "item": item}),
        )];
        if item["type"] == "message" {
            let part = json!({"type": "output_text", "text": "", "annotations": []});
            self.items[at]["content"] = json!([part]);
            out.push(self.event(
                "response.content_part.added",
                json!({"output_index": at, "item_id": item["id"], "content_index": 0, "part": part}),
            ));
        }
        out
    }

    fn delta(&mut self, index: u64, delta: Option<&Value>) -> Vec<String> {
        let Some(&at) = self.places.get(&index) else {
            return Vec::new();
        };
        let delta = delta.unwrap_or(&Value::Null);
        let id = self.items[at]["id"].clone();
        let (pointer, piece, kind) = match delta.get("type").and_then(Value::as_str) {
            Some("text_delta") => ("/content/0/text", "text", "response.output_text.delta"),
            Some("input_json_delta") => (
                "/arguments",
                "partial_json",
                "response.function_call_arguments.delta",
            ),
            _ => return Vec::new(),
        };
        let piece = delta.get(piece).and_then(Value::as_str).unwrap_or("");
        if let Some(Value::String(s)) = self.items[at].pointer_mut(pointer) {
            s.push_str(piece);
        }
        let mut v = json!({"output_index": at, "item_id": id, "delta": piece});
        if kind == "response.output_text.delta" {
            v["content_index"] = json!(0);
            v["logprobs"] = json!([]);
        }
        vec![self.event(kind, v)]
    }

    fn stop(&mut self, index: u64) -> Vec<String> {
        let Some(&at) = self.places.get(&index) else {
            return Vec::new();
        };
        close_item(&mut self.items[at], at)
            .into_iter()
            .map(|(event, payload)| self.event(event, payload))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_use_stream_becomes_responses_events() {
        let mut t = ToEvents::default();
        let events = [
            r#"{"type":"message_start","message":{"id":"m1","model":"c","usage":{"input_tokens":7}}}"#,
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}"#,
            r#"{"type":"content_block_stop","index":0}"#,
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}"#,
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Hi"}}"#,
            r#"{"type":"content_block_stop","index":1}"#,
            r#"{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"tu","name":"f","input":{}}}"#,
            r#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"a\":1}"}}"#,
            r#"{"type":"content_block_stop","index":2}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":3}}"#,
            r#"{"type":"message_stop"}"#,
        ];
        let out: Vec<Value> = events
            .iter()
            .flat_map(|e| t.translate(e))
            .map(|c| serde_json::from_str(&c).unwrap())
            .collect();
        let kinds: Vec<&str> = out.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        assert_eq!(out[8]["output_index"], 1, "the thinking block left no gap");
        assert_eq!(out[12]["sequence_number"], 12);
        let done = &out[12]["response"];
        assert_eq!(done["output"][0]["content"][0]["text"], "Hi");
        assert_eq!(done["output"][1]["arguments"], "{\"a\":1}");
        assert_eq!(done["usage"]["total_tokens"], 10);
    }
}
