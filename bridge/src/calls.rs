//! Tool calls and results: a model's tool call → MCP `tools/call` params, and an MCP
//! `CallToolResult` → what the model reads next.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{shown, BridgeError};
use crate::tools::kind;

/// The text a result with no content reads as (LiteLLM's).
pub const EMPTY_RESULT_TEXT: &str = "Tool executed successfully";

/// The params of an MCP `tools/call` request: the tool's name and its arguments.
///
/// Serializes to exactly the JSON-RPC `params` (`{"name", "arguments"}`); with feature
/// `client` it converts into rmcp's `CallToolRequestParams`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct McpCall {
    /// The tool to call (the name the model used, unchanged).
    pub name: String,
    /// The arguments, always a JSON object (`{}` when the model sent none).
    pub arguments: Map<String, Value>,
}

/// An OpenAI Chat Completions tool call, as in `choices[0].message.tool_calls[i]`:
/// `{"id", "type": "function", "function": {"name", "arguments": "<JSON text>"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenAiToolCall {
    /// The call's id (`call_…`), echoed in the tool message's `tool_call_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `"function"` (optional on input).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The function the model called.
    pub function: FunctionCall,
}

/// The `function` of an [`OpenAiToolCall`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// The tool's name.
    pub name: String,
    /// The arguments: normally a string holding a JSON object; an object, `null`, a
    /// missing value or an empty string are accepted too.
    #[serde(default)]
    pub arguments: Value,
}

impl OpenAiToolCall {
    /// A call of `name` with `arguments` (JSON text), without an id.
    pub fn new(name: impl Into<String>, arguments: impl Into<String>) -> Self {
        Self {
            id: None,
            kind: Some("function".into()),
            function: FunctionCall {
                name: name.into(),
                arguments: Value::String(arguments.into()),
            },
        }
    }

    /// Sets the call's id.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Reads a tool call from JSON (`{"id"?, "type"?: "function", "function": {"name",
    /// "arguments"}}`), refusing anything else with the reason.
    pub fn from_value(value: &Value) -> Result<Self, BridgeError> {
        let obj = object(value, "an OpenAI tool call")?;
        let id = optional_string(obj, "id")?;
        let kind = optional_string(obj, "type")?;
        if let Some(k) = kind.as_deref().filter(|k| *k != "function") {
            return Err(BridgeError::InvalidToolCall(format!(
                "an OpenAI tool call has `type` \"function\", found \"{}\"",
                shown(k)
            )));
        }
        let function = match obj.get("function") {
            Some(Value::Object(f)) => f,
            Some(other) => {
                return Err(BridgeError::InvalidToolCall(format!(
                    "`function` must be an object, found {}",
                    kind_of(other)
                )))
            }
            None => return Err(BridgeError::InvalidToolCall("`function` is missing".into())),
        };
        let name = required_name(function, "function.name")?;
        Ok(Self {
            id,
            kind,
            function: FunctionCall {
                name,
                arguments: function.get("arguments").cloned().unwrap_or(Value::Null),
            },
        })
    }
}

/// An OpenAI Responses API `function_call` output item:
/// `{"type": "function_call", "call_id", "name", "arguments": "<JSON text>"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponsesFunctionCall {
    /// The call's id, echoed in the `function_call_output` item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// The tool's name.
    pub name: String,
    /// The arguments (as for [`FunctionCall::arguments`]).
    #[serde(default)]
    pub arguments: Value,
}

impl ResponsesFunctionCall {
    /// Reads a `function_call` item from JSON, refusing anything else with the reason.
    pub fn from_value(value: &Value) -> Result<Self, BridgeError> {
        let obj = object(value, "a Responses function_call item")?;
        match obj.get("type").and_then(Value::as_str) {
            Some("function_call") | None => {}
            Some(other) => {
                return Err(BridgeError::InvalidToolCall(format!(
                    "a Responses function call has `type` \"function_call\", found \"{}\"",
                    shown(other)
                )))
            }
        }
        let call_id = match optional_string(obj, "call_id")? {
            Some(id) => Some(id),
            None => optional_string(obj, "id")?,
        };
        Ok(Self {
            call_id,
            name: required_name(obj, "name")?,
            arguments: obj.get("arguments").cloned().unwrap_or(Value::Null),
        })
    }
}

/// An Anthropic Messages `tool_use` content block:
/// `{"type": "tool_use", "id", "name", "input": {…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnthropicToolUse {
    /// The block's id (`toolu_…`), echoed in the `tool_result` block's `tool_use_id`.
    #[serde(default)]
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The arguments: a JSON object (`null` or missing is taken as `{}`).
    #[serde(default)]
    pub input: Value,
}

impl AnthropicToolUse {
    /// Reads a `tool_use` block from JSON, refusing anything else with the reason.
    pub fn from_value(value: &Value) -> Result<Self, BridgeError> {
        let obj = object(value, "an Anthropic tool_use block")?;
        match obj.get("type").and_then(Value::as_str) {
            Some("tool_use") | None => {}
            Some(other) => {
                return Err(BridgeError::InvalidToolCall(format!(
                    "an Anthropic tool use has `type` \"tool_use\", found \"{}\"",
                    shown(other)
                )))
            }
        }
        Ok(Self {
            id: optional_string(obj, "id")?.unwrap_or_default(),
            name: required_name(obj, "name")?,
            input: obj.get("input").cloned().unwrap_or(Value::Null),
        })
    }
}

/// Parses OpenAI-style tool-call arguments into an MCP arguments object.
///
/// Accepted: a string holding a JSON object (the normal case), an empty string,
/// `"null"`, JSON `null` or no value (all `{}`), or an object given directly. Anything
/// else — JSON that does not parse, or parses to something other than an object — is
/// [`BridgeError::InvalidArguments`] naming `tool` (LiteLLM silently calls the tool with
/// `{}` instead, which hides the model's mistake from it).
///
/// ```
/// use meshgate_bridge::parse_arguments;
/// use serde_json::json;
///
/// assert_eq!(parse_arguments("add", &json!("{\"a\": 1}"))?["a"], 1);
/// assert!(parse_arguments("add", &json!("")) ?.is_empty());
/// let err = parse_arguments("add", &json!("{\"a\": ")).unwrap_err();
/// assert!(err.to_string().starts_with("invalid arguments for tool 'add': not valid JSON"));
/// # Ok::<(), meshgate_bridge::BridgeError>(())
/// ```
pub fn parse_arguments(tool: &str, arguments: &Value) -> Result<Map<String, Value>, BridgeError> {
    let invalid = |reason: String| BridgeError::InvalidArguments {
        tool: shown(tool),
        reason,
    };
    match arguments {
        Value::Null => Ok(Map::new()),
        Value::Object(map) => Ok(map.clone()),
        Value::String(text) if text.trim().is_empty() => Ok(Map::new()),
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(Value::Null) => Ok(Map::new()),
            Ok(other) => Err(invalid(format!(
                "expected a JSON object, found {}",
                kind(&other)
            ))),
            Err(e) => Err(invalid(format!("not valid JSON ({e})"))),
        },
        other => Err(invalid(format!(
            "expected a JSON string or object, found {}",
            kind(other)
        ))),
    }
}

/// Converts an OpenAI Chat Completions tool call to MCP `tools/call` params (LiteLLM's
/// `transform_openai_tool_call_request_to_mcp_tool_call_request`, but bad arguments
/// are an error naming the tool, see [`parse_arguments`]).
///
/// ```
/// use meshgate_bridge::{openai_tool_call_to_mcp_call, OpenAiToolCall};
/// use serde_json::json;
///
/// let call = OpenAiToolCall::new("web-add", r#"{"a": 2, "b": 3}"#).with_id("call_1");
/// let mcp = openai_tool_call_to_mcp_call(&call)?;
/// assert_eq!(serde_json::to_value(&mcp).unwrap(),
///            json!({"name": "web-add", "arguments": {"a": 2, "b": 3}}));
///
/// let bad = OpenAiToolCall::new("web-add", "[1, 2]");
/// assert_eq!(
///     openai_tool_call_to_mcp_call(&bad).unwrap_err().to_string(),
///     "invalid arguments for tool 'web-add': expected a JSON object, found an array"
/// );
/// # Ok::<(), meshgate_bridge::BridgeError>(())
/// ```
pub fn openai_tool_call_to_mcp_call(call: &OpenAiToolCall) -> Result<McpCall, BridgeError> {
    check_name(&call.function.name)?;
    Ok(McpCall {
        name: call.function.name.clone(),
        arguments: parse_arguments(&call.function.name, &call.function.arguments)?,
    })
}

/// Converts an OpenAI Responses `function_call` item to MCP `tools/call` params.
pub fn responses_function_call_to_mcp_call(
    call: &ResponsesFunctionCall,
) -> Result<McpCall, BridgeError> {
    check_name(&call.name)?;
    Ok(McpCall {
        name: call.name.clone(),
        arguments: parse_arguments(&call.name, &call.arguments)?,
    })
}

/// Converts an Anthropic `tool_use` block to MCP `tools/call` params. The `input` must
/// be a JSON object (`null` is taken as `{}`).
///
/// ```
/// use meshgate_bridge::{anthropic_tool_use_to_mcp_call, AnthropicToolUse};
/// use serde_json::json;
///
/// let block = AnthropicToolUse::from_value(&json!(
///     {"type": "tool_use", "id": "toolu_1", "name": "local-echo", "input": {"text": "hi"}}))?;
/// let mcp = anthropic_tool_use_to_mcp_call(&block)?;
/// assert_eq!(mcp.name, "local-echo");
/// assert_eq!(mcp.arguments["text"], "hi");
/// # Ok::<(), meshgate_bridge::BridgeError>(())
/// ```
pub fn anthropic_tool_use_to_mcp_call(block: &AnthropicToolUse) -> Result<McpCall, BridgeError> {
    check_name(&block.name)?;
    let arguments = match &block.input {
        Value::Null => Map::new(),
        Value::Object(map) => map.clone(),
        other => {
            return Err(BridgeError::InvalidArguments {
                tool: shown(&block.name),
                reason: format!("`input` must be an object, found {}", kind(other)),
            })
        }
    };
    Ok(McpCall {
        name: block.name.clone(),
        arguments,
    })
}

/// A tool call in any of the shapes the bridge reads, told apart by [`ToolCall::detect`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ToolCall {
    /// An OpenAI Chat Completions tool call (has a `function` object).
    OpenAi(OpenAiToolCall),
    /// An OpenAI Responses `function_call` item (`"type": "function_call"`).
    Responses(ResponsesFunctionCall),
    /// An Anthropic `tool_use` block (`"type": "tool_use"`).
    Anthropic(AnthropicToolUse),
}

impl ToolCall {
    /// Recognizes a tool call by its shape: `None` when `value` is none of the three
    /// (for instance LiteLLM's `{"server_id", "name", "arguments"}`), `Some(Err(_))` when
    /// it has a tool call's marker but is malformed.
    ///
    /// ```
    /// use meshgate_bridge::ToolCall;
    /// use serde_json::json;
    ///
    /// let call = json!({"id": "call_1", "type": "function",
    ///                   "function": {"name": "local-echo", "arguments": "{\"text\": \"hi\"}"}});
    /// assert!(matches!(ToolCall::detect(&call), Some(Ok(ToolCall::OpenAi(_)))));
    /// assert!(ToolCall::detect(&json!({"server_id": "local", "name": "echo"})).is_none());
    /// ```
    pub fn detect(value: &Value) -> Option<Result<Self, BridgeError>> {
        let obj = value.as_object()?;
        if obj.contains_key("function") {
            return Some(OpenAiToolCall::from_value(value).map(ToolCall::OpenAi));
        }
        match obj.get("type").and_then(Value::as_str) {
            Some("function_call") => {
                Some(ResponsesFunctionCall::from_value(value).map(ToolCall::Responses))
            }
            Some("tool_use") => Some(AnthropicToolUse::from_value(value).map(ToolCall::Anthropic)),
            _ => None,
        }
    }

    /// The tool's name as the model called it.
    pub fn name(&self) -> &str {
        match self {
            ToolCall::OpenAi(c) => &c.function.name,
            ToolCall::Responses(c) => &c.name,
            ToolCall::Anthropic(c) => &c.name,
        }
    }

    /// The call's id, if it carries one.
    pub fn id(&self) -> Option<&str> {
        match self {
            ToolCall::OpenAi(c) => c.id.as_deref(),
            ToolCall::Responses(c) => c.call_id.as_deref(),
            ToolCall::Anthropic(c) => Some(c.id.as_str()).filter(|s| !s.is_empty()),
        }
    }

    /// The MCP `tools/call` params for this call.
    pub fn to_mcp_call(&self) -> Result<McpCall, BridgeError> {
        match self {
            ToolCall::OpenAi(c) => openai_tool_call_to_mcp_call(c),
            ToolCall::Responses(c) => responses_function_call_to_mcp_call(c),
            ToolCall::Anthropic(c) => anthropic_tool_use_to_mcp_call(c),
        }
    }

    /// An MCP `CallToolResult` in the shape that answers this call: an OpenAI `tool`
    /// message, a Responses `function_call_output` item or an Anthropic `tool_result`
    /// block.
    pub fn answer(&self, result: &Value) -> Value {
        let answer = match self {
            ToolCall::OpenAi(c) => {
                serde_json::to_value(mcp_result_to_openai_tool_message(c.id.as_deref(), result))
            }
            ToolCall::Responses(c) => {
                serde_json::to_value(mcp_result_to_responses_output(c.call_id.as_deref(), result))
            }
            ToolCall::Anthropic(c) => {
                serde_json::to_value(mcp_result_to_anthropic_tool_result(&c.id, result))
            }
        };
        // Serializing these plain structs (strings and JSON values) cannot fail.
        answer.unwrap_or(Value::Null)
    }
}

/// An OpenAI Chat Completions tool message: `{"role": "tool", "tool_call_id", "content"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenAiToolMessage {
    /// Always `"tool"`.
    pub role: String,
    /// The id of the call this answers (absent when the call had none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// The result as text (see [`call_result_text`]).
    pub content: String,
}

/// An OpenAI Responses `function_call_output` input item:
/// `{"type": "function_call_output", "call_id", "output"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponsesFunctionCallOutput {
    /// Always `"function_call_output"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The id of the call this answers (absent when the call had none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// The result as text (see [`call_result_text`]).
    pub output: String,
}

/// An Anthropic Messages `tool_result` content block:
/// `{"type": "tool_result", "tool_use_id", "content": [blocks], "is_error"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnthropicToolResult {
    /// Always `"tool_result"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The id of the `tool_use` block this answers.
    pub tool_use_id: String,
    /// `text` and `image` blocks (see [`mcp_result_to_anthropic_tool_result`]).
    pub content: Vec<Value>,
    /// The result's `isError`.
    pub is_error: bool,
}

/// A `CallToolResult` as one text, by LiteLLM's rule (`_parse_mcp_result`): the `text`
/// of the text items joined with a space, then the other items named as
/// `[Generated Image, EmbeddedResource, …]`; no content reads as
/// `"Tool executed successfully"`. One addition: a result with no content but a
/// `structuredContent` reads as that JSON, which LiteLLM loses.
///
/// ```
/// use meshgate_bridge::call_result_text;
/// use serde_json::json;
///
/// let result = json!({"content": [{"type": "text", "text": "5"},
///                                 {"type": "image", "data": "iVBO", "mimeType": "image/png"}]});
/// assert_eq!(call_result_text(&result), "5 [Generated Image]");
/// assert_eq!(call_result_text(&json!({"content": []})), "Tool executed successfully");
/// ```
pub fn call_result_text(result: &Value) -> String {
    let items = content(result);
    let mut texts = Vec::new();
    let mut others = Vec::new();
    for item in items {
        match item.get("type").and_then(Value::as_str) {
            Some("text") => texts.push(match item.get("text") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            }),
            kind => others.push(other_name(kind)),
        }
    }
    let mut text = texts.join(" ");
    if !others.is_empty() {
        text = format!("{text} [Generated {}]", others.join(", "))
            .trim()
            .to_string();
    }
    if text.is_empty() {
        if let Some(structured) = structured(result) {
            return structured;
        }
        return EMPTY_RESULT_TEXT.to_string();
    }
    text
}

/// An MCP `CallToolResult` (JSON) as the OpenAI tool message that answers call
/// `tool_call_id`.
///
/// ```
/// use meshgate_bridge::mcp_result_to_openai_tool_message;
/// use serde_json::json;
///
/// let msg = mcp_result_to_openai_tool_message(Some("call_1"),
///     &json!({"content": [{"type": "text", "text": "hi"}]}));
/// assert_eq!(serde_json::to_value(&msg).unwrap(),
///            json!({"role": "tool", "tool_call_id": "call_1", "content": "hi"}));
/// ```
pub fn mcp_result_to_openai_tool_message(
    tool_call_id: Option<&str>,
    result: &Value,
) -> OpenAiToolMessage {
    OpenAiToolMessage {
        role: "tool".into(),
        tool_call_id: tool_call_id.map(str::to_string),
        content: call_result_text(result),
    }
}

/// An MCP `CallToolResult` (JSON) as the Responses `function_call_output` item that
/// answers call `call_id`.
pub fn mcp_result_to_responses_output(
    call_id: Option<&str>,
    result: &Value,
) -> ResponsesFunctionCallOutput {
    ResponsesFunctionCallOutput {
        kind: "function_call_output".into(),
        call_id: call_id.map(str::to_string),
        output: call_result_text(result),
    }
}

/// Image types Anthropic accepts in an `image` block.
const ANTHROPIC_IMAGE_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

/// An MCP `CallToolResult` (JSON) as the Anthropic `tool_result` block that answers
/// `tool_use_id`.
///
/// Text items become `text` blocks (empty ones are left out: Anthropic refuses them),
/// images of a type Anthropic accepts become base64 `image` blocks, an embedded
/// resource with text becomes a `text` block; other items are named in a text block
/// (`[Generated AudioContent]`). With nothing left, the block holds the text of
/// [`call_result_text`]. `isError` becomes `is_error`.
///
/// ```
/// use meshgate_bridge::mcp_result_to_anthropic_tool_result;
/// use serde_json::json;
///
/// let block = mcp_result_to_anthropic_tool_result("toolu_1",
///     &json!({"content": [{"type": "text", "text": "boom"}], "isError": true}));
/// assert_eq!(serde_json::to_value(&block).unwrap(), json!({
///     "type": "tool_result", "tool_use_id": "toolu_1",
///     "content": [{"type": "text", "text": "boom"}], "is_error": true}));
/// ```
pub fn mcp_result_to_anthropic_tool_result(
    tool_use_id: &str,
    result: &Value,
) -> AnthropicToolResult {
    let mut blocks = Vec::new();
    for item in content(result) {
        let kind = item.get("type").and_then(Value::as_str);
        match kind {
            Some("text") => {
                if let Some(text) = item.get("text").and_then(Value::as_str) {
                    if !text.is_empty() {
                        blocks.push(text_block(text));
                    }
                }
            }
            Some("image") => {
                let data = item.get("data").and_then(Value::as_str);
                let mime = item.get("mimeType").and_then(Value::as_str);
                match (data, mime) {
                    (Some(data), Some(mime)) if ANTHROPIC_IMAGE_TYPES.contains(&mime) => {
                        blocks.push(serde_json::json!({
                            "type": "image",
                            "source": {"type": "base64", "media_type": mime, "data": data},
                        }));
                    }
                    _ => blocks.push(text_block(&format!("[Generated {}]", other_name(kind)))),
                }
            }
            Some("resource") => match item.pointer("/resource/text").and_then(Value::as_str) {
                Some(text) if !text.is_empty() => blocks.push(text_block(text)),
                _ => blocks.push(text_block(&format!("[Generated {}]", other_name(kind)))),
            },
            _ => blocks.push(text_block(&format!("[Generated {}]", other_name(kind)))),
        }
    }
    if blocks.is_empty() {
        blocks.push(text_block(&call_result_text(result)));
    }
    AnthropicToolResult {
        kind: "tool_result".into(),
        tool_use_id: tool_use_id.to_string(),
        content: blocks,
        is_error: result
            .get("isError")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }
}

fn text_block(text: &str) -> Value {
    serde_json::json!({"type": "text", "text": text})
}

/// The result's `content` items (none when absent or not a list).
fn content(result: &Value) -> &[Value] {
    result
        .get("content")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// `structuredContent` as JSON text, when present and not null.
fn structured(result: &Value) -> Option<String> {
    result
        .get("structuredContent")
        .filter(|v| !v.is_null())
        .map(Value::to_string)
}

/// How LiteLLM names a non-text content item (the Python SDK's class names).
fn other_name(kind: Option<&str>) -> String {
    match kind {
        Some("image") => "Image".into(),
        Some("resource") => "EmbeddedResource".into(),
        Some("audio") => "AudioContent".into(),
        Some("resource_link") => "ResourceLink".into(),
        Some(other) => shown(other),
        None => "unknown content".into(),
    }
}

fn object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>, BridgeError> {
    value.as_object().ok_or_else(|| {
        BridgeError::InvalidToolCall(format!("{what} must be an object, found {}", kind(value)))
    })
}

fn kind_of(value: &Value) -> &'static str {
    kind(value)
}

fn optional_string(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, BridgeError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(BridgeError::InvalidToolCall(format!(
            "`{key}` must be a string, found {}",
            kind(other)
        ))),
    }
}

fn required_name(obj: &Map<String, Value>, path: &str) -> Result<String, BridgeError> {
    let key = path.rsplit('.').next().unwrap_or(path);
    match obj.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(BridgeError::InvalidToolCall(format!("`{path}` is empty"))),
        Some(other) => Err(BridgeError::InvalidToolCall(format!(
            "`{path}` must be a string, found {}",
            kind(other)
        ))),
        None => Err(BridgeError::InvalidToolCall(format!("`{path}` is missing"))),
    }
}

fn check_name(name: &str) -> Result<(), BridgeError> {
    if name.is_empty() {
        return Err(BridgeError::InvalidToolCall(
            "the tool name is empty".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mcp(value: Value) -> Result<Value, String> {
        match ToolCall::detect(&value) {
            Some(Ok(call)) => call
                .to_mcp_call()
                .map(|c| serde_json::to_value(c).unwrap_or(Value::Null))
                .map_err(|e| e.to_string()),
            Some(Err(e)) => Err(e.to_string()),
            None => Err("not a tool call".into()),
        }
    }

    #[test]
    fn openai_call_with_json_string_arguments() {
        assert_eq!(
            mcp(json!({"id": "call_1", "type": "function",
                       "function": {"name": "web-add", "arguments": "{\"a\": 2, \"b\": 3.5}"}})),
            Ok(json!({"name": "web-add", "arguments": {"a": 2, "b": 3.5}}))
        );
        // `{"id", "function"}` without `type` is accepted too.
        assert_eq!(
            mcp(
                json!({"id": "call_2", "function": {"name": "local-echo", "arguments": "{\"text\":\"é🚀\"}"}})
            ),
            Ok(json!({"name": "local-echo", "arguments": {"text": "é🚀"}}))
        );
    }

    #[test]
    fn openai_call_with_empty_null_or_object_arguments() {
        for args in [json!(""), json!("  "), json!("null"), Value::Null] {
            assert_eq!(
                mcp(json!({"function": {"name": "whoami", "arguments": args}})),
                Ok(json!({"name": "whoami", "arguments": {}}))
            );
        }
        assert_eq!(
            mcp(json!({"function": {"name": "whoami"}})),
            Ok(json!({"name": "whoami", "arguments": {}}))
        );
        assert_eq!(
            mcp(json!({"function": {"name": "echo", "arguments": {"text": "x"}}})),
            Ok(json!({"name": "echo", "arguments": {"text": "x"}}))
        );
    }

    #[test]
    fn openai_call_with_bad_arguments_names_the_tool() {
        let e = mcp(json!({"function": {"name": "web-add", "arguments": "{\"a\": 2,"}}));
        assert!(
            e.as_ref().is_err_and(
                |e| e.starts_with("invalid arguments for tool 'web-add': not valid JSON (")
            ),
            "{e:?}"
        );
        for (args, found) in [
            (json!("[1, 2]"), "expected a JSON object, found an array"),
            (json!("42"), "expected a JSON object, found a number"),
            (json!("\"text\""), "expected a JSON object, found a string"),
            (json!("true"), "expected a JSON object, found a boolean"),
            (json!(7), "expected a JSON string or object, found a number"),
            (
                json!([{"a": 1}]),
                "expected a JSON string or object, found an array",
            ),
        ] {
            assert_eq!(
                mcp(json!({"function": {"name": "web-add", "arguments": args}})),
                Err(format!("invalid arguments for tool 'web-add': {found}"))
            );
        }
    }

    #[test]
    fn bad_arguments_error_never_repeats_the_arguments() {
        let secret = "sk-live-0123456789";
        let e = mcp(
            json!({"function": {"name": "t", "arguments": format!("{{\"key\": \"{secret}\"")}}),
        );
        assert!(e.as_ref().is_err_and(|e| !e.contains(secret)), "{e:?}");
    }

    #[test]
    fn huge_tool_names_are_cut_in_errors_but_kept_in_calls() {
        let huge = "n".repeat(10_000);
        let e = mcp(json!({"function": {"name": huge, "arguments": "[]"}}));
        assert!(e.as_ref().is_err_and(|e| e.len() < 300), "{e:?}");
        assert_eq!(
            mcp(json!({"function": {"name": huge, "arguments": "{}"}}))
                .map(|v| v["name"].as_str().map(str::len)),
            Ok(Some(10_000))
        );
    }

    #[test]
    fn malformed_openai_calls_are_refused_with_the_reason() {
        assert_eq!(
            mcp(json!({"function": "web-add"})),
            Err("invalid tool call: `function` must be an object, found a string".into())
        );
        assert_eq!(
            mcp(json!({"function": {"arguments": "{}"}})),
            Err("invalid tool call: `function.name` is missing".into())
        );
        assert_eq!(
            mcp(json!({"function": {"name": ""}})),
            Err("invalid tool call: `function.name` is empty".into())
        );
        assert_eq!(
            mcp(json!({"function": {"name": ["x"]}})),
            Err("invalid tool call: `function.name` must be a string, found an array".into())
        );
        assert_eq!(
            mcp(json!({"type": "custom", "function": {"name": "x"}})),
            Err(
                "invalid tool call: an OpenAI tool call has `type` \"function\", found \"custom\""
                    .into()
            )
        );
        assert_eq!(
            mcp(json!({"id": 5, "function": {"name": "x"}})),
            Err("invalid tool call: `id` must be a string, found a number".into())
        );
    }

    #[test]
    fn responses_function_call_converts() {
        assert_eq!(
            mcp(
                json!({"type": "function_call", "call_id": "call_9", "name": "web-add", "arguments": "{\"a\":1,\"b\":2}"})
            ),
            Ok(json!({"name": "web-add", "arguments": {"a": 1, "b": 2}}))
        );
        assert_eq!(
            mcp(json!({"type": "function_call", "name": "web-add", "arguments": "nope"}))
                .map_err(|e| e.starts_with("invalid arguments for tool 'web-add'")),
            Err(true)
        );
    }

    #[test]
    fn anthropic_tool_use_converts_and_refuses_non_object_input() {
        assert_eq!(
            mcp(
                json!({"type": "tool_use", "id": "toolu_1", "name": "local-echo", "input": {"text": "hi"}})
            ),
            Ok(json!({"name": "local-echo", "arguments": {"text": "hi"}}))
        );
        assert_eq!(
            mcp(json!({"type": "tool_use", "id": "toolu_1", "name": "whoami", "input": null})),
            Ok(json!({"name": "whoami", "arguments": {}}))
        );
        assert_eq!(
            mcp(
                json!({"type": "tool_use", "id": "toolu_1", "name": "echo", "input": "{\"text\": \"hi\"}"})
            ),
            Err(
                "invalid arguments for tool 'echo': `input` must be an object, found a string"
                    .into()
            )
        );
        assert_eq!(
            mcp(json!({"type": "tool_use", "id": "toolu_1", "input": {}})),
            Err("invalid tool call: `name` is missing".into())
        );
    }

    #[test]
    fn other_shapes_are_not_tool_calls() {
        for v in [
            json!({"server_id": "local", "name": "echo", "arguments": {}}),
            json!({"type": "text", "text": "x"}),
            json!([]),
            json!("function"),
            Value::Null,
        ] {
            assert!(ToolCall::detect(&v).is_none(), "{v}");
        }
    }

    #[test]
    fn result_text_follows_litellm() {
        assert_eq!(
            call_result_text(
                &json!({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]})
            ),
            "a b"
        );
        assert_eq!(
            call_result_text(&json!({"content": [
                {"type": "image", "data": "x", "mimeType": "image/png"},
                {"type": "resource", "resource": {"uri": "file:///a", "text": "t"}},
                {"type": "audio", "data": "x", "mimeType": "audio/wav"},
                {"type": "resource_link", "uri": "file:///b", "name": "b"}]})),
            "[Generated Image, EmbeddedResource, AudioContent, ResourceLink]"
        );
        assert_eq!(call_result_text(&json!({})), EMPTY_RESULT_TEXT);
        assert_eq!(
            call_result_text(&json!({"content": "bogus"})),
            EMPTY_RESULT_TEXT
        );
        assert_eq!(call_result_text(&Value::Null), EMPTY_RESULT_TEXT);
        assert_eq!(
            call_result_text(&json!({"content": [], "structuredContent": {"sum": 5}})),
            "{\"sum\":5}"
        );
    }

    #[test]
    fn answers_match_the_call_shape() {
        let result =
            json!({"content": [{"type": "text", "text": "5"}], "structuredContent": {"sum": 5}});
        let answer = |call: Value| match ToolCall::detect(&call) {
            Some(Ok(c)) => c.answer(&result),
            _ => Value::Null,
        };
        assert_eq!(
            answer(json!({"id": "call_1", "function": {"name": "add", "arguments": "{}"}})),
            json!({"role": "tool", "tool_call_id": "call_1", "content": "5"})
        );
        assert_eq!(
            answer(json!({"type": "function", "function": {"name": "add", "arguments": "{}"}})),
            json!({"role": "tool", "content": "5"})
        );
        assert_eq!(
            answer(
                json!({"type": "function_call", "call_id": "c", "name": "add", "arguments": "{}"})
            ),
            json!({"type": "function_call_output", "call_id": "c", "output": "5"})
        );
        assert_eq!(
            answer(json!({"type": "tool_use", "id": "toolu_1", "name": "add", "input": {}})),
            json!({"type": "tool_result", "tool_use_id": "toolu_1",
                   "content": [{"type": "text", "text": "5"}], "is_error": false})
        );
    }

    #[test]
    fn anthropic_result_blocks() {
        let result = json!({"isError": true, "content": [
            {"type": "text", "text": ""},
            {"type": "text", "text": "failed"},
            {"type": "image", "data": "iVBO", "mimeType": "image/png"},
            {"type": "image", "data": "PD94", "mimeType": "image/svg+xml"},
            {"type": "resource", "resource": {"uri": "file:///a", "text": "file body"}},
            {"type": "resource", "resource": {"uri": "file:///b", "blob": "AAAA"}},
            {"type": "audio", "data": "x", "mimeType": "audio/wav"}
        ]});
        let block = mcp_result_to_anthropic_tool_result("toolu_7", &result);
        assert!(block.is_error);
        assert_eq!(
            Value::Array(block.content),
            json!([
                {"type": "text", "text": "failed"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
                {"type": "text", "text": "[Generated Image]"},
                {"type": "text", "text": "file body"},
                {"type": "text", "text": "[Generated EmbeddedResource]"},
                {"type": "text", "text": "[Generated AudioContent]"}
            ])
        );
        let empty = mcp_result_to_anthropic_tool_result(
            "t",
            &json!({"content": [{"type": "text", "text": ""}]}),
        );
        assert_eq!(
            Value::Array(empty.content),
            json!([{"type": "text", "text": "Tool executed successfully"}])
        );
    }

    #[test]
    fn hostile_content_items_do_not_break_the_text() {
        let result = json!({"content": [null, 5, {"type": 3}, {"type": "text", "text": {"nested": true}}, {"type": "x".repeat(1000)}]});
        let text = call_result_text(&result);
        assert!(text.starts_with("{\"nested\":true} [Generated unknown content, unknown content, unknown content, xxx"), "{text}");
        assert!(text.len() < 600);
    }
}
