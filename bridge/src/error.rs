//! The crate's one error type.

/// Longest tool name (in characters) an error message repeats; longer names are cut and
/// marked with `…`, so a hostile name cannot blow up a log line.
const SHOWN_NAME_CHARS: usize = 128;

/// Everything that can go wrong in the bridge.
///
/// Every variant names what was wrong (and, where there is one, the tool), never an
/// argument value: arguments may carry secrets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// A value given as an MCP tool (a `tools/list` entry) is not one.
    #[error("invalid MCP tool: {0}")]
    InvalidTool(String),

    /// A value given as a tool call (OpenAI tool call, Responses `function_call` item,
    /// Anthropic `tool_use` block) is not one.
    #[error("invalid tool call: {0}")]
    InvalidToolCall(String),

    /// A tool call's arguments are not a JSON object (or a JSON string holding one).
    #[error("invalid arguments for tool '{tool}': {reason}")]
    InvalidArguments {
        /// The tool the model called (cut to 128 characters).
        tool: String,
        /// What was wrong with the arguments (never their content).
        reason: String,
    },

    /// A tool format name that is none of the known ones (see [`crate::Format`]).
    #[error("unknown tool format '{0}': expected one of mcp, openai, responses, anthropic")]
    UnknownFormat(String),

    /// `tools/list` failed on the MCP session.
    #[cfg(feature = "client")]
    #[cfg_attr(docsrs, doc(cfg(feature = "client")))]
    #[error("MCP tools/list failed: {0}")]
    ListTools(#[source] rmcp::ServiceError),

    /// `tools/call` failed on the MCP session (a protocol or transport failure; a tool
    /// that ran and reported an error is a result with `isError: true`, not this).
    #[cfg(feature = "client")]
    #[cfg_attr(docsrs, doc(cfg(feature = "client")))]
    #[error("MCP tools/call of '{tool}' failed: {source}")]
    CallTool {
        /// The tool that was called (cut to 128 characters).
        tool: String,
        /// The session's error.
        #[source]
        source: rmcp::ServiceError,
    },

    /// A value rmcp produced could not be read as JSON (should not happen; reported
    /// rather than hidden).
    #[error("could not read {what} as JSON: {source}")]
    Json {
        /// What was being read.
        what: &'static str,
        /// serde_json's error.
        #[source]
        source: serde_json::Error,
    },
}

/// A tool name fit for an error message: at most 128 characters.
pub(crate) fn shown(name: &str) -> String {
    if name.chars().count() <= SHOWN_NAME_CHARS {
        return name.to_string();
    }
    let mut cut: String = name.chars().take(SHOWN_NAME_CHARS).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_cut_on_a_character_boundary() {
        let name = "é".repeat(500);
        let s = shown(&name);
        assert_eq!(s.chars().count(), 129);
        assert!(s.ends_with('…'));
        assert_eq!(shown("add"), "add");
    }
}
