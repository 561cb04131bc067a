//! The Chat Completions loop as `chat.completion.chunk`s, LiteLLM's way: a first chunk
//! at once (`role`), `provider_specific_fields.mcp_list_tools` when the tools are
//! listed; per round the model's text relayed as it arrives while its tool-call deltas
//! are accumulated; after an executed round one chunk with
//! `provider_specific_fields.{mcp_tool_calls, mcp_call_results}` of that round; the
//! last round's chunks (its `finish_reason`, calls handed back to the client), a usage
//! chunk summing every round when the client asked for one, and `data: [DONE]`. A
//! failure ends the stream with `data: {"error": …}` (the OpenAI SDK raises it).

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

use super::{now_secs, or_gone, sse, Job, Out, Stop};
use crate::body::Body;
use crate::llm::chat::{ChatLoop, Next};
use crate::llm::error::LlmError;
use crate::llm::usage;

/// Starts the stream; the loop runs in its own task.
pub fn start(job: Job, lp: ChatLoop) -> http::Response<Body> {
    super::spawn(move |out| async move {
        let chunks = Chunks {
            out,
            id: usage::new_id("chatcmpl-"),
            created: now_secs(),
            model: job.model_name.clone(),
        };
        let mut lp = lp;
        let outcome = job.deadline.run(drive(&job, &mut lp, &chunks)).await;
        if let Some(e) = job.finish_with(outcome, lp.total_usage.as_ref()).await {
            tracing::warn!("LLM loop stream failed: {e}");
            let _ = chunks.out.data(&e.body()).await;
        }
    })
}

/// Frames the chunks (one id, `created` and model for the whole answer).
struct Chunks {
    out: Out,
    id: String,
    created: u64,
    model: String,
}

impl Chunks {
    fn chunk(&self, choices: Value) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        })
    }

    async fn delta(&self, delta: Value, finish_reason: Option<&str>) -> Result<(), Stop> {
        let c = self.chunk(json!([{"index": 0, "delta": delta, "finish_reason": finish_reason}]));
        self.out.data(&c).await.map_err(Stop::from)
    }
}

/// One round's answer put together from its chunks.
#[derive(Default)]
struct Round {
    content: String,
    /// By the provider's `index`: id, name, arguments.
    calls: BTreeMap<u64, (String, String, String)>,
    finish_reason: Option<String>,
    ended: bool,
}

impl Round {
    fn add_calls(&mut self, deltas: &Value) {
        for d in deltas.as_array().into_iter().flatten() {
            let text = |p: &str| d.pointer(p).and_then(Value::as_str).unwrap_or("");
            let i = match d.get("index").and_then(Value::as_u64) {
                Some(i) => i,
                // Some providers leave `index` out: a new id starts a new call.
                None => {
                    let last = self.calls.iter().next_back();
                    match last {
                        Some((i, slot)) if text("/id").is_empty() || text("/id") == slot.0 => *i,
                        Some((i, _)) => i + 1,
                        None => 0,
                    }
                }
            };
            let slot = self.calls.entry(i).or_default();
            if !text("/id").is_empty() {
                slot.0 = text("/id").to_string();
            }
            if !text("/function/name").is_empty() {
                slot.1 = text("/function/name").to_string();
            }
            slot.2.push_str(text("/function/arguments"));
        }
    }

    /// The assistant message as a non-streamed answer would have it.
    fn message(&self) -> Value {
        let mut m = json!({"role": "assistant", "content": if self.content.is_empty() {
            Value::Null } else { json!(self.content) }});
        if !self.calls.is_empty() {
            m["tool_calls"] = self
                .calls
                .values()
                .map(|(id, name, args)| {
                    json!({"id": id, "type": "function",
                        "function": {"name": name, "arguments": args}})
                })
                .collect();
        }
        m
    }
}

/// Reads one round from the provider, relaying its text as it comes.
async fn round(job: &Job, lp: &mut ChatLoop, chunks: &Chunks) -> Result<Round, Stop> {
    let request = lp.request();
    let open = sse::open(
        &job.state.client,
        &job.provider,
        "/chat/completions",
        &request,
        true,
    );
    let mut events = or_gone(&chunks.out, open).await??;
    let mut r = Round::default();
    while let Some(data) = or_gone(&chunks.out, events.next()).await?? {
        if data.trim() == "[DONE]" {
            r.ended = true;
            break;
        }
        let Ok(chunk) = serde_json::from_str::<Value>(&data) else {
            continue;
        };
        if let Some(err) = chunk.get("error").filter(|e| !e.is_null()) {
            let message = err
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("the provider's stream reported an error");
            return Err(Stop::Failed(LlmError::provider(format!(
                "model `{}`: {message}",
                job.model_name
            ))));
        }
        if chunk.get("usage").is_some_and(Value::is_object) {
            usage::add(&mut lp.total_usage, chunk.get("usage"));
        }
        let Some(choice) = chunk.pointer("/choices/0") else {
            continue;
        };
        if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
            r.finish_reason = Some(f.to_string());
        }
        let Some(Value::Object(delta)) = choice.get("delta") else {
            continue;
        };
        let mut delta: Map<String, Value> = delta.clone();
        delta.remove("role");
        if let Some(calls) = delta.remove("tool_calls") {
            r.add_calls(&calls);
        }
        if let Some(text) = delta.get("content").and_then(Value::as_str) {
            r.content.push_str(text);
        }
        let worth = delta
            .values()
            .any(|v| !(v.is_null() || v.as_str() == Some("")));
        if worth {
            chunks.delta(Value::Object(delta), None).await?;
        }
    }
    if !r.ended && r.finish_reason.is_none() {
        return Err(Stop::Failed(LlmError::provider(format!(
            "model `{}`: the provider's stream ended before its last chunk",
            job.model_name
        ))));
    }
    Ok(r)
}

async fn drive(job: &Job, lp: &mut ChatLoop, chunks: &Chunks) -> Result<(), Stop> {
    chunks
        .delta(json!({"role": "assistant", "content": ""}), None)
        .await?;
    let gw = job.gateway();
    let listed = or_gone(&chunks.out, gw.list(&job.mcp)).await??;
    lp.offer(&listed);
    chunks
        .delta(
            json!({"provider_specific_fields": {"mcp_list_tools": lp.offered}}),
            None,
        )
        .await?;
    loop {
        let r = round(job, lp, chunks).await?;
        let message = r.message();
        match lp.next(&message) {
            Next::Run(calls) => {
                let outcomes = or_gone(&chunks.out, gw.call_all(calls)).await?;
                let round_calls = message.get("tool_calls").cloned().unwrap_or(json!([]));
                let results = lp.record(message, &outcomes);
                chunks
                    .delta(
                        json!({"provider_specific_fields": {
                            "mcp_tool_calls": round_calls,
                            "mcp_call_results": results,
                        }}),
                        None,
                    )
                    .await?;
            }
            Next::Finish { exhausted } => {
                if let Some(Value::Array(calls)) = message.get("tool_calls") {
                    // Handed back to the client (or left when the rounds ran out).
                    let indexed: Vec<Value> = calls
                        .iter()
                        .enumerate()
                        .map(|(i, c)| {
                            let mut c = c.clone();
                            c["index"] = json!(i);
                            c
                        })
                        .collect();
                    chunks.delta(json!({"tool_calls": indexed}), None).await?;
                }
                let last = if exhausted {
                    json!({"provider_specific_fields": {"mcp_tool_rounds_exhausted": true}})
                } else {
                    json!({})
                };
                let finish = r.finish_reason.as_deref().unwrap_or("stop");
                chunks.delta(last, Some(finish)).await?;
                if lp.wants_usage() {
                    let mut c = chunks.chunk(json!([]));
                    c["usage"] = lp.total_usage.clone().unwrap_or(Value::Null);
                    chunks.out.data(&c).await?;
                }
                chunks.out.raw("data: [DONE]\n\n".into()).await?;
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_call_deltas_are_put_together_by_index_or_by_id() {
        let mut r = Round::default();
        r.add_calls(&json!([{"index": 0, "id": "a", "type": "function",
            "function": {"name": "demo-echo", "arguments": ""}}]));
        r.add_calls(&json!([{"index": 1, "id": "b", "function": {"name": "demo-add", "arguments": "{\"a\":"}}]));
        r.add_calls(&json!([{"index": 0, "function": {"arguments": "{\"text\": \"x\"}"}}]));
        r.add_calls(&json!([{"index": 1, "function": {"arguments": " 1, \"b\": 2}"}}]));
        let m = r.message();
        assert_eq!(m["content"], Value::Null);
        assert_eq!(
            m["tool_calls"][0]["function"]["arguments"],
            "{\"text\": \"x\"}"
        );
        assert_eq!(m["tool_calls"][1]["id"], "b");
        assert_eq!(
            m["tool_calls"][1]["function"]["arguments"],
            "{\"a\": 1, \"b\": 2}"
        );

        // Without `index`: whole calls one after another, told apart by their ids.
        let mut r = Round::default();
        r.add_calls(&json!([{"id": "a", "function": {"name": "x", "arguments": "{}"}}]));
        r.add_calls(&json!([{"id": "b", "function": {"name": "y", "arguments": "{"}}]));
        r.add_calls(&json!([{"function": {"arguments": "}"}}]));
        let m = r.message();
        assert_eq!(m["tool_calls"].as_array().unwrap().len(), 2, "{m}");
        assert_eq!(m["tool_calls"][1]["function"]["arguments"], "{}");
    }
}
