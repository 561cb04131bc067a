//! The tool loop on Chat Completions: the key's MCP tools offered as functions, the
//! model's calls of a round run in parallel (`tools::Gateway::call_all`), their results
//! fed back as `tool` messages, up to the round limit; the answer carries LiteLLM's
//! `message.provider_specific_fields` (`mcp_list_tools`, `mcp_tool_calls`,
//! `mcp_call_results`) and the usage of every round.

use serde_json::{json, Map, Value};
use std::collections::HashSet;

use super::error::LlmError;
use super::providers::{openai, Provider};
use super::tools::{Gateway, ListedTool, McpRequest};
use super::usage;
use crate::state::AppState;

pub async fn run(
    state: &AppState,
    provider: &Provider,
    gw: &Gateway<'_>,
    mcp: &McpRequest,
    mut body: Map<String, Value>,
    model_name: &str,
    rounds: u32,
) -> Result<Value, LlmError> {
    let listed = gw.list(mcp).await?;
    let offered: Vec<Value> = listed.iter().map(ListedTool::chat_tool).collect();
    let ours: HashSet<&str> = listed.iter().map(|t| t.name.as_str()).collect();
    let mut tools = match body.remove("tools") {
        Some(Value::Array(t)) => t,
        _ => Vec::new(),
    };
    // The client's own function tools: a call of one of them goes back to the client.
    let clients: HashSet<String> = tools
        .iter()
        .filter_map(|t| t.pointer("/function/name").and_then(Value::as_str))
        .filter(|n| !ours.contains(n))
        .map(str::to_string)
        .collect();
    tools.extend(offered.iter().cloned());
    if !tools.is_empty() {
        body.insert("tools".into(), Value::Array(tools));
    }
    body.insert("stream".into(), Value::Bool(false));
    body.remove("stream_options");
    let mut messages = match body.remove("messages") {
        Some(Value::Array(m)) => m,
        _ => return Err(LlmError::invalid("`messages` must be a list")),
    };
    let mut total_usage = None;
    let mut calls_made: Vec<Value> = Vec::new();
    let mut results: Vec<Value> = Vec::new();
    let mut executed = 0u32;
    loop {
        body.insert("messages".into(), Value::Array(messages.clone()));
        let mut resp = openai::call_json(
            &state.client,
            provider,
            "/chat/completions",
            &Value::Object(body.clone()),
        )
        .await?;
        usage::add(&mut total_usage, resp.get("usage"));
        let message = resp.pointer("/choices/0/message").cloned().ok_or_else(|| {
            LlmError::provider(format!(
                "model `{model_name}`: the provider's answer has no choices[0].message"
            ))
        })?;
        let tool_calls: Vec<Value> = message
            .get("tool_calls")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let runnable: Vec<(String, String, String)> = tool_calls
            .iter()
            .filter_map(|c| {
                let name = c.pointer("/function/name")?.as_str()?;
                // Not the client's: run through the MCP path (an unknown name gets
                // "Tool ... not found" back, as LiteLLM's clients see it).
                (!clients.contains(name)).then(|| {
                    (
                        c.get("id")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        name.to_string(),
                        c.pointer("/function/arguments")
                            .and_then(Value::as_str)
                            .unwrap_or("{}")
                            .to_string(),
                    )
                })
            })
            .collect();
        // The client runs the calls itself: approval asked for, or a call of one of its
        // own tools among them.
        let hand_back =
            !mcp.auto_execute || tool_calls.is_empty() || runnable.len() != tool_calls.len();
        if hand_back || executed >= rounds {
            let exhausted = !hand_back;
            finish(
                &mut resp,
                &offered,
                calls_made,
                results,
                total_usage,
                exhausted,
            );
            return Ok(resp);
        }
        let outcomes = gw.call_all(runnable).await;
        messages.push(message);
        for o in &outcomes {
            tracing::debug!(tool = %o.name, ms = o.took.as_millis() as u64, "LLM loop: tool call done");
            messages.push(json!({
                "role": "tool",
                "tool_call_id": o.call_id,
                "content": o.output,
            }));
            results.push(json!({
                "tool_call_id": o.call_id,
                "name": o.name,
                "result": o.output,
                "is_error": o.error.is_some(),
            }));
        }
        calls_made.extend(tool_calls);
        executed += 1;
        // A forced choice would make every round call a tool again (LiteLLM drops it
        // for its follow-up call too).
        body.remove("tool_choice");
    }
}

fn finish(
    resp: &mut Value,
    offered: &[Value],
    calls: Vec<Value>,
    results: Vec<Value>,
    usage_total: Option<Value>,
    exhausted: bool,
) {
    if let Some(u) = usage_total {
        resp["usage"] = u;
    }
    let Some(message) = resp.pointer_mut("/choices/0/message") else {
        return;
    };
    if !message.is_object() {
        return;
    }
    let mut fields = match message.get("provider_specific_fields") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    fields.insert("mcp_list_tools".into(), Value::Array(offered.to_vec()));
    fields.insert("mcp_tool_calls".into(), Value::Array(calls));
    fields.insert("mcp_call_results".into(), Value::Array(results));
    if exhausted {
        // meshgate's marker: the rounds ran out with the model still calling tools
        // (its last calls are in `tool_calls`, not executed).
        fields.insert("mcp_tool_rounds_exhausted".into(), Value::Bool(true));
    }
    message["provider_specific_fields"] = Value::Object(fields);
}
