//! Budgets enforced inline: the snapshot marks a virtual key whose own, team's or
//! organization's spend in the current window has reached its `max_budget`
//! ([`BudgetExceeded`], set by the sidecar), and the filter refuses that key's
//! `tools/call`s without a hop — LiteLLM's answer, HTTP 400:
//! `{"error":{"message":"Budget has been exceeded! Current cost: X, Max budget: Y",
//! "type":"budget_exceeded","param":null,"code":"400"}}`; a 2026-07-28 client gets it as
//! a JSON-RPC error (id null, code -32600, `data.error` `budget_exceeded`), as every
//! refusal the filter sends such clients. Other methods (`tools/list`, `initialize`…)
//! pass: they cost nothing.

use serde::{Deserialize, Serialize};

use crate::decision::{header, Rejection};
use crate::mcp_headers::METHOD_HEADER;
use crate::paths::{LlmRoute, Route};
use crate::request_head::wants_jsonrpc;

/// The refusal's error type, and its reason in the audit trail.
pub const REASON: &str = "budget_exceeded";

/// LiteLLM's REST tool call: always a tool call.
const REST_CALL_PATH: &str = "/mcp-rest/tools/call";

/// Whose budget is used up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetOwner {
    Key,
    Team,
    Organization,
}

/// A key that may not call tools: whose budget, the spend in its window, its maximum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetExceeded {
    pub owner: BudgetOwner,
    /// The team or organization id (none for the key's own budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub spend: f64,
    pub max_budget: f64,
}

impl BudgetExceeded {
    /// LiteLLM's words (`BudgetExceededError`): the key's, or naming the team /
    /// organization.
    pub fn message(&self) -> String {
        let whose = match (self.owner, &self.id) {
            (BudgetOwner::Team, Some(id)) => format!("Team={id} "),
            (BudgetOwner::Organization, Some(id)) => format!("Organization={id} "),
            _ => String::new(),
        };
        format!(
            "Budget has been exceeded! {whose}Current cost: {}, Max budget: {}",
            python_float(self.spend),
            python_float(self.max_budget)
        )
    }

    pub fn rejection(&self, jsonrpc: bool) -> Rejection {
        let mut r = Rejection::new(400, REASON, self.message());
        r.litellm_shape = true;
        r.jsonrpc = jsonrpc;
        r
    }
}

/// A float as Python prints it (`1.0`, `0.25`), as LiteLLM's message shows it.
fn python_float(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e16 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

/// What an over-budget key's request needs, from its head.
#[derive(Debug, Clone, PartialEq)]
pub enum BudgetCheck {
    /// Not a tool call: forward.
    Pass,
    /// A tool call: refuse now.
    Refuse(Rejection),
    /// An MCP POST without `Mcp-Method`: the body says whether it calls a tool.
    ReadBody { jsonrpc: bool },
}

/// For a request of a key whose budget is exceeded.
pub fn at_headers(
    exceeded: &BudgetExceeded,
    method: &str,
    path: &str,
    headers: &[(String, String)],
) -> BudgetCheck {
    let jsonrpc = wants_jsonrpc(headers);
    if method != "POST" {
        return BudgetCheck::Pass;
    }
    if path.split(['?', '#']).next() == Some(REST_CALL_PATH) {
        return BudgetCheck::Refuse(exceeded.rejection(false));
    }
    // An LLM call (LiteLLM refuses every one of an over-budget key).
    if matches!(
        Route::of(method, path),
        Route::Llm(LlmRoute::ChatCompletions | LlmRoute::Responses)
    ) {
        return BudgetCheck::Refuse(exceeded.rejection(false));
    }
    if !matches!(
        Route::of(method, path),
        Route::Mcp(_) | Route::LegacySseMessage
    ) {
        return BudgetCheck::Pass;
    }
    match header(headers, METHOD_HEADER) {
        Some(m) if m.trim() == "tools/call" => BudgetCheck::Refuse(exceeded.rejection(jsonrpc)),
        // The sidecar refuses a body whose method differs from the header.
        Some(_) => BudgetCheck::Pass,
        None => BudgetCheck::ReadBody { jsonrpc },
    }
}

/// Whether a JSON-RPC body (one message or a batch) calls a tool. A body that is not
/// JSON-RPC calls nothing (the sidecar refuses it).
pub fn calls_a_tool(body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Message<'a> {
        #[serde(default, borrow)]
        method: Option<std::borrow::Cow<'a, str>>,
    }
    let is_call = |m: &Message<'_>| m.method.as_deref() == Some("tools/call");
    if let Ok(one) = serde_json::from_slice::<Message<'_>>(body) {
        return is_call(&one);
    }
    serde_json::from_slice::<Vec<Message<'_>>>(body).is_ok_and(|all| all.iter().any(is_call))
}

/// The refusal for a body that calls a tool (the whole request: a batch with one tool
/// call among other messages is refused whole).
pub fn in_body(exceeded: &BudgetExceeded, body: &[u8], jsonrpc: bool) -> Option<Rejection> {
    calls_a_tool(body).then(|| exceeded.rejection(jsonrpc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(spend: f64, max: f64) -> BudgetExceeded {
        BudgetExceeded {
            owner: BudgetOwner::Key,
            id: None,
            spend,
            max_budget: max,
        }
    }

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn litellms_message_and_body() {
        let r = key(1.0, 1.0).rejection(false);
        assert_eq!(r.status, 400);
        let body: serde_json::Value = serde_json::from_str(&r.body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": {
                "message": "Budget has been exceeded! Current cost: 1.0, Max budget: 1.0",
                "type": "budget_exceeded", "param": null, "code": "400"}})
        );
        let team = BudgetExceeded {
            owner: BudgetOwner::Team,
            id: Some("t1".into()),
            spend: 2.75,
            max_budget: 2.5,
        };
        assert_eq!(
            team.message(),
            "Budget has been exceeded! Team=t1 Current cost: 2.75, Max budget: 2.5"
        );
        let rpc: serde_json::Value =
            serde_json::from_str(&key(3.0, 2.0).rejection(true).body()).unwrap();
        assert_eq!(rpc["error"]["code"], -32600);
        assert_eq!(rpc["error"]["data"]["error"], "budget_exceeded");
        assert!(rpc["id"].is_null());
    }

    #[test]
    fn only_tool_calls_are_refused() {
        let k = key(1.0, 1.0);
        let none = h(&[]);
        assert!(matches!(
            at_headers(&k, "POST", "/mcp", &none),
            BudgetCheck::ReadBody { jsonrpc: false }
        ));
        assert!(matches!(
            at_headers(&k, "POST", "/mcp/web", &h(&[("mcp-method", "tools/call")])),
            BudgetCheck::Refuse(r) if r.jsonrpc
        ));
        assert_eq!(
            at_headers(&k, "POST", "/mcp", &h(&[("mcp-method", "tools/list")])),
            BudgetCheck::Pass
        );
        assert!(matches!(
            at_headers(&k, "POST", "/mcp-rest/tools/call", &none),
            BudgetCheck::Refuse(_)
        ));
        assert_eq!(at_headers(&k, "GET", "/mcp", &none), BudgetCheck::Pass);
        for llm in ["/v1/chat/completions", "/responses"] {
            assert!(matches!(
                at_headers(&k, "POST", llm, &none),
                BudgetCheck::Refuse(_)
            ));
        }
        assert_eq!(
            at_headers(&k, "GET", "/v1/models", &none),
            BudgetCheck::Pass
        );
        assert_eq!(
            at_headers(&k, "POST", "/key/info", &none),
            BudgetCheck::Pass
        );
        assert!(matches!(
            at_headers(&k, "POST", "/messages?sessionId=x", &none),
            BudgetCheck::ReadBody { .. }
        ));

        assert!(calls_a_tool(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}"#
        ));
        assert!(calls_a_tool(
            br#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/call"}]"#
        ));
        assert!(!calls_a_tool(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#
        ));
        assert!(!calls_a_tool(br#"{"jsonrpc":"2.0","id":1,"result":{}}"#));
        assert!(!calls_a_tool(b"not json"));
        assert!(!calls_a_tool(b""));
        // Escapes in the method name decode as the sidecar decodes them.
        assert!(calls_a_tool(br#"{"method":"tools\/call"}"#));
        assert!(in_body(&k, br#"{"method":"tools/call"}"#, false).is_some());
    }
}
