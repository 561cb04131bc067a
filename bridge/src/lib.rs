//! # meshgate-bridge
//!
//! MCP tools for LLM APIs. An MCP server (or the meshgate gateway) lists tools with a
//! JSON Schema each; OpenAI's and Anthropic's APIs want them in their own shapes, and
//! answer with tool calls that have to go back to MCP as `tools/call`. This crate does
//! both directions:
//!
//! | from | to | function |
//! | --- | --- | --- |
//! | MCP tool | Chat Completions function tool | [`mcp_tool_to_openai_tool`] |
//! | MCP tool | Responses API function tool | [`mcp_tool_to_responses_tool`] |
//! | MCP tool | Anthropic Messages tool | [`mcp_tool_to_anthropic_tool`] |
//! | OpenAI tool call | MCP `tools/call` params | [`openai_tool_call_to_mcp_call`] |
//! | Responses `function_call` | MCP `tools/call` params | [`responses_function_call_to_mcp_call`] |
//! | Anthropic `tool_use` | MCP `tools/call` params | [`anthropic_tool_use_to_mcp_call`] |
//! | MCP `CallToolResult` | OpenAI `tool` message | [`mcp_result_to_openai_tool_message`] |
//! | MCP `CallToolResult` | Responses `function_call_output` | [`mcp_result_to_responses_output`] |
//! | MCP `CallToolResult` | Anthropic `tool_result` block | [`mcp_result_to_anthropic_tool_result`] |
//!
//! It is the Rust counterpart of LiteLLM's `experimental_mcp_client` (`load_mcp_tools`,
//! `transform_mcp_tool_to_openai_tool`,
//! `transform_openai_tool_call_request_to_mcp_tool_call_request`, `call_openai_tool`)
//! and keeps its behaviour where clients can see it — schemas are normalized exactly as
//! LiteLLM does ([`normalize_openai_schema`]) — with three differences, all on the side
//! of telling the model what happened: tool-call arguments that are not a JSON object
//! are an error naming the tool (LiteLLM calls the tool with `{}`); a result with only
//! `structuredContent` reads as that JSON (LiteLLM: "Tool executed successfully"); and
//! Anthropic schemas keep their top-level `anyOf`/`oneOf`/`allOf` properties
//! ([`normalize_anthropic_schema`]; LiteLLM drops them).
//!
//! The conversions are pure (serde_json in, serde_json out) and never panic. With the
//! `client` feature (on by default) the crate also runs them over an
//! [rmcp](https://docs.rs/rmcp) client session: [`load_mcp_tools`] and
//! [`call_openai_tool`]. meshgate's sidecar serves the same conversions over HTTP
//! (`GET /mcp-rest/tools/list?format=openai`, `POST /mcp-rest/tools/call` with an OpenAI
//! tool call), for clients in any language.
//!
//! ## Converting tools
//!
//! ```
//! use meshgate_bridge::{mcp_tool_to_openai_tool, McpTool};
//! use serde_json::json;
//!
//! // One entry of an MCP `tools/list` result:
//! let listed = json!({"name": "web-add", "description": "Adds two numbers.",
//!                     "inputSchema": {"type": "object",
//!                                     "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
//!                                     "required": ["a", "b"]}});
//! let tool = McpTool::from_value(&listed)?;
//! let openai = serde_json::to_value(mcp_tool_to_openai_tool(&tool)).unwrap();
//! assert_eq!(openai["type"], "function");
//! assert_eq!(openai["function"]["name"], "web-add");
//! assert_eq!(openai["function"]["parameters"]["additionalProperties"], false);
//! # Ok::<(), meshgate_bridge::BridgeError>(())
//! ```
//!
//! ## Running the model's tool calls
//!
//! ```
//! use meshgate_bridge::{mcp_result_to_openai_tool_message, openai_tool_call_to_mcp_call, OpenAiToolCall};
//! use serde_json::json;
//!
//! // From `choices[0].message.tool_calls[0]`:
//! let call = OpenAiToolCall::from_value(&json!({
//!     "id": "call_1", "type": "function",
//!     "function": {"name": "web-add", "arguments": "{\"a\": 2, \"b\": 3}"}}))?;
//! let params = openai_tool_call_to_mcp_call(&call)?; // send as MCP tools/call
//! assert_eq!(params.arguments["b"], 3);
//!
//! // The server's CallToolResult, back to the model:
//! let result = json!({"content": [{"type": "text", "text": "5"}]});
//! let message = mcp_result_to_openai_tool_message(call.id.as_deref(), &result);
//! assert_eq!(serde_json::to_value(&message).unwrap(),
//!            json!({"role": "tool", "tool_call_id": "call_1", "content": "5"}));
//! # Ok::<(), meshgate_bridge::BridgeError>(())
//! ```
//!
//! ## Over an rmcp session
//!
//! ```no_run
//! # #[cfg(feature = "client")]
//! # mod demo {
//! use meshgate_bridge::{call_openai_tool, load_mcp_tools, Format, OpenAiToolCall};
//! use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
//! use rmcp::transport::StreamableHttpClientTransport;
//! use rmcp::ServiceExt;
//!
//! # pub async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = StreamableHttpClientTransportConfig::with_uri("http://mesh.local/mcp")
//!     .auth_header("sk-my-key");
//! let client = ().serve(StreamableHttpClientTransport::from_config(config)).await?;
//!
//! let tools = load_mcp_tools(&client, Format::OpenAi).await?; // → "tools" of a request
//! # let _ = tools;
//! let call = OpenAiToolCall::new("web-add", r#"{"a": 2, "b": 3}"#).with_id("call_1");
//! let message = call_openai_tool(&client, &call).await?;     // → next "messages" entry
//! println!("{}", message.content);
//! # Ok(())
//! # }
//! # }
//! ```
//!
//! A complete program is `examples/openai_tools.rs`.
//!
//! ## Features
//!
//! - `client` (default): the async helpers over an rmcp client session. Without it
//!   the crate depends only on serde, serde_json and thiserror.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]

mod calls;
#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
mod client;
mod error;
mod schema;
mod tools;

pub use calls::{
    anthropic_tool_use_to_mcp_call, call_result_text, mcp_result_to_anthropic_tool_result,
    mcp_result_to_openai_tool_message, mcp_result_to_responses_output,
    openai_tool_call_to_mcp_call, parse_arguments, responses_function_call_to_mcp_call,
    AnthropicToolResult, AnthropicToolUse, FunctionCall, McpCall, OpenAiToolCall,
    OpenAiToolMessage, ResponsesFunctionCall, ResponsesFunctionCallOutput, ToolCall,
    EMPTY_RESULT_TEXT,
};
#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub use client::{
    call_anthropic_tool, call_mcp_tool, call_openai_tool, list_mcp_tools, load_mcp_tools,
    MAX_TOOL_PAGES,
};
pub use error::BridgeError;
pub use schema::{normalize_anthropic_schema, normalize_openai_schema};
pub use tools::{
    convert_tool, mcp_tool_to_anthropic_tool, mcp_tool_to_openai_tool, mcp_tool_to_responses_tool,
    AnthropicTool, Format, FunctionDefinition, McpTool, OpenAiTool, ResponsesTool,
};
