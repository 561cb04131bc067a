//! What one `tools/call` costs: LiteLLM's `MCPCostCalculator` rule over a server's
//! `mcp_info.mcp_server_cost_info` — the **bare** tool name in
//! `tool_name_to_cost_per_query`, else `default_cost_per_query`, else 0.0.

use crate::config::{CostInfo, ServerConfig};
use crate::error::ConfigError;

impl CostInfo {
    /// The configured cost of one call of `bare_tool` (exact name, as LiteLLM looks it up).
    pub fn cost_of(&self, bare_tool: &str) -> f64 {
        self.tool_name_to_cost_per_query
            .get(bare_tool)
            .copied()
            .or(self.default_cost_per_query)
            .unwrap_or(0.0)
    }
}

/// The configured cost of one call of `bare_tool` on `server` (0.0 without cost info).
pub fn tool_call_cost(server: &ServerConfig, bare_tool: &str) -> f64 {
    server
        .mcp_info
        .as_ref()
        .and_then(|i| i.mcp_server_cost_info.as_ref())
        .map_or(0.0, |c| c.cost_of(bare_tool))
}

/// Costs are finite and not negative (a negative cost would lift a budget).
pub(crate) fn validate_cost_info(server: &str, info: &CostInfo) -> Result<(), ConfigError> {
    let at = format!("mcp_servers.{server}.mcp_info.mcp_server_cost_info");
    let bad = |v: f64| !v.is_finite() || v < 0.0;
    if let Some(v) = info.default_cost_per_query.filter(|v| bad(*v)) {
        return Err(ConfigError::field(
            format!("{at}.default_cost_per_query"),
            format!("must be a finite number ≥ 0, found {v}"),
        ));
    }
    for (tool, v) in &info.tool_name_to_cost_per_query {
        if bad(*v) {
            return Err(ConfigError::field(
                format!("{at}.tool_name_to_cost_per_query.{tool}"),
                format!("must be a finite number ≥ 0, found {v}"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load_config;

    fn server(yaml_info: &str) -> ServerConfig {
        let cfg = load_config(
            &format!("mcp_servers:\n  gh:\n    url: https://x/mcp\n    transport: http\n    mcp_info: {yaml_info}\n"),
            None,
        )
        .unwrap();
        cfg.mcp_servers["gh"].clone()
    }

    #[test]
    fn bare_name_then_default_then_zero() {
        let s = server("{mcp_server_cost_info: {default_cost_per_query: 0.01, tool_name_to_cost_per_query: {search_issues: 0.05}}}");
        assert_eq!(tool_call_cost(&s, "search_issues"), 0.05);
        assert_eq!(tool_call_cost(&s, "other"), 0.01);
        // LiteLLM looks the bare name up exactly: a prefixed name is not the tool.
        assert_eq!(tool_call_cost(&s, "gh-search_issues"), 0.01);
        let s = server("{mcp_server_cost_info: {tool_name_to_cost_per_query: {a: 2.5}}}");
        assert_eq!(tool_call_cost(&s, "a"), 2.5);
        assert_eq!(tool_call_cost(&s, "b"), 0.0);
        assert_eq!(tool_call_cost(&server("{server_name: GH}"), "a"), 0.0);
    }

    #[test]
    fn negative_costs_are_refused_naming_the_field() {
        let e = load_config(
            "mcp_servers:\n  gh:\n    url: https://x/mcp\n    transport: http\n    mcp_info: {mcp_server_cost_info: {tool_name_to_cost_per_query: {a: -1}}}\n",
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains(
                "mcp_servers.gh.mcp_info.mcp_server_cost_info.tool_name_to_cost_per_query.a"
            ),
            "{e}"
        );
        let e = load_config(
            "mcp_servers:\n  gh:\n    url: https://x/mcp\n    transport: http\n    mcp_info: {mcp_server_cost_info: {default_cost_per_query: -0.5}}\n",
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("default_cost_per_query"), "{e}");
    }
}
