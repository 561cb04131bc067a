//! The conversions over an rmcp client session (feature `client`, on by default).
//!
//! Every function takes the session's [`Peer<RoleClient>`]; a
//! `rmcp::service::RunningService<RoleClient, _>` (what `().serve(transport)` returns)
//! dereferences to one, so `&client` works where `&Peer` is asked.

use rmcp::model::{CallToolRequestParams, CallToolResult, PaginatedRequestParams, Tool};
use rmcp::{Peer, RoleClient};
use serde_json::Value;
use std::collections::HashSet;

use crate::calls::{
    anthropic_tool_use_to_mcp_call, mcp_result_to_anthropic_tool_result,
    mcp_result_to_openai_tool_message, openai_tool_call_to_mcp_call, AnthropicToolResult,
    AnthropicToolUse, McpCall, OpenAiToolCall, OpenAiToolMessage,
};
use crate::error::{shown, BridgeError};
use crate::tools::{convert_tool, Format, McpTool};

/// Most `tools/list` pages [`list_mcp_tools`] reads before it stops (with the tools read
/// so far), so a server that keeps handing out new cursors cannot hold the caller.
pub const MAX_TOOL_PAGES: usize = 100;

impl From<&Tool> for McpTool {
    fn from(tool: &Tool) -> Self {
        Self {
            name: tool.name.to_string(),
            description: tool.description.as_ref().map(|d| d.to_string()),
            input_schema: Some(Value::Object((*tool.input_schema).clone())),
        }
    }
}

impl From<McpCall> for CallToolRequestParams {
    fn from(call: McpCall) -> Self {
        CallToolRequestParams::new(call.name).with_arguments(call.arguments)
    }
}

/// Lists every tool of the session, following `nextCursor` page by page. Stops (and
/// returns what it has) when a server repeats a cursor or after [`MAX_TOOL_PAGES`]
/// pages, as LiteLLM's `list_tools_with_pagination` does.
pub async fn list_mcp_tools(peer: &Peer<RoleClient>) -> Result<Vec<Tool>, BridgeError> {
    let mut tools = Vec::new();
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_TOOL_PAGES {
        let params = cursor
            .take()
            .map(|c| PaginatedRequestParams::default().with_cursor(Some(c)));
        let page = peer
            .list_tools(params)
            .await
            .map_err(BridgeError::ListTools)?;
        tools.extend(page.tools);
        match page.next_cursor {
            Some(next) if !next.is_empty() && seen.insert(next.clone()) => cursor = Some(next),
            _ => break,
        }
    }
    Ok(tools)
}

/// Loads every tool of the session in `format` (LiteLLM's `load_mcp_tools`), as JSON
/// ready for a request's `tools`: [`Format::OpenAi`] for Chat Completions,
/// [`Format::OpenAiResponses`] for the Responses API, [`Format::Anthropic`] for
/// Messages, [`Format::Mcp`] for the tools as listed.
///
/// ```no_run
/// # async fn demo(client: rmcp::service::RunningService<rmcp::RoleClient, ()>)
/// # -> Result<(), meshgate_bridge::BridgeError> {
/// use meshgate_bridge::{load_mcp_tools, Format};
///
/// let tools = load_mcp_tools(&client, Format::OpenAi).await?;
/// let request = serde_json::json!({"model": "gpt-4o", "tools": tools, "messages": []});
/// # let _ = request;
/// # Ok(())
/// # }
/// ```
pub async fn load_mcp_tools(
    peer: &Peer<RoleClient>,
    format: Format,
) -> Result<Vec<Value>, BridgeError> {
    let tools = list_mcp_tools(peer).await?;
    Ok(tools
        .iter()
        .map(|t| convert_tool(&McpTool::from(t), format))
        .collect())
}

/// Calls a tool on the session with MCP `tools/call` params (LiteLLM's `call_mcp_tool`).
pub async fn call_mcp_tool(
    peer: &Peer<RoleClient>,
    call: McpCall,
) -> Result<CallToolResult, BridgeError> {
    let tool = shown(&call.name);
    peer.call_tool(call.into())
        .await
        .map_err(|source| BridgeError::CallTool { tool, source })
}

/// Runs an OpenAI tool call on the session and answers with the tool message to append
/// to the conversation (LiteLLM's `call_openai_tool`, which returns the raw result
/// instead). Arguments that are not a JSON object are refused before anything is sent.
///
/// ```no_run
/// # async fn demo(client: rmcp::service::RunningService<rmcp::RoleClient, ()>)
/// # -> Result<(), meshgate_bridge::BridgeError> {
/// use meshgate_bridge::{call_openai_tool, OpenAiToolCall};
///
/// // As found in `choices[0].message.tool_calls[0]` of a Chat Completions response:
/// let call = OpenAiToolCall::new("web-add", r#"{"a": 2, "b": 3}"#).with_id("call_1");
/// let message = call_openai_tool(&client, &call).await?;
/// assert_eq!(message.tool_call_id.as_deref(), Some("call_1"));
/// # Ok(())
/// # }
/// ```
pub async fn call_openai_tool(
    peer: &Peer<RoleClient>,
    call: &OpenAiToolCall,
) -> Result<OpenAiToolMessage, BridgeError> {
    let params = openai_tool_call_to_mcp_call(call)?;
    let result = call_mcp_tool(peer, params).await?;
    let result = result_json(&result)?;
    Ok(mcp_result_to_openai_tool_message(
        call.id.as_deref(),
        &result,
    ))
}

/// Runs an Anthropic `tool_use` block on the session and answers with the `tool_result`
/// block to send back in the next user message.
pub async fn call_anthropic_tool(
    peer: &Peer<RoleClient>,
    block: &AnthropicToolUse,
) -> Result<AnthropicToolResult, BridgeError> {
    let params = anthropic_tool_use_to_mcp_call(block)?;
    let result = call_mcp_tool(peer, params).await?;
    let result = result_json(&result)?;
    Ok(mcp_result_to_anthropic_tool_result(&block.id, &result))
}

fn result_json(result: &CallToolResult) -> Result<Value, BridgeError> {
    serde_json::to_value(result).map_err(|source| BridgeError::Json {
        what: "the CallToolResult",
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rmcp_tools_convert_like_their_json() {
        let wire = json!({"name": "web-add", "description": "Adds.",
                          "inputSchema": {"type": "object", "properties": {"a": {"type": "number"}}}});
        let tool: Result<Tool, _> = serde_json::from_value(wire.clone());
        let Ok(tool) = tool else {
            unreachable!("a valid tool")
        };
        let from_rmcp = McpTool::from(&tool);
        let from_json = McpTool::from_value(&wire).map_err(|e| e.to_string());
        assert_eq!(Ok(from_rmcp.clone()), from_json);
        assert_eq!(
            convert_tool(&from_rmcp, Format::OpenAi)["function"]["parameters"],
            json!({"type": "object", "properties": {"a": {"type": "number"}}, "additionalProperties": false})
        );
    }

    #[test]
    fn mcp_calls_become_rmcp_params() {
        let call = McpCall {
            name: "echo".into(),
            arguments: serde_json::Map::from_iter([("text".to_string(), json!("hi"))]),
        };
        let params = CallToolRequestParams::from(call);
        assert_eq!(
            serde_json::to_value(&params).ok(),
            Some(json!({"name": "echo", "arguments": {"text": "hi"}}))
        );
    }
}
