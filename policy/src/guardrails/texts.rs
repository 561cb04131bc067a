//! What a client sees when a guardrail acts, worded as LiteLLM words it (its
//! `BlockedPiiEntityError` message inside its MCP error text), naming the guardrail and
//! the entity type — never the matched value.

use serde_json::{json, Value};

/// LiteLLM's `BlockedPiiEntityError` message.
pub fn blocked_message(guardrail: &str, entity: &str) -> String {
    format!(
        "Blocked entity detected: {entity} by Guardrail: {guardrail}. This entity is not allowed to be used in this request."
    )
}

/// The same for a tool result (post_mcp_call; LiteLLM has no wording of its own).
pub fn result_blocked_message(guardrail: &str, entity: &str) -> String {
    format!(
        "Blocked entity detected: {entity} by Guardrail: {guardrail}. This entity is not allowed in a tool result."
    )
}

/// The `isError` text of an MCP `tools/call` answer (LiteLLM's
/// `Error: Blocked PII entity detected - {error}`).
pub fn mcp_block_text(message: &str) -> String {
    format!("Error: Blocked PII entity detected - {message}")
}

/// LiteLLM's text when a guardrail fails otherwise (an external service refused or,
/// failing closed, could not be reached).
pub fn mcp_violation_text(guardrail: &str, message: &str) -> String {
    format!(
        "Error: Guardrail violation - Guardrail raised an exception, Guardrail: {guardrail}, Message: {message}"
    )
}

/// A `tools/call` result carrying `text` as an error.
pub fn mcp_error_result(text: &str) -> Value {
    json!({"content": [{"type": "text", "text": text}], "isError": true})
}

/// The tool result text inside LiteLLM's LLM tool loop.
pub fn tool_loop_text(guardrail: &str, entity: &str) -> String {
    format!(
        "Tool call blocked: Guardrail '{guardrail}' violation. Blocked entity detected: {entity}."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_name_guardrail_and_entity_as_litellm_does() {
        let text = mcp_block_text(&blocked_message("no-cards", "CREDIT_CARD"));
        assert_eq!(
            text,
            "Error: Blocked PII entity detected - Blocked entity detected: CREDIT_CARD by Guardrail: no-cards. This entity is not allowed to be used in this request."
        );
        let result = mcp_error_result(&text);
        assert_eq!(result["isError"], true);
        assert_eq!(result["content"][0]["text"], text.as_str());
        assert!(mcp_violation_text("ext", "timed out").starts_with("Error: Guardrail violation - "));
        assert_eq!(
            tool_loop_text("g", "JWT"),
            "Tool call blocked: Guardrail 'g' violation. Blocked entity detected: JWT."
        );
    }
}
