//! A chat completions stream as OpenAI Responses events, chunk by chunk as they come:
//! the first chunk → `response.created`, `response.in_progress`; `content` deltas → a
//! `message` item (`response.output_item.added`, `response.content_part.added`, then
//! `response.output_text.delta` each); each tool call (by its `index`) → a
//! `function_call` item (`response.output_item.added` with id and name, then
//! `response.function_call_arguments.delta` each); reasoning deltas
//! (`reasoning_content`) → a `reasoning` item, sent whole once the answer moves on;
//! `[DONE]` (or the stream's end) → the `…done` events of every item and
//! `response.completed` (`response.incomplete` for `finish_reason: length`) with the
//! whole response; an `{"error"}` chunk → an `error` event. `sequence_number` counts
//! from 0.

use serde_json::{json, Value};
use std::collections::BTreeMap;

use super::answer::{reasoning_item, response, responses_usage};
use crate::llm::providers::item_events::close_item;
use crate::llm::usage;

/// One stream's translation state.
pub struct ToEvents {
    id: String,
    model: Value,
    seq: u64,
    started: bool,
    finished: bool,
    items: Vec<Value>,
    /// The `message` item's place, once text came.
    message: Option<usize>,
    /// Reasoning text not yet sent as an item.
    reasoning: String,
    /// Chat's tool call `index` → the item's place.
    calls: BTreeMap<u64, usize>,
    finish_reason: Option<String>,
    usage: Option<Value>,
}

impl Default for ToEvents {
    fn default() -> Self {
        ToEvents {
            id: usage::new_id("resp_"),
            model: Value::Null,
            seq: 0,
            started: false,
            finished: false,
            items: Vec::new(),
            message: None,
            reasoning: String::new(),
            calls: BTreeMap::new(),
            finish_reason: None,
            usage: None,
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
        let done = status != "in_progress";
        let mut r = response(
            &self.id,
            &self.model,
            status,
            if done { self.items.clone() } else { Vec::new() },
            if done {
                responses_usage(self.usage.as_ref())
            } else {
                Value::Null
            },
        );
        if !done {
            r["incomplete_details"] = Value::Null;
        }
        r
    }

    /// The events for one chunk's data (`[DONE]` included).
    pub fn translate(&mut self, data: &str) -> Vec<String> {
        if self.finished {
            return Vec::new();
        }
        if data.trim() == "[DONE]" {
            return self.finish();
        }
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Some(e) = chunk.get("error").filter(|e| !e.is_null()) {
            let message = e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("the provider's stream reported an error");
            out.push(self.event(
                "error",
                json!({"code": "api_error", "message": format!("OpenAIException - {message}"), "param": null}),
            ));
            self.finished = true;
            return out;
        }
        if !self.started {
            self.started = true;
            self.model = chunk.get("model").cloned().unwrap_or(Value::Null);
            let r = self.response("in_progress");
            out.push(self.event("response.created", json!({"response": r})));
            out.push(self.event("response.in_progress", json!({"response": r})));
        }
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(u.clone());
        }
        let Some(choice) = chunk.pointer("/choices/0") else {
            return out;
        };
        let delta = choice.get("delta").unwrap_or(&Value::Null);
        for key in ["reasoning_content", "reasoning"] {
            if let Some(piece) = delta.get(key).and_then(Value::as_str) {
                self.reasoning.push_str(piece);
            }
        }
        if let Some(text) = delta
            .get("content")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            out.extend(self.flush_reasoning());
            out.extend(self.text(text));
        }
        for call in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            out.extend(self.flush_reasoning());
            out.extend(self.call(call));
        }
        if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(f.to_string());
        }
        out
    }

    /// The reasoning so far, as one whole item.
    fn flush_reasoning(&mut self) -> Vec<String> {
        if self.reasoning.is_empty() {
            return Vec::new();
        }
        let item = reasoning_item(&usage::new_id("rs_"), &std::mem::take(&mut self.reasoning));
        let at = self.items.len();
        self.items.push(item.clone());
        vec![
            self.event(
                "response.output_item.added",
                json!({"output_index": at, "item": item}),
            ),
            self.event(
                "response.output_item.done",
                json!({"output_index": at, "item": item}),
            ),
        ]
    }

    fn text(&mut self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let at = match self.message {
            Some(at) => at,
            None => {
                let at = self.items.len();
                let item = json!({"type": "message", "id": usage::new_id("msg_"),
                    "role": "assistant", "status": "in_progress", "content": []});
                self.items.push(item.clone());
                self.message = Some(at);
                out.push(self.event(
                    "response.output_item.added",
                    json!({"output_index": at, "item": item}),
                ));
                let part = json!({"type": "output_text", "text": "", "annotations": []});
                self.items[at]["content"] = json!([part]);
                out.push(self.event(
                    "response.content_part.added",
                    json!({"output_index": at, "item_id": item["id"], "content_index": 0, "part": part}),
                ));
                at
            }
        };
        if let Some(Value::String(s)) = self.items[at].pointer_mut("/content/0/text") {
            s.push_str(text);
        }
        let id = self.items[at]["id"].clone();
        out.push(self.event(
            "response.output_text.delta",
            json!({"output_index": at, "item_id": id, "content_index": 0, "delta": text, "logprobs": []}),
        ));
        out
    }

    fn call(&mut self, call: &Value) -> Vec<String> {
        let index = call.get("index").and_then(Value::as_u64).unwrap_or(0);
        let mut out = Vec::new();
        let at = match self.calls.get(&index) {
            Some(&at) => at,
            None => {
                let call_id = call
                    .get("id")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map_or_else(|| usage::new_id("call_"), str::to_string);
                let item = json!({
                    "type": "function_call", "id": format!("fc_{call_id}"), "call_id": call_id,
                    "name": call.pointer("/function/name").cloned().unwrap_or(json!("")),
                    "arguments": "", "status": "in_progress",
                });
                let at = self.items.len();
                self.items.push(item.clone());
                self.calls.insert(index, at);
                out.push(self.event(
                    "response.output_item.added",
                    json!({"output_index": at, "item": item}),
                ));
                at
            }
        };
        let piece = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !piece.is_empty() {
            if let Some(Value::String(s)) = self.items[at].get_mut("arguments") {
                s.push_str(piece);
            }
            let id = self.items[at]["id"].clone();
            out.push(self.event(
                "response.function_call_arguments.delta",
                json!({"output_index": at, "item_id": id, "delta": piece}),
            ));
        }
        out
    }

    /// At the stream's end without `[DONE]`: the answer is complete when the model
    /// said why it stopped (`finish_reason`), else nothing (a stream cut off is the
    /// reader's error, never a completed response).
    pub fn end(&mut self) -> Vec<String> {
        if self.finish_reason.is_some() {
            self.finish()
        } else {
            Vec::new()
        }
    }

    /// Closes every item and the response (at `[DONE]`; once).
    pub fn finish(&mut self) -> Vec<String> {
        if self.finished || !self.started {
            return Vec::new();
        }
        self.finished = true;
        let mut out = self.flush_reasoning();
        for at in 0..self.items.len() {
            let kind = self.items[at]["type"].as_str().unwrap_or("").to_string();
            if kind == "reasoning" {
                continue;
            }
            for (event, payload) in close_item(&mut self.items[at], at) {
                out.push(self.event(event, payload));
            }
        }
        let (kind, status) = if self.finish_reason.as_deref() == Some("length") {
            ("response.incomplete", "incomplete")
        } else {
            ("response.completed", "completed")
        };
        let r = self.response(status);
        out.push(self.event(kind, json!({"response": r})));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&str]) -> Vec<Value> {
        let mut t = ToEvents::default();
        let mut events: Vec<String> = chunks.iter().flat_map(|c| t.translate(c)).collect();
        events.extend(t.end());
        events
            .iter()
            .map(|e| serde_json::from_str(e).unwrap())
            .collect()
    }

    #[test]
    fn a_text_and_tool_call_stream_becomes_responses_events() {
        let out = run(&[
            r#"{"id":"c","model":"q","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"reasoning_content":"hmm"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"f","arguments":""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}"#,
            "[DONE]",
        ]);
        let kinds: Vec<&str> = out.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.output_item.done",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        let seqs: Vec<u64> = out
            .iter()
            .map(|e| e["sequence_number"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, (0..16).collect::<Vec<_>>());
        let done = &out[15]["response"];
        assert_eq!(done["output"][0]["type"], "reasoning");
        assert_eq!(done["output"][1]["content"][0]["text"], "Hi");
        assert_eq!(done["output"][2]["arguments"], "{\"a\":1}");
        assert_eq!(done["output"][2]["call_id"], "c1");
        assert_eq!(done["usage"]["total_tokens"], 10);
        assert_eq!(out[0]["response"]["id"], done["id"], "one id throughout");
    }

    #[test]
    fn a_stream_without_done_still_completes_and_errors_end_it() {
        let out =
            run(&[r#"{"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"length"}]}"#]);
        assert_eq!(out.last().unwrap()["type"], "response.incomplete");
        let out = run(&[r#"{"choices":[{"index":0,"delta":{"content":"cut"}}]}"#]);
        assert!(
            out.iter().all(|e| e["type"] != "response.completed"),
            "cut off before a finish_reason: not complete"
        );
        let out = run(&[
            r#"{"choices":[{"index":0,"delta":{"content":"x"}}]}"#,
            r#"{"error":{"message":"boom"}}"#,
        ]);
        assert_eq!(out.last().unwrap()["type"], "error");
        assert!(out.iter().all(|e| e["type"] != "response.completed"));
    }
}
