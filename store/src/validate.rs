//! Input checks; every error names the field it is about.

use std::collections::BTreeSet;

use chrono::{DateTime, SubsecRound, Utc};

use crate::error::StoreError;
use crate::records::{JsonObject, ObjectPermission, TeamMember};

/// Longest id, alias or permission entry.
pub(crate) const MAX_TEXT: usize = 256;
/// Longest description.
pub(crate) const MAX_LONG_TEXT: usize = 4096;
/// Longest serialized `metadata` / `config` object.
pub(crate) const MAX_JSON_BYTES: usize = 256 * 1024;
/// Longest server name or alias (as meshgate-policy's `names::MAX_PREFIX_LEN`).
pub(crate) const MAX_SERVER_NAME: usize = 64;

/// Now, at the precision every backend stores (microseconds), so records round-trip exactly.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub(crate) fn timestamp(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

/// An id, alias or name: 1–256 characters, no control characters, no surrounding whitespace.
pub(crate) fn text(field: &str, value: &str) -> Result<(), StoreError> {
    if value.is_empty() {
        return Err(StoreError::invalid(field, "must not be empty"));
    }
    if value.chars().count() > MAX_TEXT {
        return Err(StoreError::invalid(
            field,
            format!("longer than {MAX_TEXT} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(StoreError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    if value.trim() != value {
        return Err(StoreError::invalid(
            field,
            "must not start or end with whitespace",
        ));
    }
    Ok(())
}

pub(crate) fn opt_text(field: &str, value: Option<&str>) -> Result<(), StoreError> {
    value.map_or(Ok(()), |v| text(field, v))
}

/// Free text such as a description: up to 4096 characters, newlines and tabs allowed.
pub(crate) fn opt_text_long(field: &str, value: Option<&str>) -> Result<(), StoreError> {
    let Some(value) = value else { return Ok(()) };
    if value.chars().count() > MAX_LONG_TEXT {
        return Err(StoreError::invalid(
            field,
            format!("longer than {MAX_LONG_TEXT} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(StoreError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

pub(crate) fn rpm_limit(value: Option<i64>) -> Result<(), StoreError> {
    match value {
        Some(v) if v < 0 => Err(StoreError::invalid("rpm_limit", "must not be negative")),
        _ => Ok(()),
    }
}

pub(crate) fn json_object(field: &str, value: &JsonObject) -> Result<(), StoreError> {
    let size = serde_json::to_vec(value)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_JSON_BYTES {
        return Err(StoreError::invalid(
            field,
            format!("larger than {MAX_JSON_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// A caller-chosen plaintext key.
pub(crate) fn plaintext_key(value: &str) -> Result<(), StoreError> {
    // The message never repeats the value: it is a secret.
    if !value.starts_with("sk-") {
        return Err(StoreError::invalid("key", "must start with `sk-`"));
    }
    let len = value.len();
    if !(20..=MAX_TEXT).contains(&len) {
        return Err(StoreError::invalid(
            "key",
            format!("must be 20 to {MAX_TEXT} characters long"),
        ));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(StoreError::invalid(
            "key",
            "must be printable ASCII without spaces",
        ));
    }
    Ok(())
}

/// A server name or alias: the rules of meshgate-policy's `names::validate_prefix`.
pub(crate) fn server_name(field: &str, value: &str) -> Result<(), StoreError> {
    if value.is_empty() {
        return Err(StoreError::invalid(field, "must not be empty"));
    }
    if value.contains('-') {
        return Err(StoreError::invalid(
            field,
            format!("`{value}` cannot contain '-' (it separates the server prefix from the tool name); use '_' instead"),
        ));
    }
    if value.len() > MAX_SERVER_NAME {
        return Err(StoreError::invalid(
            field,
            format!("longer than {MAX_SERVER_NAME} characters"),
        ));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '.'))
    {
        return Err(StoreError::invalid(
            field,
            format!("`{value}` contains `{bad}`; only letters, digits, '_' and '.' are allowed (SEP-986)"),
        ));
    }
    Ok(())
}

fn list(field: &str, items: &[String]) -> Result<(), StoreError> {
    for item in items {
        text(field, item)?;
    }
    Ok(())
}

/// A list of names (guardrails): each a non-empty text.
pub(crate) fn names(field: &str, items: &[String]) -> Result<(), StoreError> {
    list(field, items)
}

pub(crate) fn permission(perm: &ObjectPermission) -> Result<(), StoreError> {
    if let Some(servers) = &perm.mcp_servers {
        list("object_permission.mcp_servers", servers)?;
    }
    if let Some(groups) = &perm.mcp_access_groups {
        list("object_permission.mcp_access_groups", groups)?;
    }
    if let Some(tools) = &perm.mcp_tool_permissions {
        let field = "object_permission.mcp_tool_permissions";
        for (server, names) in tools {
            text(field, server)?;
            list(&format!("{field}.{server}"), names)?;
        }
    }
    Ok(())
}

pub(crate) fn member(field: &str, m: &TeamMember) -> Result<(), StoreError> {
    text(&format!("{field}.user_id"), &m.user_id)
}

pub(crate) fn members(members: &[TeamMember]) -> Result<(), StoreError> {
    let mut seen = BTreeSet::new();
    for m in members {
        member("members", m)?;
        if !seen.insert(m.user_id.as_str()) {
            return Err(StoreError::invalid(
                "members",
                format!("user `{}` is listed twice", m.user_id),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rules() {
        assert!(text("f", "ok").is_ok());
        assert!(text("f", "").is_err());
        assert!(text("f", " x").is_err());
        assert!(text("f", "a\nb").is_err());
        assert!(text("f", &"x".repeat(257)).is_err());
    }

    #[test]
    fn server_names() {
        assert!(server_name("server_name", "github.v2_x").is_ok());
        for bad in ["", "a-b", "a b", "ü", &"x".repeat(65)] {
            let err = server_name("server_name", bad).unwrap_err();
            assert!(matches!(err, StoreError::Invalid { ref field, .. } if field == "server_name"));
        }
    }

    #[test]
    fn key_rules_never_echo_the_key() {
        let err = plaintext_key("sk-short secret").unwrap_err().to_string();
        assert!(!err.contains("secret"), "{err}");
        assert!(plaintext_key("pk-aaaaaaaaaaaaaaaaaaaaaa").is_err());
        assert!(plaintext_key("sk-aaaaaaaaaaaaaaaaaaaaaa").is_ok());
    }
}
