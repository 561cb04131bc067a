//! Tool and prompt naming: `{prefix}{separator}{name}` (LiteLLM's contract). The separator
//! is `-` unless `MCP_TOOL_PREFIX_SEPARATOR` says otherwise (read by the sidecar, carried
//! to the filter in the policy snapshot). A name is split at the longest known server
//! prefix followed by the separator, else at the first separator, so prefixes that
//! contain the separator (LiteLLM accepts such aliases) still resolve.

/// LiteLLM's default separator.
pub const DEFAULT_SEPARATOR: &str = "-";
/// The default separator as a char (kept for callers that predate configurable separators).
pub const SEPARATOR: char = '-';
/// The environment variable LiteLLM reads the separator from.
pub const SEPARATOR_ENV: &str = "MCP_TOOL_PREFIX_SEPARATOR";
/// Longest server name or alias; leaves room for the tool name within SEP-986's 128.
pub const MAX_PREFIX_LEN: usize = 64;
/// SEP-986 limit for a tool name.
pub const MAX_TOOL_NAME_LEN: usize = 128;

/// Checks a server name or alias; the message completes "server name …". A prefix that
/// contains the separator is allowed (see [`contains_separator`] for the warning).
pub fn validate_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Err("must not be empty".to_string());
    }
    if prefix.len() > MAX_PREFIX_LEN {
        return Err(format!(
            "`{prefix}` is longer than {MAX_PREFIX_LEN} characters"
        ));
    }
    if let Some(bad) = prefix
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "`{prefix}` contains `{bad}`; only letters, digits, '_', '.' and '-' are allowed (SEP-986)"
        ));
    }
    Ok(())
}

/// Whether a prefix contains the separator (accepted, resolved by the longest known
/// prefix, but worth a warning: a bare split at the first separator would go wrong).
pub fn contains_separator(prefix: &str, separator: &str) -> bool {
    !separator.is_empty() && prefix.contains(separator)
}

/// A usable separator: non-empty, SEP-986 characters only. Anything else falls back to
/// the default (the caller warns).
pub fn usable_separator(separator: &str) -> bool {
    !separator.is_empty()
        && separator.len() <= 8
        && separator
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// `{prefix}-{name}` with the default separator.
pub fn prefixed(prefix: &str, name: &str) -> String {
    prefixed_with(prefix, DEFAULT_SEPARATOR, name)
}

/// `{prefix}{separator}{name}`.
pub fn prefixed_with(prefix: &str, separator: &str, name: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + separator.len() + name.len());
    out.push_str(prefix);
    out.push_str(separator);
    out.push_str(name);
    out
}

/// Splits at the first default separator: `("github", "search-issues")` for
/// `github-search-issues`. None when there is no separator or either side is empty.
pub fn split_prefixed(name: &str) -> Option<(&str, &str)> {
    split_first(name, DEFAULT_SEPARATOR)
}

/// Splits at the first `separator`.
pub fn split_first<'n>(name: &'n str, separator: &str) -> Option<(&'n str, &'n str)> {
    if separator.is_empty() {
        return None;
    }
    let (prefix, rest) = name.split_once(separator)?;
    if prefix.is_empty() || rest.is_empty() {
        None
    } else {
        Some((prefix, rest))
    }
}

/// Splits after the longest of `known` prefixes (ASCII case-insensitive) that the name
/// starts with, followed by `separator` and a non-empty rest; else at the first
/// separator. `my-gh-search` with known `my-gh` → `("my-gh", "search")`.
pub fn split_known<'n, 'k>(
    name: &'n str,
    separator: &str,
    known: impl IntoIterator<Item = &'k str>,
) -> Option<(&'n str, &'n str)> {
    let mut best: Option<usize> = None;
    for prefix in known {
        let len = prefix.len();
        if best.is_some_and(|b| b >= len) || name.len() <= len + separator.len() {
            continue;
        }
        let (Some(head), Some(tail)) = (name.get(..len), name.get(len..)) else {
            continue;
        };
        if head.eq_ignore_ascii_case(prefix) && tail.starts_with(separator) {
            best = Some(len);
        }
    }
    match best {
        Some(len) => Some((name.get(..len)?, name.get(len + separator.len()..)?)),
        None => split_first(name, separator),
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
    fn splits_at_the_longest_known_prefix() {
        let known = ["my", "my-gh", "other"];
        assert_eq!(
            split_known("my-gh-search", "-", known),
            Some(("my-gh", "search"))
        );
        assert_eq!(split_known("MY-GH-a-b", "-", known), Some(("MY-GH", "a-b")));
        assert_eq!(split_known("my-x", "-", known), Some(("my", "x")));
        assert_eq!(split_known("my-gh-", "-", known), Some(("my", "gh-")));
        assert_eq!(split_known("nope-x", "-", known), Some(("nope", "x")));
        assert_eq!(
            split_known("alpha__echo-it", "__", ["alpha"]),
            Some(("alpha", "echo-it"))
        );
        assert_eq!(split_known("a__b__c", "__", ["a__b"]), Some(("a__b", "c")));
        assert_eq!(split_known("alpha-echo", "__", ["alpha"]), None);
        assert_eq!(split_known("é-x", "-", ["e"]), Some(("é", "x")));
    }

    #[test]
    fn prefix_rules() {
        assert!(validate_prefix("github_mcp").is_ok());
        assert!(validate_prefix("v1.api").is_ok());
        assert!(validate_prefix("my-server").is_ok());
        assert!(contains_separator("my-server", "-"));
        assert!(!contains_separator("my-server", "__"));
        assert!(validate_prefix("a b").unwrap_err().contains("` `"));
        assert!(validate_prefix("").is_err());
        assert!(validate_prefix(&"a".repeat(65)).is_err());
        assert!(usable_separator("__") && usable_separator("-"));
        assert!(!usable_separator("") && !usable_separator("/") && !usable_separator("a b"));
    }

    #[test]
    fn sep986() {
        assert!(is_sep986_tool_name("demo-echo"));
        assert!(!is_sep986_tool_name("demo-echo it"));
        assert!(!is_sep986_tool_name(&"a".repeat(129)));
        assert_eq!(prefixed("demo", "echo"), "demo-echo");
        assert_eq!(prefixed_with("demo", "__", "echo"), "demo__echo");
    }
}
