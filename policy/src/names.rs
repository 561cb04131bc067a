//! Tool and prompt naming: `{prefix}-{name}`, split at the first `-` (LiteLLM's contract).

/// Separates the server prefix from the upstream name.
pub const SEPARATOR: char = '-';
/// Longest server name or alias; leaves room for the tool name within SEP-986's 128.
pub const MAX_PREFIX_LEN: usize = 64;
/// SEP-986 limit for a tool name.
pub const MAX_TOOL_NAME_LEN: usize = 128;

/// Checks a server name or alias; the message completes "server name …".
pub fn validate_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Err("must not be empty".to_string());
    }
    if prefix.contains(SEPARATOR) {
        return Err(format!(
            "`{prefix}` cannot contain '-' (it separates the server prefix from the tool name); use '_' instead"
        ));
    }
    if prefix.len() > MAX_PREFIX_LEN {
        return Err(format!(
            "`{prefix}` is longer than {MAX_PREFIX_LEN} characters"
        ));
    }
    if let Some(bad) = prefix
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '.'))
    {
        return Err(format!(
            "`{prefix}` contains `{bad}`; only letters, digits, '_' and '.' are allowed (SEP-986)"
        ));
    }
    Ok(())
}

/// `{prefix}-{name}`.
pub fn prefixed(prefix: &str, name: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1 + name.len());
    out.push_str(prefix);
    out.push(SEPARATOR);
    out.push_str(name);
    out
}

/// Splits at the first separator: `("github", "search-issues")` for `github-search-issues`.
/// None when there is no separator or either side is empty.
pub fn split_prefixed(name: &str) -> Option<(&str, &str)> {
    let (prefix, rest) = name.split_once(SEPARATOR)?;
    if prefix.is_empty() || rest.is_empty() {
        None
    } else {
        Some((prefix, rest))
    }
}

/// Whether a (prefixed) tool name satisfies SEP-986.
pub fn is_sep986_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TOOL_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_first_separator() {
        assert_eq!(split_prefixed("github-search"), Some(("github", "search")));
        assert_eq!(
            split_prefixed("everything-get-sum"),
            Some(("everything", "get-sum"))
        );
        assert_eq!(split_prefixed("plain"), None);
        assert_eq!(split_prefixed("-x"), None);
        assert_eq!(split_prefixed("x-"), None);
    }

    #[test]
    fn prefix_rules() {
        assert!(validate_prefix("github_mcp").is_ok());
        assert!(validate_prefix("v1.api").is_ok());
        assert!(validate_prefix("my-server")
            .unwrap_err()
            .contains("cannot contain '-'"));
        assert!(validate_prefix("a b").unwrap_err().contains("` `"));
        assert!(validate_prefix("").is_err());
        assert!(validate_prefix(&"a".repeat(65)).is_err());
    }

    #[test]
    fn sep986() {
        assert!(is_sep986_tool_name("demo-echo"));
        assert!(!is_sep986_tool_name("demo-echo it"));
        assert!(!is_sep986_tool_name(&"a".repeat(129)));
        assert_eq!(prefixed("demo", "echo"), "demo-echo");
    }
}
