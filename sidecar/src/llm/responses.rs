//! The tool loop on the Responses API: the key's MCP tools offered as functions, the
//! model's `function_call`s of a round run in parallel, fed back as
//! `function_call_output` items (the round's output items and results appended to the
//! input, so stateless providers work too), up to the round limit. The answer's
//! `output` starts with an `mcp_list_tools` item and one `mcp_call` item per executed
//! call (arguments, output, error), then the final response's own items; `usage` sums
//! every round.

use serde_json::{json, Value};
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
    mut body: serde_json::Map<String, Value>,
    model_name: &str,
    rounds: u32,
) -> Result<Value, LlmError> {
    let listed = gw.list(mcp).await?;
    let ours: HashSet<&str> = listed.iter().map(|t| t.name.as_str()).collect();
    let mut tools = match body.remove("tools") {
        Some(Value::Array(t)) => t,
        _ => Vec::new(),
    };
    // The client's own function tools: a call of one of them goes back to the client.
    let clients: HashSet<String> = tools
        .iter()
        .filter_map(|t| t.get("name").and_then(Value::as_str))
        .filter(|n| !ours.contains(n))
        .map(str::to_string)
        .collect();
    tools.extend(listed.iter().map(ListedTool::responses_tool));
    if !tools.is_empty() {
        body.insert("tools".into(), Value::Array(tools));
    }
    body.insert("stream".into(), Value::Bool(false));
    let mut input: Vec<Value> = match body.remove("input") {
        Some(Value::String(text)) => {
            vec![json!({"type": "message", "role": "user", "content": text})]
        }
        Some(Value::Array(items)) => items,
        _ => {
            return Err(LlmError::invalid(
                "`input` must be a string or a list of items",
            ))
        }
    };
    let mut items = vec![json!({
        "type": "mcp_list_tools",
        "id": usage::new_id("mcpl_"),
        "server_label": mcp.server_label,
        "tools": listed.iter().map(|t| json!({
            "name": t.name,
            "description": t.description,
            "input_schema": t.parameters,
            "annotations": t.raw.get("annotations").cloned().unwrap_or(Value::Null),
        })).collect::<Vec<_>>(),
    })];
    let mut total_usage = None;
    let mut executed = 0u32;
    loop {
        body.insert("input".into(), Value::Array(input.clone()));
        let mut resp = openai::call_json(
            &state.client,
            provider,
            "/responses",
            &Value::Object(body.clone()),
        )
        .await?;
        usage::add(&mut total_usage, resp.get("usage"));
        let output: Vec<Value> = resp
            .get("output")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| {
                LlmError::provider(format!(
                    "model `{model_name}`: the provider's answer has no `output` list"
                ))
            })?;
        let calls: Vec<&Value> = output
            .iter()
            .filter(|i| i.get("type").and_then(Value::as_str) == Some("function_call"))
            .collect();
        let runnable: Vec<(String, String, String)> = calls
            .iter()
            .filter_map(|c| {
                let name = c.get("name")?.as_str()?;
                (!clients.contains(name)).then(|| {
                    (
                        c.get("call_id")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        name.to_string(),
                        c.get("arguments")
                            .and_then(Value::as_str)
                            .unwrap_or("{}")
                            .to_string(),
                    )
                })
            })
            .collect();
        let hand_back = !mcp.auto_execute || calls.is_empty() || runnable.len() != calls.len();
        if hand_back || executed >= rounds {
            items.extend(output);
            resp["output"] = Value::Array(items);
            if let Some(u) = total_usage {
                resp["usage"] = u;
            }
            if !hand_back {
                // meshgate's marker: rounds ran out with the model still calling tools.
                resp["status"] = json!("incomplete");
                resp["incomplete_details"] = json!({"reason": "max_tool_rounds"});
            }
            return Ok(resp);
        }
        let outcomes = gw.call_all(runnable).await;
        input.extend(output.iter().cloned());
        for o in &outcomes {
            tracing::debug!(tool = %o.name, ms = o.took.as_millis() as u64, "LLM loop: tool call done");
            input.push(json!({
                "type": "function_call_output",
                "call_id": o.call_id,
                "output": o.output,
            }));
            items.push(json!({
                "type": "mcp_call",
                "id": usage::new_id("mcp_"),
                "server_label": mcp.server_label,
                "name": o.name,
                "arguments": o.arguments,
                "output": if o.error.is_some() { Value::Null } else { json!(o.output) },
                "error": o.error,
                "status": if o.error.is_some() { "failed" } else { "completed" },
            }));
        }
        executed += 1;
        body.remove("tool_choice");
    }
}
