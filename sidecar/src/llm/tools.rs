//! The gateway's MCP tools inside an LLM request: `{"type": "mcp", "server_url":
//! "litellm_proxy…"}` entries taken out of `tools` ([`McpRequest`]), the key's tools
//! listed and called through the same code as `/mcp` (`mcp::tools::list` / `call`:
//! the same permissions, per-server credentials, guardrails, hooks and spend rows), and
//! converted to OpenAI function tools.

use futures_util::stream::{FuturesUnordered, Stream, StreamExt};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use meshgate_policy::paths::LlmRoute;
use meshgate_policy::Scope;

use super::error::LlmError;
use crate::mcp::context::{Answer, Ctx};
use crate::state::{AppState, Runtime};
use crate::verify::Principal;

/// The `server_url` (prefix) that names the gateway's own MCP servers.
const GATEWAY_URL: &str = "litellm_proxy";

/// What the request's MCP tool entries ask for.
#[derive(Debug, Clone)]
pub struct McpRequest {
    /// The first entry's `server_label` (LiteLLM's clients send `litellm`).
    pub server_label: String,
    /// Servers named by `litellm_proxy/mcp/<a,b>`; None: every server of the key.
    pub servers: Option<Vec<String>>,
    /// Union of the entries' `allowed_tools` (prefixed names); None: every tool.
    pub allowed_tools: Option<BTreeSet<String>>,
    /// The entries' `headers`, merged over the request's own.
    pub headers: Vec<(String, String)>,
    /// Some entry has `require_approval: "never"`: the gateway runs every call.
    pub auto_execute: bool,
    /// Which calls the client must approve first (`require_approval` of every entry).
    pub approval: super::approval::ApprovalPolicy,
    /// Calls the client approved in this request (Responses' `mcp_approval_response`),
    /// run before the first round (`approval::resume`).
    pub approved: Vec<ToolCall>,
}

impl McpRequest {
    /// Takes the gateway's MCP entries out of `body.tools` (the others stay for the
    /// provider); None when there are none.
    pub fn take(body: &mut Map<String, Value>, route: LlmRoute) -> Result<Option<Self>, LlmError> {
        let Some(Value::Array(tools)) = body.get_mut("tools") else {
            return Ok(None);
        };
        let (ours, theirs): (Vec<Value>, Vec<Value>) =
            std::mem::take(tools).into_iter().partition(is_gateway_tool);
        *tools = theirs;
        if tools.is_empty() {
            body.remove("tools");
        }
        if ours.is_empty() {
            return Ok(None);
        }
        let mut req = McpRequest {
            server_label: String::new(),
            servers: None,
            allowed_tools: None,
            headers: Vec::new(),
            auto_execute: false,
            approval: Default::default(),
            approved: Vec::new(),
        };
        let mut every_tool = false;
        let mut every_server = false;
        for (i, tool) in ours.iter().enumerate() {
            let at = format!("tools[mcp {i}]");
            if req.server_label.is_empty() {
                req.server_label = tool
                    .get("server_label")
                    .and_then(Value::as_str)
                    .unwrap_or("litellm")
                    .to_string();
            }
            let url = tool.get("server_url").and_then(Value::as_str).unwrap_or("");
            match url
                .strip_prefix(GATEWAY_URL)
                .map(|r| r.trim_start_matches('/'))
                .and_then(|r| r.strip_prefix("mcp"))
                .map(|r| r.trim_matches('/'))
            {
                Some(names) if !names.is_empty() => {
                    req.servers.get_or_insert_with(Vec::new).extend(
                        names
                            .split(',')
                            .map(|n| n.trim().to_string())
                            .filter(|n| !n.is_empty()),
                    )
                }
                _ => every_server = true,
            }
            match tool.get("allowed_tools") {
                None | Some(Value::Null) => every_tool = true,
                Some(Value::Array(names)) => {
                    let set = req.allowed_tools.get_or_insert_with(BTreeSet::new);
                    for n in names {
                        // Responses' filter object form: {"tool_names": [...]}.
                        match n {
                            Value::String(s) => {
                                set.insert(s.clone());
                            }
                            _ => {
                                return Err(LlmError::invalid(format!(
                                    "{at}.allowed_tools must list tool names"
                                )))
                            }
                        }
                    }
                }
                Some(Value::Object(o)) => {
                    let set = req.allowed_tools.get_or_insert_with(BTreeSet::new);
                    for n in o
                        .get("tool_names")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        if let Some(s) = n.as_str() {
                            set.insert(s.to_string());
                        }
                    }
                }
                Some(_) => {
                    return Err(LlmError::invalid(format!(
                        "{at}.allowed_tools must be a list of tool names"
                    )))
                }
            }
            match tool.get("headers") {
                None | Some(Value::Null) => {}
                Some(Value::Object(h)) => {
                    for (name, value) in h {
                        let Some(value) = value.as_str() else {
                            return Err(LlmError::invalid(format!(
                                "{at}.headers.{name} must be a string"
                            )));
                        };
                        req.headers.push((name.clone(), value.to_string()));
                    }
                }
                Some(_) => {
                    return Err(LlmError::invalid(format!("{at}.headers must be an object")))
                }
            }
            req.approval.add(tool.get("require_approval"), &at)?;
            req.auto_execute = req.approval.never_asks();
        }
        if every_tool {
            req.allowed_tools = None;
        }
        if every_server {
            req.servers = None;
        }
        let _ = route;
        Ok(Some(req))
    }
}

fn is_gateway_tool(tool: &Value) -> bool {
    tool.get("type").and_then(Value::as_str) == Some("mcp")
        && tool
            .get("server_url")
            .and_then(Value::as_str)
            .is_some_and(|u| u.starts_with(GATEWAY_URL))
}

/// One MCP tool as listed for the key (prefixed name).
#[derive(Debug, Clone)]
pub struct ListedTool {
    pub name: String,
    pub description: String,
    /// The schema as the model gets it ([`normalize_schema`]).
    pub parameters: Value,
    /// The MCP tool as listed (for Responses' `mcp_list_tools`).
    pub raw: Value,
}

impl ListedTool {
    /// Chat Completions' function tool.
    pub fn chat_tool(&self) -> Value {
        json!({"type": "function", "function": {
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
            "strict": false,
        }})
    }

    /// Responses' function tool.
    pub fn responses_tool(&self) -> Value {
        json!({
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
            "strict": false,
        })
    }
}

/// LiteLLM's schema rule: an empty or missing schema is an object with no properties;
/// a schema without `type` or `properties` gets them.
/// Puts the key's tools (`ours`, already in the API's tool shape) beside the client's own
/// in `body["tools"]`; returns the names of the client's tools that are not the key's
/// (`name_of` reads a tool's name in that API's shape): calls to those go back to the
/// client.
pub fn offer_tools(
    body: &mut Map<String, Value>,
    listed: &[ListedTool],
    ours: impl Iterator<Item = Value>,
    name_of: fn(&Value) -> Option<&str>,
) -> std::collections::HashSet<String> {
    let keys: std::collections::HashSet<&str> = listed.iter().map(|t| t.name.as_str()).collect();
    let mut tools = match body.remove("tools") {
        Some(Value::Array(t)) => t,
        _ => Vec::new(),
    };
    let clients = tools
        .iter()
        .filter_map(name_of)
        .filter(|n| !keys.contains(n))
        .map(str::to_string)
        .collect();
    tools.extend(ours);
    if !tools.is_empty() {
        body.insert("tools".into(), Value::Array(tools));
    }
    clients
}

pub fn normalize_schema(schema: Option<&Value>) -> Value {
    let mut out = match schema {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    out.entry("type").or_insert_with(|| json!("object"));
    if out.get("type") == Some(&json!("object")) {
        out.entry("properties").or_insert_with(|| json!({}));
    }
    Value::Object(out)
}

/// One call the model asked for, as the loop runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    pub call_id: String,
    pub name: String,
    /// The arguments as the model sent them (a JSON text).
    pub arguments: String,
}

/// How one tool call ended, as the model and the client see it.
#[derive(Debug, Clone)]
pub struct CallOutcome {
    pub call_id: String,
    pub name: String,
    /// The text fed back to the model.
    pub output: String,
    /// Set when the call failed (the text the model got says so too).
    pub error: Option<String>,
    /// How long the call took (logged at debug level).
    pub took: std::time::Duration,
}

/// The gateway's MCP side of one LLM request: the request's context, as `/mcp` builds
/// it (principal, its servers, the client's headers with the tool entries' merged in).
pub struct Gateway<'a> {
    ctx: Ctx<'a>,
}

impl<'a> Gateway<'a> {
    /// The request's MCP side: the tool entries' `headers` merged over the client's,
    /// the principal narrowed to `litellm_proxy/mcp/<a,b>`. Errors are the client's
    /// (a bad header, servers the key may not use), answered before anything streams.
    pub fn prepare(
        runtime: &Runtime,
        mut principal: Principal,
        mut headers: HeaderMap,
        mcp: &McpRequest,
    ) -> Result<(Principal, HeaderMap), LlmError> {
        for (name, value) in &mcp.headers {
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) else {
                return Err(LlmError::invalid(format!(
                    "the MCP tool's header `{name}` is not a valid HTTP header"
                )));
            };
            headers.insert(name, value);
        }
        if let Some(asked) = &mcp.servers {
            let chosen: Vec<String> = runtime
                .upstreams
                .values()
                .filter(|u| principal.scope.allows(&u.name))
                .filter(|u| {
                    asked.iter().any(|a| {
                        a.eq_ignore_ascii_case(&u.name)
                            || a.eq_ignore_ascii_case(&u.prefix)
                            || u.config
                                .access_groups
                                .iter()
                                .any(|g| g.eq_ignore_ascii_case(a))
                    })
                })
                .map(|u| u.name.clone())
                .collect();
            if chosen.is_empty() {
                return Err(LlmError::invalid(format!(
                    "server_url names no MCP server or access group this key may use: {}",
                    asked.join(",")
                )));
            }
            principal.scope = Scope::only(&chosen);
        }
        Ok((principal, headers))
    }

    /// The context `/mcp` would build for this principal and these headers (from
    /// [`Gateway::prepare`]).
    pub fn new(
        state: &'a AppState,
        runtime: Arc<Runtime>,
        principal: Principal,
        headers: HeaderMap,
    ) -> Self {
        Gateway {
            // The model's arguments come from the provider, never through the filter.
            ctx: Ctx::new(state, runtime, principal, headers).with_unscanned_arguments(),
        }
    }

    /// Signs and checks this principal's approval request ids (`approval.rs`).
    pub fn signer(&self) -> super::approval::Signer<'_> {
        super::approval::Signer::new(&self.ctx.state.secret, self.ctx.principal.who.encode())
    }

    /// The key's MCP tools (prefixed names), as `/mcp` `tools/list` gives them, less
    /// those outside `allowed_tools`.
    pub async fn list(&self, mcp: &McpRequest) -> Result<Vec<ListedTool>, LlmError> {
        let listed = match crate::mcp::tools::list(&self.ctx).await {
            Ok(Answer::Raw(raw)) => serde_json::from_str::<Value>(raw.get()).unwrap_or(Value::Null),
            Ok(Answer::Value(v) | Answer::Initialized(v, _)) => v,
            Err(e) => {
                return Err(LlmError::provider(format!(
                    "the MCP tools could not be listed: {}",
                    e.message
                )))
            }
        };
        let mut seen = BTreeSet::new();
        Ok(listed
            .get("tools")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|t| {
                let name = t.get("name")?.as_str()?.to_string();
                if mcp
                    .allowed_tools
                    .as_ref()
                    .is_some_and(|a| !a.contains(&name))
                {
                    return None;
                }
                // First wins, as LiteLLM de-duplicates.
                if !seen.insert(name.clone()) {
                    return None;
                }
                Some(ListedTool {
                    description: t
                        .get("description")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    parameters: normalize_schema(t.get("inputSchema")),
                    raw: t.clone(),
                    name,
                })
            })
            .collect())
    }

    /// Runs one round's calls at once; outcomes in the calls' order.
    pub async fn call_all(&self, calls: Vec<ToolCall>) -> Vec<CallOutcome> {
        let mut done: Vec<(usize, CallOutcome)> = self.calls_as_done(calls).collect().await;
        done.sort_by_key(|(i, _)| *i);
        done.into_iter().map(|(_, o)| o).collect()
    }

    /// Runs one round's calls at once; each outcome (with the call's position) as soon
    /// as it is there (the streaming loop reports each call when it ends).
    pub fn calls_as_done(
        &self,
        calls: Vec<ToolCall>,
    ) -> impl Stream<Item = (usize, CallOutcome)> + Send + '_ {
        calls
            .into_iter()
            .enumerate()
            .map(|(i, c)| async move { (i, self.call(c.call_id, c.name, c.arguments).await) })
            .collect::<FuturesUnordered<_>>()
    }

    /// One call through `mcp::tools::call`; every failure becomes the text the model
    /// reads (LiteLLM's wording).
    async fn call(&self, call_id: String, name: String, arguments: String) -> CallOutcome {
        let started = Instant::now();
        let parsed = if arguments.trim().is_empty() {
            Ok(Value::Object(Map::new()))
        } else {
            serde_json::from_str::<Value>(&arguments)
        };
        let (output, error) = match parsed {
            Ok(args @ Value::Object(_)) => {
                let params = json!({"name": name, "arguments": args});
                match crate::mcp::tools::call(&self.ctx, Some(params)).await {
                    Ok(Answer::Raw(raw)) => {
                        result_text(&serde_json::from_str(raw.get()).unwrap_or(Value::Null))
                    }
                    Ok(Answer::Value(v) | Answer::Initialized(v, _)) => result_text(&v),
                    Err(e) => {
                        let text = format!("Error executing tool: {}", e.message);
                        (text.clone(), Some(text))
                    }
                }
            }
            Ok(_) | Err(_) => {
                let text = format!(
                    "Error executing tool: the arguments of `{name}` are not a JSON object"
                );
                (text.clone(), Some(text))
            }
        };
        CallOutcome {
            call_id,
            name,
            output,
            error,
            took: started.elapsed(),
        }
    }
}

/// A `CallToolResult` as the model reads it (LiteLLM's rule): the text contents joined
/// by a space, other contents named in brackets, `Tool executed successfully` when
/// empty; an `isError` result is `Tool call failed: <text>`.
fn result_text(result: &Value) -> (String, Option<String>) {
    let mut texts = Vec::new();
    let mut others = Vec::new();
    for c in result
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match c.get("type").and_then(Value::as_str) {
            Some("text") => texts.push(
                c.get("text")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            ),
            Some("image") => others.push("Generated Image"),
            Some("resource") => others.push("EmbeddedResource"),
            Some("resource_link") => others.push("ResourceLink"),
            Some("audio") => others.push("Audio"),
            _ => {}
        }
    }
    let mut text = texts.join(" ");
    if !others.is_empty() {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&format!("[{}]", others.join(", ")));
    }
    if text.is_empty() {
        if let Some(s) = result.get("structuredContent") {
            text = s.to_string();
        }
    }
    if result.get("isError").and_then(Value::as_bool) == Some(true) {
        let failed = format!(
            "Tool call failed: {}",
            if text.is_empty() {
                "the tool reported an error"
            } else {
                &text
            }
        );
        return (failed.clone(), Some(failed));
    }
    if text.is_empty() {
        text = "Tool executed successfully".to_string();
    }
    (text, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_are_normalized_as_litellm_does() {
        assert_eq!(
            normalize_schema(None),
            json!({"type": "object", "properties": {}})
        );
        assert_eq!(
            normalize_schema(Some(&json!({}))),
            json!({"type": "object", "properties": {}})
        );
        assert_eq!(
            normalize_schema(Some(&json!({"properties": {"a": {"type": "string"}}}))),
            json!({"type": "object", "properties": {"a": {"type": "string"}}})
        );
    }

    #[test]
    fn results_read_as_litellm_words_them() {
        assert_eq!(
            result_text(
                &json!({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]})
            )
            .0,
            "a b"
        );
        assert_eq!(
            result_text(&json!({"content": []})).0,
            "Tool executed successfully"
        );
        let (text, err) =
            result_text(&json!({"content": [{"type": "text", "text": "boom"}], "isError": true}));
        assert_eq!(text, "Tool call failed: boom");
        assert!(err.is_some());
    }

    #[test]
    fn gateway_entries_are_taken_out_of_tools() {
        let mut body = json!({"tools": [
            {"type": "mcp", "server_label": "litellm", "server_url": "litellm_proxy", "require_approval": "never"},
            {"type": "function", "function": {"name": "mine"}},
            {"type": "mcp", "server_label": "other", "server_url": "https://example.com/mcp"},
        ]});
        let Value::Object(map) = &mut body else {
            unreachable!()
        };
        let mcp = McpRequest::take(map, LlmRoute::ChatCompletions)
            .unwrap()
            .unwrap();
        assert!(mcp.auto_execute);
        assert_eq!(mcp.server_label, "litellm");
        assert!(mcp.servers.is_none() && mcp.allowed_tools.is_none());
        assert_eq!(
            map["tools"].as_array().unwrap().len(),
            2,
            "other tools stay"
        );
        let mut body = json!({"tools": [
            {"type": "mcp", "server_url": "litellm_proxy/mcp/a,b", "allowed_tools": ["a-x"]},
        ]});
        let Value::Object(map) = &mut body else {
            unreachable!()
        };
        let mcp = McpRequest::take(map, LlmRoute::Responses).unwrap().unwrap();
        assert!(!mcp.auto_execute);
        assert_eq!(
            mcp.servers.as_deref(),
            Some(&["a".to_string(), "b".to_string()][..])
        );
        assert!(!map.contains_key("tools"));
    }
}
