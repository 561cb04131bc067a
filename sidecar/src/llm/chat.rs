//! The tool loop on Chat Completions: the key's MCP tools offered as functions, the
//! model's calls of a round run in parallel (`tools::Gateway::call_all`), their results
//! fed back as `tool` messages, up to the round limit; the answer carries LiteLLM's
//! `message.provider_specific_fields` (`mcp_list_tools`, `mcp_tool_calls`,
//! `mcp_call_results`) and the usage of every round.
//!
//! [`ChatLoop`] holds the round logic both paths share: this file's [`run`] (one JSON
//! answer) and `stream::chat` (chunks as they come).

use serde_json::{json, Map, Value};
use std::collections::HashSet;

use super::error::LlmError;
use super::providers::{self, Provider};
use super::tools::{CallOutcome, Gateway, ListedTool, McpRequest, ToolCall};
use super::usage;
use crate::state::AppState;

/// What to do after a model's answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Run these calls (all of the answer's) and ask the model again.
    Run(Vec<ToolCall>),
    /// The answer is the last one; `exhausted`: the rounds ran out with the model
    /// still calling tools.
    Finish { exhausted: bool },
}

/// One Chat Completions request's loop state.
pub struct ChatLoop {
    /// The provider's request, without `messages`.
    body: Map<String, Value>,
    pub messages: Vec<Value>,
    /// The function tools made of the key's MCP tools.
    pub offered: Vec<Value>,
    /// The client's own function tools: a call of one goes back to the client.
    clients: HashSet<String>,
    approval: super::approval::ApprovalPolicy,
    pub total_usage: Option<Value>,
    pub calls_made: Vec<Value>,
    pub results: Vec<Value>,
    executed: u32,
    rounds: u32,
    /// The client asked for a usage chunk (`stream_options.include_usage`).
    wants_usage: bool,
}

impl ChatLoop {
    /// Checks the request and takes it apart; `stream`: each round is asked for as an
    /// event stream (the client's `stream_options` kept), else as one JSON answer.
    pub fn new(
        mut body: Map<String, Value>,
        mcp: &McpRequest,
        rounds: u32,
        stream: bool,
    ) -> Result<Self, LlmError> {
        let messages = match body.remove("messages") {
            Some(Value::Array(m)) => m,
            _ => return Err(LlmError::invalid("`messages` must be a list")),
        };
        body.insert("stream".into(), Value::Bool(stream));
        let wants_usage = body
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .and_then(Value::as_bool)
            == Some(true);
        if stream {
            // Every round's usage, for the request's spend row; relayed only when the
            // client asked for it.
            body.insert("stream_options".into(), json!({"include_usage": true}));
        } else {
            body.remove("stream_options");
        }
        Ok(ChatLoop {
            body,
            messages,
            offered: Vec::new(),
            clients: HashSet::new(),
            approval: mcp.approval.clone(),
            total_usage: None,
            calls_made: Vec::new(),
            results: Vec::new(),
            executed: 0,
            rounds,
            wants_usage,
        })
    }

    /// Offers the key's tools (listed by `Gateway::list`) beside the client's own.
    pub fn offer(&mut self, listed: &[ListedTool]) {
        self.offered = listed.iter().map(ListedTool::chat_tool).collect();
        self.clients =
            super::tools::offer_tools(&mut self.body, listed, self.offered.iter().cloned(), |t| {
                t.pointer("/function/name").and_then(Value::as_str)
            });
    }

    /// The client asked for a usage chunk (`stream_options.include_usage`).
    pub fn wants_usage(&self) -> bool {
        self.wants_usage
    }

    /// The provider's request for the next round.
    pub fn request(&self) -> Value {
        let mut body = self.body.clone();
        body.insert("messages".into(), Value::Array(self.messages.clone()));
        Value::Object(body)
    }

    /// What the model's `message` (with its `tool_calls`) asks for.
    pub fn next(&self, message: &Value) -> Next {
        let tool_calls = message
            .get("tool_calls")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let runnable: Vec<ToolCall> = tool_calls
            .iter()
            .filter_map(|c| {
                let name = c.pointer("/function/name")?.as_str()?;
                // Not the client's: run through the MCP path (an unknown name gets
                // "Tool ... not found" back, as LiteLLM's clients see it).
                (!self.clients.contains(name)).then(|| ToolCall {
                    call_id: str_at(c, "/id", ""),
                    name: name.to_string(),
                    arguments: str_at(c, "/function/arguments", "{}"),
                })
            })
            .collect();
        // The client runs the calls itself: approval asked for, or a call of one of its
        // own tools among them.
        let asks = runnable.iter().any(|c| self.approval.asks(&c.name));
        let hand_back = asks || tool_calls.is_empty() || runnable.len() != tool_calls.len();
        if hand_back || self.executed >= self.rounds {
            Next::Finish {
                exhausted: !hand_back,
            }
        } else {
            Next::Run(runnable)
        }
    }

    /// Feeds a round's results back; returns them as `mcp_call_results` entries.
    pub fn record(&mut self, message: Value, outcomes: &[CallOutcome]) -> Vec<Value> {
        if let Some(calls) = message.get("tool_calls").and_then(Value::as_array) {
            self.calls_made.extend(calls.iter().cloned());
        }
        self.messages.push(message);
        let mut round = Vec::new();
        for o in outcomes {
            tracing::debug!(tool = %o.name, ms = o.took.as_millis() as u64, "LLM loop: tool call done");
            self.messages.push(json!({
                "role": "tool",
                "tool_call_id": o.call_id,
                "content": o.output,
            }));
            round.push(json!({
                "tool_call_id": o.call_id,
                "name": o.name,
                "result": o.output,
                "is_error": o.error.is_some(),
            }));
        }
        self.results.extend(round.iter().cloned());
        self.executed += 1;
        // A forced choice would make every round call a tool again (LiteLLM drops it
        // for its follow-up call too).
        self.body.remove("tool_choice");
        round
    }

    /// The last answer with LiteLLM's fields and the summed usage.
    pub fn finish(&mut self, resp: &mut Value, exhausted: bool) {
        if let Some(u) = &self.total_usage {
            resp["usage"] = u.clone();
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
        fields.insert("mcp_list_tools".into(), Value::Array(self.offered.clone()));
        fields.insert(
            "mcp_tool_calls".into(),
            Value::Array(std::mem::take(&mut self.calls_made)),
        );
        fields.insert(
            "mcp_call_results".into(),
            Value::Array(std::mem::take(&mut self.results)),
        );
        if exhausted {
            // meshgate's marker: the rounds ran out with the model still calling tools
            // (its last calls are in `tool_calls`, not executed).
            fields.insert("mcp_tool_rounds_exhausted".into(), Value::Bool(true));
        }
        message["provider_specific_fields"] = Value::Object(fields);
    }
}

fn str_at(v: &Value, pointer: &str, default: &str) -> String {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or(default)
        .to_string()
}

/// The loop with one JSON answer (`stream: false`).
pub async fn run(
    state: &AppState,
    provider: &Provider,
    gw: &Gateway<'_>,
    mcp: &McpRequest,
    lp: &mut ChatLoop,
    model_name: &str,
) -> Result<Value, LlmError> {
    lp.offer(&gw.list(mcp).await?);
    loop {
        let mut resp =
            providers::call_json(&state.client, provider, "/chat/completions", &lp.request())
                .await?;
        usage::add(&mut lp.total_usage, resp.get("usage"));
        let message = resp.pointer("/choices/0/message").cloned().ok_or_else(|| {
            LlmError::provider(format!(
                "model `{model_name}`: the provider's answer has no choices[0].message"
            ))
        })?;
        match lp.next(&message) {
            Next::Finish { exhausted } => {
                lp.finish(&mut resp, exhausted);
                return Ok(resp);
            }
            Next::Run(calls) => {
                let outcomes = gw.call_all(calls).await;
                lp.record(message, &outcomes);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshgate_policy::paths::LlmRoute;

    fn looping(tools: Value, never: bool, rounds: u32) -> ChatLoop {
        let approval = if never { "never" } else { "always" };
        let mut body = json!({"messages": [{"role": "user", "content": "hi"}], "tools": tools});
        body["tools"].as_array_mut().unwrap().push(
            json!({"type": "mcp", "server_url": "litellm_proxy", "require_approval": approval}),
        );
        let Value::Object(mut map) = body else {
            unreachable!()
        };
        let mcp = McpRequest::take(&mut map, LlmRoute::ChatCompletions)
            .unwrap()
            .unwrap();
        let mut lp = ChatLoop::new(map, &mcp, rounds, true).unwrap();
        lp.offer(&[ListedTool {
            name: "demo-echo".into(),
            description: String::new(),
            parameters: json!({"type": "object", "properties": {}}),
            raw: json!({}),
        }]);
        lp
    }

    fn calling(names: &[&str]) -> Value {
        let calls: Vec<Value> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                json!({"id": format!("c{i}"), "type": "function",
                "function": {"name": n, "arguments": "{}"}})
            })
            .collect();
        json!({"role": "assistant", "content": null, "tool_calls": calls})
    }

    #[test]
    fn a_round_runs_only_when_every_call_is_the_gateways_and_rounds_remain() {
        let mine = json!([{"type": "function", "function": {"name": "mine"}}]);
        let mut lp = looping(mine.clone(), true, 1);
        assert_eq!(
            lp.request()["tools"].as_array().unwrap().len(),
            2,
            "the client's tool and the gateway's"
        );
        assert!(
            matches!(lp.next(&calling(&["demo-echo", "made-up"])), Next::Run(c) if c.len() == 2)
        );
        assert_eq!(
            lp.next(&calling(&["demo-echo", "mine"])),
            Next::Finish { exhausted: false },
            "a call of the client's own tool hands the round back"
        );
        assert_eq!(
            lp.next(&json!({"role": "assistant", "content": "done"})),
            Next::Finish { exhausted: false }
        );
        let results = lp.record(
            calling(&["demo-echo"]),
            &[CallOutcome {
                call_id: "c0".into(),
                name: "demo-echo".into(),
                output: "x".into(),
                error: None,
                took: std::time::Duration::ZERO,
            }],
        );
        assert_eq!(results[0]["tool_call_id"], "c0");
        assert_eq!(
            lp.next(&calling(&["demo-echo"])),
            Next::Finish { exhausted: true },
            "one round allowed, one run"
        );
        let lp = looping(mine, false, 3);
        assert_eq!(
            lp.next(&calling(&["demo-echo"])),
            Next::Finish { exhausted: false },
            "without require_approval: never the calls go back"
        );
    }
}
