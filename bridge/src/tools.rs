//! Tool definitions: an MCP tool (`tools/list` entry) in each LLM API's shape.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;
use std::str::FromStr;

use crate::error::{shown, BridgeError};
use crate::schema::{normalize_anthropic_schema, normalize_openai_schema};

/// The parts of an MCP tool (one entry of a `tools/list` result) the conversions use.
///
/// Read it from JSON with [`McpTool::from_value`], or (feature `client`) from an rmcp
/// [`rmcp::model::Tool`] with `McpTool::from(&tool)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct McpTool {
    /// The tool's name, as the MCP server (or gateway) lists it; passed through
    /// unchanged, so that the model's call names the same tool.
    pub name: String,
    /// What the tool does, if the server says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSON Schema of the tool's arguments (`inputSchema`), as the server sent it.
    #[serde(
        rename = "inputSchema",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub input_schema: Option<Value>,
}

impl McpTool {
    /// A tool with a name and nothing else (its schema normalizes to an empty object).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: None,
            input_schema: None,
        }
    }

    /// Sets the description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the input schema.
    pub fn with_input_schema(mut self, schema: Value) -> Self {
        self.input_schema = Some(schema);
        self
    }

    /// Reads a `tools/list` entry. The entry must be an object with a non-empty string
    /// `name`; a `description` that is not a string is ignored, and `inputSchema` is
    /// kept as sent (normalization happens on conversion).
    ///
    /// ```
    /// use meshgate_bridge::McpTool;
    /// use serde_json::json;
    ///
    /// let tool = McpTool::from_value(&json!({"name": "add", "inputSchema": {"type": "object"}}))?;
    /// assert_eq!(tool.name, "add");
    /// assert!(McpTool::from_value(&json!({"description": "no name"})).is_err());
    /// # Ok::<(), meshgate_bridge::BridgeError>(())
    /// ```
    pub fn from_value(value: &Value) -> Result<Self, BridgeError> {
        let Some(obj) = value.as_object() else {
            return Err(BridgeError::InvalidTool(format!(
                "expected an object, found {}",
                kind(value)
            )));
        };
        let name = match obj.get("name") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::String(_)) => {
                return Err(BridgeError::InvalidTool("`name` is empty".into()));
            }
            Some(other) => {
                return Err(BridgeError::InvalidTool(format!(
                    "`name` must be a string, found {}",
                    kind(other)
                )));
            }
            None => return Err(BridgeError::InvalidTool("`name` is missing".into())),
        };
        Ok(Self {
            name,
            description: obj
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_string),
            input_schema: obj.get("inputSchema").filter(|v| !v.is_null()).cloned(),
        })
    }
}

/// An OpenAI Chat Completions function tool:
/// `{"type": "function", "function": {"name", "description", "parameters", "strict": false}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenAiTool {
    /// Always `"function"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The function's definition.
    pub function: FunctionDefinition,
}

/// The `function` of an [`OpenAiTool`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionDefinition {
    /// The MCP tool's name, unchanged.
    pub name: String,
    /// The MCP tool's description, or `""`.
    pub description: String,
    /// The normalized input schema (see [`normalize_openai_schema`]).
    pub parameters: Map<String, Value>,
    /// Always `false`, as LiteLLM sends it: MCP schemas are rarely valid strict schemas.
    pub strict: bool,
}

/// An OpenAI Responses API function tool:
/// `{"type": "function", "name", "description", "parameters", "strict": false}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponsesTool {
    /// Always `"function"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The MCP tool's name, unchanged.
    pub name: String,
    /// The MCP tool's description, or `""`.
    pub description: String,
    /// The normalized input schema (see [`normalize_openai_schema`]).
    pub parameters: Map<String, Value>,
    /// Always `false`.
    pub strict: bool,
}

/// An Anthropic Messages API tool (an entry of the request's `tools`):
/// `{"type": "custom", "name", "description", "input_schema"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnthropicTool {
    /// Always `"custom"` (a client tool), as LiteLLM sends it.
    #[serde(rename = "type")]
    pub kind: String,
    /// The MCP tool's name, unchanged.
    pub name: String,
    /// The MCP tool's description, or `""`.
    pub description: String,
    /// The normalized input schema (see [`normalize_anthropic_schema`]).
    pub input_schema: Map<String, Value>,
}

/// Converts an MCP tool to an OpenAI Chat Completions function tool (LiteLLM's
/// `transform_mcp_tool_to_openai_tool`).
///
/// The name is passed through unchanged (OpenAI accepts `^[a-zA-Z0-9_-]{1,64}$`; a
/// gateway's prefixed names fit, and renaming would break the way back to the tool).
///
/// ```
/// use meshgate_bridge::{mcp_tool_to_openai_tool, McpTool};
/// use serde_json::json;
///
/// let tool = McpTool::new("web-add").with_description("Adds two numbers.");
/// let openai = mcp_tool_to_openai_tool(&tool);
/// assert_eq!(
///     serde_json::to_value(&openai)?,
///     json!({"type": "function", "function": {
///         "name": "web-add", "description": "Adds two numbers.",
///         "parameters": {"type": "object", "properties": {}, "additionalProperties": false},
///         "strict": false}})
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn mcp_tool_to_openai_tool(tool: &McpTool) -> OpenAiTool {
    OpenAiTool {
        kind: "function".into(),
        function: FunctionDefinition {
            name: tool.name.clone(),
            description: tool.description.clone().unwrap_or_default(),
            parameters: normalize_openai_schema(tool.input_schema.as_ref()),
            strict: false,
        },
    }
}

/// Converts an MCP tool to an OpenAI Responses API function tool (LiteLLM's
/// `transform_mcp_tool_to_openai_responses_api_tool`).
///
/// ```
/// use meshgate_bridge::{mcp_tool_to_responses_tool, McpTool};
///
/// let tool = mcp_tool_to_responses_tool(&McpTool::new("echo"));
/// assert_eq!(tool.kind, "function");
/// assert_eq!(tool.name, "echo");
/// ```
pub fn mcp_tool_to_responses_tool(tool: &McpTool) -> ResponsesTool {
    ResponsesTool {
        kind: "function".into(),
        name: tool.name.clone(),
        description: tool.description.clone().unwrap_or_default(),
        parameters: normalize_openai_schema(tool.input_schema.as_ref()),
        strict: false,
    }
}

/// Converts an MCP tool to an Anthropic Messages API tool (LiteLLM's
/// `transform_mcp_tool_to_anthropic_tool`, with the schema rules of
/// [`normalize_anthropic_schema`]).
///
/// ```
/// use meshgate_bridge::{mcp_tool_to_anthropic_tool, McpTool};
/// use serde_json::json;
///
/// let tool = McpTool::new("echo")
///     .with_input_schema(json!({"type": "object", "properties": {"text": {"type": "string"}}}));
/// let anthropic = mcp_tool_to_anthropic_tool(&tool);
/// assert_eq!(
///     serde_json::to_value(&anthropic)?,
///     json!({"type": "custom", "name": "echo", "description": "",
///            "input_schema": {"type": "object", "properties": {"text": {"type": "string"}}}})
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn mcp_tool_to_anthropic_tool(tool: &McpTool) -> AnthropicTool {
    AnthropicTool {
        kind: "custom".into(),
        name: tool.name.clone(),
        description: tool.description.clone().unwrap_or_default(),
        input_schema: normalize_anthropic_schema(tool.input_schema.as_ref()),
    }
}

/// A tool format: which shape [`convert_tool`] (and, with feature `client`,
/// `load_mcp_tools`) produces.
///
/// Parsed case-insensitively from `mcp`, `openai` (also `chat`, `chat_completions`),
/// `responses` (also `openai_responses`, `openai-responses`) and `anthropic`; anything
/// else is [`BridgeError::UnknownFormat`].
///
/// ```
/// use meshgate_bridge::Format;
///
/// assert_eq!("OpenAI".parse::<Format>()?, Format::OpenAi);
/// assert_eq!("responses".parse::<Format>()?, Format::OpenAiResponses);
/// assert!("gemini".parse::<Format>().is_err());
/// # Ok::<(), meshgate_bridge::BridgeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// The MCP tool itself (`name`, `description`, `inputSchema`), schema untouched.
    Mcp,
    /// OpenAI Chat Completions function tools ([`OpenAiTool`]).
    OpenAi,
    /// OpenAI Responses API function tools ([`ResponsesTool`]).
    OpenAiResponses,
    /// Anthropic Messages API tools ([`AnthropicTool`]).
    Anthropic,
}

impl Format {
    /// The format's canonical name (what [`FromStr`] reads back).
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Mcp => "mcp",
            Format::OpenAi => "openai",
            Format::OpenAiResponses => "responses",
            Format::Anthropic => "anthropic",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = BridgeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "mcp" => Ok(Format::Mcp),
            "openai" | "chat" | "chat_completions" => Ok(Format::OpenAi),
            "responses" | "openai_responses" | "openai-responses" => Ok(Format::OpenAiResponses),
            "anthropic" => Ok(Format::Anthropic),
            _ => Err(BridgeError::UnknownFormat(shown(s))),
        }
    }
}

/// Converts an MCP tool to `format`, as JSON ready to put in a request's `tools`.
///
/// ```
/// use meshgate_bridge::{convert_tool, Format, McpTool};
///
/// let tool = McpTool::new("echo");
/// assert_eq!(convert_tool(&tool, Format::Anthropic)["type"], "custom");
/// assert_eq!(convert_tool(&tool, Format::OpenAi)["function"]["name"], "echo");
/// ```
pub fn convert_tool(tool: &McpTool, format: Format) -> Value {
    let converted = match format {
        Format::Mcp => serde_json::to_value(tool),
        Format::OpenAi => serde_json::to_value(mcp_tool_to_openai_tool(tool)),
        Format::OpenAiResponses => serde_json::to_value(mcp_tool_to_responses_tool(tool)),
        Format::Anthropic => serde_json::to_value(mcp_tool_to_anthropic_tool(tool)),
    };
    // Serializing these plain structs (strings and JSON values) cannot fail.
    converted.unwrap_or(Value::Null)
}

/// A JSON value's kind, for error messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn to_json<T: Serialize>(v: &T) -> Value {
        serde_json::to_value(v).unwrap_or(Value::Null)
    }

    #[test]
    fn openai_chat_tool_is_litellms_shape() {
        let tool = McpTool::from_value(&json!({
            "name": "web-add", "description": "Adds two numbers.",
            "inputSchema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]},
            "outputSchema": {"type": "object"}, "annotations": {"readOnlyHint": true}
        }))
        .map_err(|e| e.to_string());
        let tool = tool.as_ref().map(mcp_tool_to_openai_tool);
        assert_eq!(
            tool.as_ref().map(to_json),
            Ok(json!({"type": "function", "function": {
                "name": "web-add", "description": "Adds two numbers.",
                "parameters": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                               "required": ["a", "b"], "additionalProperties": false},
                "strict": false}}))
        );
    }

    #[test]
    fn responses_tool_is_flat() {
        let tool = McpTool::new("echo").with_description("Echoes.");
        assert_eq!(
            to_json(&mcp_tool_to_responses_tool(&tool)),
            json!({"type": "function", "name": "echo", "description": "Echoes.",
                   "parameters": {"type": "object", "properties": {}, "additionalProperties": false},
                   "strict": false})
        );
    }

    #[test]
    fn anthropic_tool_uses_input_schema() {
        let tool = McpTool::new("whoami").with_input_schema(Value::Null);
        assert_eq!(
            to_json(&mcp_tool_to_anthropic_tool(&tool)),
            json!({"type": "custom", "name": "whoami", "description": "",
                   "input_schema": {"type": "object", "properties": {}}})
        );
    }

    #[test]
    fn null_schema_and_missing_description_convert() {
        let tool =
            McpTool::from_value(&json!({"name": "t", "description": null, "inputSchema": null}));
        let tool = tool.map_err(|e| e.to_string());
        assert_eq!(tool, Ok(McpTool::new("t")));
        let Ok(tool) = tool else { return };
        assert_eq!(
            convert_tool(&tool, Format::OpenAi)["function"]["parameters"],
            json!({"type": "object", "properties": {}, "additionalProperties": false})
        );
        assert_eq!(
            convert_tool(&tool, Format::OpenAi)["function"]["description"],
            ""
        );
    }

    #[test]
    fn huge_and_unicode_names_pass_through_unchanged() {
        let huge = "x".repeat(100_000);
        let tool = McpTool::new(huge.clone());
        assert_eq!(mcp_tool_to_openai_tool(&tool).function.name, huge);
        assert_eq!(mcp_tool_to_anthropic_tool(&tool).name, huge);
        let unicode = "数据-查询_🚀\u{202e}";
        let tool = McpTool::from_value(&json!({"name": unicode}));
        assert_eq!(
            tool.map(|t| mcp_tool_to_responses_tool(&t).name)
                .map_err(|e| e.to_string()),
            Ok(unicode.to_string())
        );
    }

    #[test]
    fn invalid_tools_are_refused_with_the_reason() {
        let err = |v: Value| McpTool::from_value(&v).map_err(|e| e.to_string()).err();
        assert_eq!(
            err(json!("add")),
            Some("invalid MCP tool: expected an object, found a string".into())
        );
        assert_eq!(
            err(json!({"inputSchema": {}})),
            Some("invalid MCP tool: `name` is missing".into())
        );
        assert_eq!(
            err(json!({"name": ""})),
            Some("invalid MCP tool: `name` is empty".into())
        );
        assert_eq!(
            err(json!({"name": 7})),
            Some("invalid MCP tool: `name` must be a string, found a number".into())
        );
        // A non-string description is ignored, not an error.
        assert_eq!(err(json!({"name": "a", "description": 5})), None);
    }

    #[test]
    fn format_names_parse_and_unknown_ones_are_named() {
        for (s, f) in [
            ("mcp", Format::Mcp),
            ("openai", Format::OpenAi),
            ("OPENAI", Format::OpenAi),
            ("chat", Format::OpenAi),
            ("responses", Format::OpenAiResponses),
            ("openai_responses", Format::OpenAiResponses),
            ("anthropic", Format::Anthropic),
        ] {
            assert_eq!(s.parse::<Format>().map_err(|e| e.to_string()), Ok(f));
            assert_eq!(
                f.as_str().parse::<Format>().map_err(|e| e.to_string()),
                Ok(f)
            );
        }
        assert_eq!(
            "gemini".parse::<Format>().map_err(|e| e.to_string()),
            Err(
                "unknown tool format 'gemini': expected one of mcp, openai, responses, anthropic"
                    .into()
            )
        );
    }

    #[test]
    fn mcp_format_keeps_the_schema_as_sent() {
        let tool = McpTool::new("e").with_input_schema(json!({"type": "object"}));
        assert_eq!(
            convert_tool(&tool, Format::Mcp),
            json!({"name": "e", "inputSchema": {"type": "object"}})
        );
    }
}
