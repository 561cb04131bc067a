//! `previous_response_id` kept by the gateway (docs/llm.md): every `/v1/responses`
//! answer the gateway returns is kept in the store under the gateway's own id
//! (`resp_mg…`) — the whole input as sent, the output items, the model, the principal
//! that got it, an expiry — unless the request says `store: false`. A request naming a
//! kept id continues it with any provider: the kept input, the kept output (an
//! `mcp_call` as a `function_call` and its `function_call_output`, `mcp_list_tools`
//! dropped), then the new input; the provider never sees the id.
//!
//! An id not kept for this principal (unknown, another principal's, expired — the
//! answer does not say which) is a 404 naming it, except that a model whose provider
//! keeps responses itself (OpenAI's Responses API) gets an id that is not the
//! gateway's passed through unchanged: it is the provider's own.

use serde_json::{json, Map, Value};
use std::time::Duration;

use meshgate_store::{Store, StoredResponse};

use super::error::LlmError;
use super::providers::Provider;
use super::usage;

/// The gateway's response ids start with this (provider ids never do).
pub const ID_PREFIX: &str = "resp_mg";
/// How long a kept answer can be continued (OpenAI keeps its responses 30 days).
pub const KEEP_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

fn now_ms() -> i64 {
    i64::try_from(crate::verify::now_ms()).unwrap_or(i64::MAX)
}

/// A request's `input` as a list of items (a string is one user message; none, none).
pub fn input_items(body: &Map<String, Value>) -> Result<Vec<Value>, LlmError> {
    match body.get("input") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![
            json!({"type": "message", "role": "user", "content": text}),
        ]),
        Some(Value::Array(items)) => Ok(items.clone()),
        _ => Err(LlmError::invalid(
            "`input` must be a string or a list of items",
        )),
    }
}

/// OpenAI's answer for a response id that cannot be continued.
pub fn not_found(id: &str) -> LlmError {
    LlmError {
        param: Some("previous_response_id"),
        ..LlmError::new(
            http::StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("Previous response with id '{id}' not found."),
        )
    }
}

/// Replaces a kept `previous_response_id` by the conversation it names (see the
/// module's rule); an id the provider keeps itself stays.
pub async fn expand(
    store: &Store,
    owner: &str,
    provider: &Provider,
    body: &mut Map<String, Value>,
) -> Result<(), LlmError> {
    let id = match body.get("previous_response_id") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        Some(_) => {
            return Err(LlmError::invalid(
                "`previous_response_id` must be a non-empty string",
            ))
        }
    };
    let kept = store.response_of(&id, owner, now_ms()).await.map_err(|e| {
        tracing::warn!("previous_response_id: the store could not be read: {e}");
        LlmError::new(
            http::StatusCode::SERVICE_UNAVAILABLE,
            "api_error",
            "the gateway's stored responses cannot be read right now",
        )
    })?;
    let Some(kept) = kept else {
        if provider.keeps_responses() && !id.starts_with(ID_PREFIX) {
            return Ok(());
        }
        return Err(not_found(&id));
    };
    let mut input = continued(&kept);
    input.extend(input_items(body)?);
    body.insert("input".into(), Value::Array(input));
    body.remove("previous_response_id");
    Ok(())
}

/// A kept answer's conversation as input items any provider understands: a run of
/// `mcp_call` items (one round's calls) becomes its `function_call`s, then their
/// `function_call_output`s, as the model made and got them.
fn continued(kept: &StoredResponse) -> Vec<Value> {
    let mut items: Vec<Value> = kept.input.as_array().cloned().unwrap_or_default();
    let mut outputs: Vec<Value> = Vec::new();
    for item in kept.output.as_array().into_iter().flatten() {
        match item.get("type").and_then(Value::as_str) {
            Some("mcp_list_tools") => {}
            Some("mcp_call") => {
                let call_id = item.get("id").cloned().unwrap_or(json!(""));
                items.push(json!({
                    "type": "function_call",
                    "call_id": call_id,
                    "name": item.get("name").cloned().unwrap_or(json!("")),
                    "arguments": item.get("arguments").cloned().unwrap_or(json!("{}")),
                }));
                let output = match item.get("error") {
                    Some(Value::String(e)) => e.clone(),
                    _ => item
                        .get("output")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                };
                outputs.push(json!({"type": "function_call_output", "call_id": call_id,
                                    "output": output}));
            }
            _ => {
                items.append(&mut outputs);
                items.push(item.clone());
            }
        }
    }
    items.append(&mut outputs);
    items
}

/// Keeps one request's answer.
pub struct Keeper {
    store: Store,
    /// The answer's id (the gateway's), known before the answer (a stream's first
    /// event carries it).
    pub id: String,
    owner: String,
    model: String,
    input: Vec<Value>,
    /// Largest input + output kept (JSON bytes).
    limit: usize,
}

impl Keeper {
    /// The keeper of a Responses request (its `previous_response_id` already
    /// expanded); None when it says `store: false`.
    pub fn new(
        store: &Store,
        owner: &str,
        model: &str,
        body: &Map<String, Value>,
        limit: usize,
    ) -> Result<Option<Self>, LlmError> {
        if body.get("store") == Some(&Value::Bool(false)) {
            return Ok(None);
        }
        Ok(Some(Keeper {
            store: store.clone(),
            id: format!("{ID_PREFIX}{}{}", usage::new_id(""), usage::new_id("")),
            owner: owner.to_string(),
            model: model.to_string(),
            input: input_items(body)?,
            limit,
        }))
    }

    /// Gives `response` the gateway's id and keeps it (awaited, so the client's next
    /// request finds it). An answer past the limit, or a store that fails, is not
    /// kept: said in the log; the answer still goes out (continuing it is a 404).
    pub async fn keep(&self, response: &mut Value) {
        response["id"] = json!(self.id);
        let Some(output) = response.get("output").filter(|o| o.is_array()) else {
            return;
        };
        let now = now_ms();
        let kept = StoredResponse {
            id: self.id.clone(),
            owner: self.owner.clone(),
            model: self.model.clone(),
            input: Value::Array(self.input.clone()),
            output: output.clone(),
            created_at_ms: now,
            expires_at_ms: now.saturating_add(KEEP_FOR.as_millis() as i64),
        };
        let bytes = kept.bytes();
        if bytes > self.limit {
            tracing::warn!(
                id = %self.id,
                bytes,
                limit = self.limit,
                "responses: answer not kept, its conversation exceeds meshgate.max_body_bytes"
            );
            return;
        }
        if let Err(e) = self.store.put_response(&kept).await {
            tracing::warn!(id = %self.id, "responses: answer not kept: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_answer_continues_as_items_any_provider_reads() {
        let kept = StoredResponse {
            id: "resp_mg1".into(),
            owner: "key:a".into(),
            model: "m".into(),
            input: json!([{"type": "message", "role": "user", "content": "add"}]),
            output: json!([
                {"type": "mcp_list_tools", "id": "mcpl_1", "server_label": "gw", "tools": []},
                {"type": "mcp_call", "id": "mcp_1", "name": "demo-add", "arguments": "{\"a\":1}",
                 "output": "3", "error": null, "status": "completed"},
                {"type": "mcp_call", "id": "mcp_2", "name": "demo-fail", "arguments": "{}",
                 "output": null, "error": "Tool call failed: no", "status": "failed"},
                {"type": "message", "id": "msg_1", "role": "assistant",
                 "content": [{"type": "output_text", "text": "3"}]}]),
            created_at_ms: 0,
            expires_at_ms: 1,
        };
        let items = continued(&kept);
        let kinds: Vec<&str> = items
            .iter()
            .map(|i| i["type"].as_str().unwrap_or("message"))
            .collect();
        assert_eq!(
            kinds,
            [
                "message",
                "function_call",
                "function_call",
                "function_call_output",
                "function_call_output",
                "message"
            ]
        );
        assert_eq!(items[1]["call_id"], items[3]["call_id"]);
        assert_eq!(items[3]["output"], "3");
        assert_eq!(items[4]["output"], "Tool call failed: no");
    }
}
