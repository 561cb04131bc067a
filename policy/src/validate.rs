//! Semantic checks of a parsed configuration. Each error names the field.

use serde_json::Value;

use crate::config::{GatewayConfig, ServerConfig, Transport};
use crate::env::env_reference;
use crate::error::ConfigError;
use crate::names::validate_prefix;

/// `mcp_servers` entry keys meshgate reads.
pub(crate) const SERVER_FIELDS: &[&str] = &[
    "url",
    "transport",
    "command",
    "args",
    "env",
    "alias",
    "description",
    "auth_type",
    "auth_value",
    "authentication_token",
    "static_headers",
    "extra_headers",
    "allowed_tools",
    "disallowed_tools",
    "allowed_params",
    "access_groups",
    "allow_all_keys",
    "spec_path",
    "mcp_info",
    "client_id",
    "client_secret",
    "scopes",
    "token_url",
    "instructions",
];

/// LiteLLM fields accepted so existing files load, but not acted on (yet): named in the
/// load warning (`crate::litellm`).
pub(crate) const SERVER_FIELDS_ACCEPTED: &[&str] = &[
    "available_on_public_internet",
    "oauth2_flow",
    "authorization_url",
    "registration_url",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_region_name",
    "aws_service_name",
    "aws_role_name",
    "aws_session_name",
    "server_id",
    "server_name",
    "tool_name_to_display_name",
    "tool_name_to_description",
    "is_byok",
    "byok_description",
    "byok_api_key_help_url",
    "token_validation",
    "token_storage_ttl_seconds",
    "delegate_auth_to_upstream",
    "env_vars",
    "header_variables",
    "upstream_token_header",
    "issuer",
    "token_exchange_endpoint",
    "audience",
    "subject_token_type",
    "spec_version",
    "allowed_params_strict",
];

/// Refuses keys of a server entry that neither meshgate nor LiteLLM knows: a typo such as
/// `trasport` would otherwise silently fall back to a default.
pub(crate) fn check_server_keys(doc: &Value) -> Result<(), ConfigError> {
    let Some(servers) = doc.get("mcp_servers").and_then(Value::as_object) else {
        return Ok(());
    };
    for (name, entry) in servers {
        let Some(entry) = entry.as_object() else {
            continue; // the typed pass reports the wrong type
        };
        for key in entry.keys() {
            let k = key.as_str();
            if !SERVER_FIELDS.contains(&k) && !SERVER_FIELDS_ACCEPTED.contains(&k) {
                return Err(ConfigError::field(
                    format!("mcp_servers.{name}.{key}"),
                    format!(
                        "unknown field `{key}`; expected one of {}",
                        SERVER_FIELDS.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

pub(crate) fn validate(config: &GatewayConfig) -> Result<(), ConfigError> {
    let m = &config.meshgate;
    if m.sync_interval_ms < 100 {
        return Err(ConfigError::field(
            "meshgate.sync_interval_ms",
            "must be at least 100",
        ));
    }
    if m.list_timeout_ms == 0 || m.call_timeout_ms == 0 {
        return Err(ConfigError::field(
            if m.list_timeout_ms == 0 {
                "meshgate.list_timeout_ms"
            } else {
                "meshgate.call_timeout_ms"
            },
            "must be greater than 0",
        ));
    }
    if m.max_body_bytes < 1024 {
        return Err(ConfigError::field(
            "meshgate.max_body_bytes",
            "must be at least 1024",
        ));
    }
    for (field, value, least) in [
        (
            "meshgate.session_idle_timeout_ms",
            m.session_idle_timeout_ms,
            1000,
        ),
        (
            "meshgate.session_max_lifetime_ms",
            m.session_max_lifetime_ms,
            1000,
        ),
        (
            "meshgate.max_streams_per_session",
            m.max_streams_per_session as u64,
            1,
        ),
        (
            "meshgate.max_streams_per_key",
            m.max_streams_per_key as u64,
            1,
        ),
    ] {
        if value < least {
            return Err(ConfigError::field(
                field,
                format!("must be at least {least}"),
            ));
        }
    }
    if m.max_batch_size == 0 {
        return Err(ConfigError::field(
            "meshgate.max_batch_size",
            "must be at least 1",
        ));
    }
    if m.sidecar_cluster.trim().is_empty() {
        return Err(ConfigError::field(
            "meshgate.sidecar_cluster",
            "must not be empty",
        ));
    }

    if !(1..=64).contains(&m.max_tool_rounds) {
        return Err(ConfigError::field(
            "meshgate.max_tool_rounds",
            format!("must be between 1 and 64, found {}", m.max_tool_rounds),
        ));
    }
    if !(1..=86_400_000).contains(&m.llm_request_timeout_ms) {
        return Err(ConfigError::field(
            "meshgate.llm_request_timeout_ms",
            format!(
                "must be between 1 and 86400000 (a day), found {}",
                m.llm_request_timeout_ms
            ),
        ));
    }
    crate::hooks::validate(&m.hooks)?;
    for (name, server) in &config.mcp_servers {
        validate_server(name, server)?;
    }
    validate_aliases(config)?;
    validate_unique_prefixes(config)?;
    if let Some(header) = &config.general_settings.mcp_client_side_auth_header_name {
        check_header_name("general_settings.mcp_client_side_auth_header_name", header)?;
    }
    if let Some(header) = &config.general_settings.litellm_key_header_name {
        check_header_name("general_settings.litellm_key_header_name", header)?;
    }
    Ok(())
}

fn validate_server(name: &str, s: &ServerConfig) -> Result<(), ConfigError> {
    let at = |field: &str| format!("mcp_servers.{name}.{field}");
    validate_prefix(name).map_err(|m| {
        ConfigError::field(format!("mcp_servers.{name}"), format!("server name {m}"))
    })?;
    if let Some(alias) = &s.alias {
        validate_prefix(alias)
            .map_err(|m| ConfigError::field(at("alias"), format!("alias {m}")))?;
    }
    if let Some(cost) = s
        .mcp_info
        .as_ref()
        .and_then(|i| i.mcp_server_cost_info.as_ref())
    {
        crate::cost::validate_cost_info(name, cost)?;
    }
    match s.effective_transport() {
        Some(Transport::Stdio) => {
            if s.command.as_deref().is_none_or(|c| c.trim().is_empty()) {
                return Err(ConfigError::field(
                    at("command"),
                    "a stdio server needs a command",
                ));
            }
        }
        Some(Transport::Http | Transport::Sse) | None if s.is_openapi() => {
            if let Some(url) = &s.url {
                check_url(&at("url"), url)?;
            }
            if s.spec_path.as_deref().is_some_and(|p| p.trim().is_empty()) {
                return Err(ConfigError::field(at("spec_path"), "must not be empty"));
            }
        }
        Some(Transport::Http | Transport::Sse) | None => {
            let Some(url) = &s.url else {
                return Err(ConfigError::field(
                    at("url"),
                    "an http or sse server needs a url (or `command` for stdio, `spec_path` for OpenAPI)",
                ));
            };
            check_url(&at("url"), url)?;
        }
    }
    for header in s.static_headers.keys() {
        check_header_name(&at(&format!("static_headers.{header}")), header)?;
    }
    for (i, header) in s.extra_headers.iter().enumerate() {
        check_header_name(&at(&format!("extra_headers.{i}")), header)?;
    }
    for (i, group) in s.access_groups.iter().enumerate() {
        if group.trim().is_empty() || group.contains(',') {
            return Err(ConfigError::field(
                at(&format!("access_groups.{i}")),
                "access group names must be non-empty and contain no ','",
            ));
        }
    }
    for key in s.env.keys() {
        if key.is_empty() || key.contains('=') || key.contains('\0') {
            return Err(ConfigError::field(
                at(&format!("env.{key}")),
                "not a valid environment variable name",
            ));
        }
    }
    Ok(())
}

/// An alias naming a server the file does not define is a warning ([`warnings`]), as
/// LiteLLM's own example config has such aliases.
fn validate_aliases(config: &GatewayConfig) -> Result<(), ConfigError> {
    for alias in config.litellm_settings.mcp_aliases.keys() {
        let field = format!("litellm_settings.mcp_aliases.{alias}");
        validate_prefix(alias).map_err(|m| ConfigError::field(&field, format!("alias {m}")))?;
    }
    Ok(())
}

/// What a valid configuration still deserves a word about, one line each: aliases to
/// servers the file does not define, prefixes that contain the separator, servers whose
/// `auth_type` meshgate cannot serve yet, an unusable separator.
pub(crate) fn warnings(config: &GatewayConfig) -> Vec<String> {
    let mut out = Vec::new();
    let separator = config.separator();
    if let Some(asked) = &config.tool_separator {
        if asked != separator {
            out.push(format!(
                "{} `{asked}` is not usable (empty, longer than 8 or not SEP-986 characters); using `{separator}`",
                crate::names::SEPARATOR_ENV
            ));
        }
    }
    for (alias, target) in &config.litellm_settings.mcp_aliases {
        if !config.mcp_servers.contains_key(target) {
            out.push(format!(
                "litellm_settings.mcp_aliases.{alias} refers to server `{target}`, which this configuration does not define; ignored"
            ));
        }
    }
    for name in config.mcp_servers.keys() {
        let prefix = config.prefix_of(name);
        for (what, value) in [
            ("server name", name.as_str()),
            ("tool prefix", prefix.as_str()),
        ] {
            if crate::names::contains_separator(value, separator) {
                out.push(format!(
                    "mcp_servers.{name}: {what} `{value}` contains the tool-name separator `{separator}`; names are split at the longest known prefix"
                ));
                break;
            }
        }
    }
    for (name, server) in &config.mcp_servers {
        if let Some(why) = server.auth_type.and_then(|a| a.unsupported()) {
            out.push(format!("mcp_servers.{name}.auth_type: {why}"));
        }
    }
    out.extend(crate::guardrails::config::warnings(&config.guardrail_specs));
    out.extend(crate::models::warnings(&config.model_specs));
    out
}

/// Two servers with the same prefix (case-insensitively) would make tool names ambiguous.
fn validate_unique_prefixes(config: &GatewayConfig) -> Result<(), ConfigError> {
    let mut seen: Vec<(String, &str)> = Vec::new();
    for name in config.mcp_servers.keys() {
        let prefix = config.prefix_of(name).to_ascii_lowercase();
        if let Some((_, other)) = seen.iter().find(|(p, _)| *p == prefix) {
            return Err(ConfigError::field(
                format!("mcp_servers.{name}"),
                format!("its tool prefix `{prefix}` is already used by server `{other}`"),
            ));
        }
        seen.push((prefix, name));
    }
    Ok(())
}

fn check_url(field: &str, url: &str) -> Result<(), ConfigError> {
    if env_reference(url).is_some() {
        return Ok(()); // checked once resolved, in the sidecar
    }
    let lower = url.trim().to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(()),
        _ => Err(ConfigError::field(
            field,
            format!("`{url}` is not an http(s) URL"),
        )),
    }
}

fn check_header_name(field: &str, header: &str) -> Result<(), ConfigError> {
    let valid = !header.is_empty()
        && header
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(ConfigError::field(
            field,
            format!("`{header}` is not a valid HTTP header name"),
        ))
    }
}
