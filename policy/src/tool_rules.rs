//! A server's own tool rules: `allowed_tools` / `disallowed_tools`.
//!
//! Entries may name the bare tool or the prefixed one (`{alias or name}-{tool}`), and
//! match case-insensitively on both listing and calling, so whatever a client sees it
//! may call. An empty `allowed_tools` means "no allow-list" (LiteLLM's reading).

use crate::config::ServerConfig;
use crate::names::prefixed;

pub struct ToolRules<'a> {
    server_name: &'a str,
    prefix: &'a str,
    allowed: &'a [String],
    disallowed: &'a [String],
}

impl<'a> ToolRules<'a> {
    pub fn for_server(server_name: &'a str, prefix: &'a str, config: &'a ServerConfig) -> Self {
        Self::new(
            server_name,
            prefix,
            config.allowed_tools.as_deref().unwrap_or(&[]),
            config.disallowed_tools.as_deref().unwrap_or(&[]),
        )
    }

    pub fn new(
        server_name: &'a str,
        prefix: &'a str,
        allowed: &'a [String],
        disallowed: &'a [String],
    ) -> Self {
        ToolRules {
            server_name,
            prefix,
            allowed,
            disallowed,
        }
    }

    /// True when nothing restricts this server's tools (the common, fast case).
    pub fn is_open(&self) -> bool {
        self.allowed.is_empty() && self.disallowed.is_empty()
    }

    /// Whether the bare upstream tool name may be listed and called.
    pub fn permits(&self, tool: &str) -> bool {
        if self.is_open() {
            return true;
        }
        let listed = |list: &[String]| list.iter().any(|entry| self.names(entry, tool));
        (self.allowed.is_empty() || listed(self.allowed)) && !listed(self.disallowed)
    }

    /// Whether `disallowed_tools` names this tool (for a tool with a second spelling: a
    /// deny entry in either spelling must hold).
    pub fn denies(&self, tool: &str) -> bool {
        self.disallowed.iter().any(|entry| self.names(entry, tool))
    }

    fn names(&self, entry: &str, tool: &str) -> bool {
        entry.eq_ignore_ascii_case(tool)
            || entry.eq_ignore_ascii_case(&prefixed(self.prefix, tool))
            || entry.eq_ignore_ascii_case(&prefixed(self.server_name, tool))
            || with_other_separator(entry, self.prefix, tool)
            || with_other_separator(entry, self.server_name, tool)
    }
}

/// `{prefix}{sep}{tool}` for a `MCP_TOOL_PREFIX_SEPARATOR` other than `-` (e.g. `__`):
/// any usable separator between the two, case-insensitively.
fn with_other_separator(entry: &str, prefix: &str, tool: &str) -> bool {
    let (Some(head), Some(tail)) = (
        entry.get(..prefix.len()),
        entry
            .len()
            .checked_sub(tool.len())
            .and_then(|i| entry.get(i..)),
    ) else {
        return false;
    };
    let middle = entry
        .get(prefix.len()..entry.len() - tool.len())
        .unwrap_or_default();
    head.eq_ignore_ascii_case(prefix)
        && tail.eq_ignore_ascii_case(tool)
        && middle != "-"
        && crate::names::usable_separator(middle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixed_entries_with_another_separator() {
        assert!(with_other_separator("gh__search", "gh", "search"));
        assert!(with_other_separator("GH__Search", "gh", "search"));
        assert!(!with_other_separator("gh-search", "gh", "search"));
        assert!(!with_other_separator("ghsearch", "gh", "search"));
        assert!(!with_other_separator("search", "gh", "search"));
        assert!(!with_other_separator("gh/search", "gh", "search"));
    }

    fn server(allowed: Option<&[&str]>, disallowed: Option<&[&str]>) -> ServerConfig {
        let owned = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        ServerConfig {
            allowed_tools: allowed.map(owned),
            disallowed_tools: disallowed.map(owned),
            ..Default::default()
        }
    }

    #[test]
    fn allow_and_deny_lists() {
        let cfg = server(Some(&["Search", "gh-get_issue"]), Some(&["search"]));
        let rules = ToolRules::for_server("github_mcp", "gh", &cfg);
        assert!(!rules.permits("search"), "deny wins over allow");
        assert!(rules.permits("GET_ISSUE"), "prefixed entry, any case");
        assert!(!rules.permits("delete_repo"), "not on the allow-list");

        let cfg = server(None, Some(&["github_mcp-delete_repo"]));
        let rules = ToolRules::for_server("github_mcp", "gh", &cfg);
        assert!(
            !rules.permits("delete_repo"),
            "server-name prefix matches too"
        );
        assert!(rules.permits("search"));

        let cfg = server(Some(&["get_issue"]), Some(&["gh-Delete_Repo"]));
        let rules = ToolRules::for_server("github_mcp", "gh", &cfg);
        assert!(rules.denies("delete_repo") && !rules.denies("get_issue"));

        let cfg = server(Some(&[]), None);
        let rules = ToolRules::for_server("s", "s", &cfg);
        assert!(rules.is_open() && rules.permits("anything"));
    }
}
