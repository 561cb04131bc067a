//! The tool loop on the Responses API: the key's MCP tools offered as functions, the
//! model's `function_call`s of a round run in parallel, fed back as
//! `function_call_output` items (the round's output items and results appended to the
//! input, so stateless providers work too), up to the round limit. The answer's
//! `output` starts with an `mcp_list_tools` item, then per executed round the round's
//! items in the provider's order with each call replaced by an `mcp_call` item
//! (arguments, output, error), then the final response's own items; `usage` sums every
//! round.
//!
//! [`ResponsesLoop`] holds the round logic both paths share: this file's [`run`] (one
//! JSON answer) and `stream::responses` (events as they come).

use serde_json::{json, Map, Value};
use std::collections::HashSet;

use super::approval;
use super::chat::Next;
use super::error::LlmError;
use super::providers::{self, Provider};
use super::tools::{CallOutcome, Gateway, ListedTool, McpRequest, ToolCall};
use super::usage;
use crate::state::AppState;

/// One Responses request's loop state.
pub struct ResponsesLoop {
    /// The provider's request, without `input`.
    body: Map<String, Value>,
    input: Vec<Value>,
    /// The answer's output so far (the gateway's items and executed rounds' items).
    pub items: Vec<Value>,
    clients: HashSet<String>,
    auto_execute: bool,
    approval: super::approval::ApprovalPolicy,
    pub server_label: String,
    pub total_usage: Option<Value>,
    executed: u32,
    rounds: u32,
}

impl ResponsesLoop {
    /// Checks the request and takes it apart; `stream`: each round is asked for as an
    /// event stream.
    pub fn new(
        mut body: Map<String, Value>,
        mcp: &McpRequest,
        rounds: u32,
        stream: bool,
    ) -> Result<Self, LlmError> {
        let input: Vec<Value> = match body.remove("input") {
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
        body.insert("stream".into(), Value::Bool(stream));
        Ok(ResponsesLoop {
            body,
            input,
            items: Vec::new(),
            clients: HashSet::new(),
            auto_execute: mcp.auto_execute,
            approval: mcp.approval.clone(),
            server_label: mcp.server_label.clone(),
            total_usage: None,
            executed: 0,
            rounds,
        })
    }

    /// Offers the key's tools beside the client's own; returns the `mcp_list_tools`
    /// item (the answer's first).
    pub fn offer(&mut self, listed: &[ListedTool], item_id: String) -> Value {
        self.clients = super::tools::offer_tools(
            &mut self.body,
            listed,
            listed.iter().map(ListedTool::responses_tool),
            |t| t.get("name").and_then(Value::as_str),
        );
        let item = json!({
            "type": "mcp_list_tools",
            "id": item_id,
            "server_label": self.server_label,
            "tools": listed.iter().map(|t| json!({
                "name": t.name,
                "description": t.description,
                "input_schema": t.parameters,
                "annotations": t.raw.get("annotations").cloned().unwrap_or(Value::Null),
            })).collect::<Vec<_>>(),
        });
        self.items.push(item.clone());
        item
    }

    /// The provider's input (approved calls' results are filled in here).
    pub fn input_mut(&mut self) -> &mut Vec<Value> {
        &mut self.input
    }

    /// The provider's request for the next round.
    pub fn request(&self) -> Value {
        let mut body = self.body.clone();
        body.insert("input".into(), Value::Array(self.input.clone()));
        Value::Object(body)
    }

    /// Every call the next round makes will run (the gateway runs the calls, the client
    /// has no function tools of its own, rounds remain): the stream may announce the
    /// calls while their arguments arrive.
    pub fn runs_every_call(&self) -> bool {
        self.auto_execute && self.clients.is_empty() && self.executed < self.rounds
    }

    /// The round's calls that the gateway could run (not the client's own tools), and
    /// how many calls the round made.
    fn runnable(&self, output: &[Value]) -> (Vec<ToolCall>, usize) {
        let calls: Vec<&Value> = output.iter().filter(|i| is_call(i)).collect();
        let runnable = calls
            .iter()
            .filter_map(|c| {
                let name = c.get("name")?.as_str()?;
                (!self.clients.contains(name)).then(|| ToolCall {
                    call_id: str_of(c, "call_id", ""),
                    name: name.to_string(),
                    arguments: str_of(c, "arguments", "{}"),
                })
            })
            .collect();
        (runnable, calls.len())
    }

    /// A round whose calls are all the gateway's, some needing the client's approval
    /// (rounds left): (the calls that run now, the calls to ask about). The answer
    /// then ends with `mcp_approval_request` items (`approval.rs`).
    pub fn asking(&self, output: &[Value]) -> Option<(Vec<ToolCall>, Vec<ToolCall>)> {
        let (runnable, made) = self.runnable(output);
        if made == 0 || runnable.len() != made || self.executed >= self.rounds {
            return None;
        }
        let (ask, run): (Vec<ToolCall>, Vec<ToolCall>) = runnable
            .into_iter()
            .partition(|c| self.approval.asks(&c.name));
        (!ask.is_empty()).then_some((run, ask))
    }

    /// What a round's `output` asks for.
    pub fn next(&self, output: &[Value]) -> Next {
        let (runnable, made) = self.runnable(output);
        if made == 0 || runnable.len() != made {
            // No calls, or one of the client's own tools: the round goes back.
            Next::Finish { exhausted: false }
        } else if self.executed >= self.rounds {
            Next::Finish { exhausted: true }
        } else if runnable.iter().any(|c| self.approval.asks(&c.name)) {
            // Callers ask for approval first (`asking`); handed back if they do not.
            Next::Finish { exhausted: false }
        } else {
            Next::Run(runnable)
        }
    }

    /// An `mcp_call` output item; without an outcome, the call still running.
    pub fn call_item(&self, id: &str, call: &ToolCall, outcome: Option<&CallOutcome>) -> Value {
        let (output, error, status) = match outcome {
            None => (Value::Null, Value::Null, "in_progress"),
            Some(o) => match &o.error {
                Some(e) => (Value::Null, json!(e), "failed"),
                None => (json!(o.output), Value::Null, "completed"),
            },
        };
        json!({
            "type": "mcp_call",
            "id": id,
            "server_label": self.server_label,
            "name": call.name,
            "arguments": call.arguments,
            "output": output,
            "error": error,
            "status": status,
        })
    }

    /// Feeds a round back: its output and the results go to the input; its items to
    /// the answer, each call as an `mcp_call` item (`ids[i]` for `calls[i]`, in the
    /// order of the output's calls).
    pub fn record(
        &mut self,
        output: Vec<Value>,
        calls: &[ToolCall],
        ids: &[String],
        outcomes: &[CallOutcome],
    ) {
        // The round's items in the provider's order, each call replaced by its
        // `mcp_call` item.
        let mut done = calls.iter().zip(ids).zip(outcomes);
        for item in &output {
            if !is_call(item) {
                self.items.push(item.clone());
            } else if let Some(((call, id), o)) = done.next() {
                self.items.push(self.call_item(id, call, Some(o)));
            }
        }
        self.input.extend(output);
        for o in outcomes {
            tracing::debug!(tool = %o.name, ms = o.took.as_millis() as u64, "LLM loop: tool call done");
            self.input.push(json!({
                "type": "function_call_output",
                "call_id": o.call_id,
                "output": o.output,
            }));
        }
        self.executed += 1;
        self.body.remove("tool_choice");
    }

    /// The last response with the whole output and the summed usage.
    pub fn finish(&mut self, mut resp: Value, output: Vec<Value>, exhausted: bool) -> Value {
        let mut items = std::mem::take(&mut self.items);
        items.extend(output);
        resp["output"] = Value::Array(items);
        if let Some(u) = &self.total_usage {
            resp["usage"] = u.clone();
        }
        if exhausted {
            // meshgate's marker: rounds ran out with the model still calling tools.
            resp["status"] = json!("incomplete");
            resp["incomplete_details"] = json!({"reason": "max_tool_rounds"});
        }
        resp
    }
}

/// A `function_call` output item.
pub fn is_call(item: &Value) -> bool {
    item.get("type").and_then(Value::as_str) == Some("function_call")
}

fn str_of(v: &Value, key: &str, default: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or(default)
        .to_string()
}

/// The round's `output` list of a provider's response.
pub fn output_of(resp: &Value, model_name: &str) -> Result<Vec<Value>, LlmError> {
    resp.get("output")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| {
            LlmError::provider(format!(
                "model `{model_name}`: the provider's answer has no `output` list"
            ))
        })
}

/// The loop with one JSON answer (`stream: false`).
pub async fn run(
    state: &AppState,
    provider: &Provider,
    gw: &Gateway<'_>,
    mcp: &McpRequest,
    lp: &mut ResponsesLoop,
    model_name: &str,
) -> Result<Value, LlmError> {
    let listed = gw.list(mcp).await?;
    lp.offer(&listed, usage::new_id("mcpl_"));
    approval::run_approved(gw, lp, mcp.approved.clone(), &listed).await;
    loop {
        let resp =
            providers::call_json(&state.client, provider, "/responses", &lp.request()).await?;
        usage::add(&mut lp.total_usage, resp.get("usage"));
        let output = output_of(&resp, model_name)?;
        if let Some((run, ask)) = lp.asking(&output) {
            let outcomes = gw.call_all(run.clone()).await;
            let ran: Vec<_> = run
                .into_iter()
                .zip(outcomes)
                .map(|(c, o)| (c, usage::new_id("mcp_"), o))
                .collect();
            let items = approval::asked_items(lp, &gw.signer(), output, &ran, &ask);
            return Ok(lp.finish(resp, items, false));
        }
        match lp.next(&output) {
            Next::Finish { exhausted } => return Ok(lp.finish(resp, output, exhausted)),
            Next::Run(calls) => {
                let ids: Vec<String> = calls.iter().map(|_| usage::new_id("mcp_")).collect();
                let outcomes = gw.call_all(calls.clone()).await;
                lp.record(output, &calls, &ids, &outcomes);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshgate_policy::paths::LlmRoute;

    #[test]
    fn an_executed_round_keeps_its_items_in_order_with_calls_as_mcp_calls() {
        let Value::Object(mut body) = json!({"input": "hi", "tools": [
            {"type": "mcp", "server_label": "gw", "server_url": "litellm_proxy", "require_approval": "never"}]})
        else {
            unreachable!()
        };
        let mcp = McpRequest::take(&mut body, LlmRoute::Responses)
            .unwrap()
            .unwrap();
        let mut lp = ResponsesLoop::new(body, &mcp, 8, false).unwrap();
        lp.offer(&[], "mcpl_1".into());
        let output = vec![
            json!({"type": "message", "id": "msg_0", "role": "assistant", "content": []}),
            json!({"type": "function_call", "call_id": "c1", "name": "demo-echo", "arguments": "{}"}),
        ];
        let Next::Run(calls) = lp.next(&output) else {
            panic!("the gateway's call runs")
        };
        let outcome = CallOutcome {
            call_id: "c1".into(),
            name: "demo-echo".into(),
            output: "Tool call failed: no".into(),
            error: Some("Tool call failed: no".into()),
            took: std::time::Duration::ZERO,
        };
        lp.record(output, &calls, &["mcp_1".into()], &[outcome]);
        let input = lp.request()["input"].clone();
        assert_eq!(
            input.as_array().unwrap().len(),
            4,
            "user, message, call, output: {input}"
        );
        assert_eq!(input[3]["type"], "function_call_output");
        let last = json!({"type": "message", "id": "msg_1", "role": "assistant", "content": []});
        let whole = lp.finish(json!({"id": "r"}), vec![last], false);
        let ids: Vec<&str> = whole["output"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["mcpl_1", "msg_0", "mcp_1", "msg_1"]);
        assert_eq!(whole["output"][2]["status"], "failed");
        assert_eq!(whole["output"][2]["error"], "Tool call failed: no");
    }
}
