//! Reading a LiteLLM `config.yaml` as it is: sections and fields meshgate does not act on
//! (yet) load, are named in one warning, and their `os.environ/` values are left alone —
//! a LiteLLM file refers to variables (LLM provider keys, Slack hooks…) that the
//! gateway's environment need not have.

use serde_json::Value;

use crate::env::{resolve_env_refs, EnvSource};
use crate::error::ConfigError;
use crate::validate::{SERVER_FIELDS, SERVER_FIELDS_ACCEPTED};

/// Top-level sections meshgate reads.
const SECTIONS_USED: &[&str] = &[
    "meshgate",
    "mcp_servers",
    "general_settings",
    "litellm_settings",
];
/// `general_settings` keys meshgate reads (the rest of LiteLLM's many are named in the
/// warning). Extend this list with every key `GeneralSettings` gains.
const GENERAL_SETTINGS_USED: &[&str] = &[
    "master_key",
    "mcp_client_side_auth_header_name",
    "database_url",
    "litellm_key_header_name",
];
/// `litellm_settings` keys meshgate reads.
const LITELLM_SETTINGS_USED: &[&str] = &["mcp_aliases"];
/// Server fields meshgate parses but does not act on yet.
const SERVER_FIELDS_INERT: &[&str] = &[];
/// OAuth 2.0 client-credentials fields: acted on (the sidecar fetches tokens) only on a
/// server with `auth_type: oauth2` and a `client_secret`; named as inert elsewhere (the
/// per-user flow, where the client brings its token, does not use them yet).
const OAUTH_CLIENT_FIELDS: &[&str] = &["client_id", "client_secret", "scopes", "token_url"];

/// Whether a server entry gets client-credentials tokens from the gateway.
fn uses_client_credentials(entry: &serde_json::Map<String, Value>) -> bool {
    entry.get("auth_type").and_then(Value::as_str) == Some("oauth2")
        && entry.get("client_secret").is_some_and(|v| !v.is_null())
}
/// `mcp_info` keys meshgate does not act on yet (`mcp_server_cost_info` is acted on:
/// `crate::cost`, the sidecar's spend rows and budgets).
const MCP_INFO_INERT: &[&str] = &[];

/// Whether the value at this path is read by meshgate (its `os.environ/` values are
/// resolved and must be set); `path` is the document path, outermost first.
/// Sections meshgate acts on in part, whose gaps are reported one by one elsewhere:
/// `guardrails` by `crate::guardrails::config::warnings`. They stay out of
/// [`is_used`], so their `os.environ/` values are resolved where they are used (the
/// sidecar, when it calls a guardrail service), not at load.
/// `model_list` by `crate::models::warnings` (its `api_key`s are resolved by the
/// sidecar when it builds the providers).
const REPORTED_ELSEWHERE: &[&str] = &["guardrails", "model_list"];

fn is_used(path: &[&str]) -> bool {
    match path {
        [] => true,
        [section, ..] if !SECTIONS_USED.contains(section) => false,
        ["general_settings", key, ..] => GENERAL_SETTINGS_USED.contains(key),
        ["litellm_settings", key, ..] => LITELLM_SETTINGS_USED.contains(key),
        ["mcp_servers", _server, field, rest @ ..] => {
            if SERVER_FIELDS_INERT.contains(field) || SERVER_FIELDS_ACCEPTED.contains(field) {
                return false;
            }
            match (*field, rest) {
                ("mcp_info", [key, ..]) => !MCP_INFO_INERT.contains(key),
                _ => SERVER_FIELDS.contains(field),
            }
        }
        _ => true,
    }
}

/// Every field of the document meshgate does not act on, as dotted paths, sorted: unknown top-level sections, unknown `general_settings` / `litellm_settings`
/// keys, LiteLLM server fields meshgate accepts but ignores.
pub fn inert_paths(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let Some(top) = doc.as_object() else {
        return out;
    };
    for (section, value) in top {
        if REPORTED_ELSEWHERE.contains(&section.as_str()) {
            continue;
        }
        if !is_used(&[section]) {
            out.push(section.clone());
            continue;
        }
        let Some(map) = value.as_object() else {
            continue;
        };
        match section.as_str() {
            "general_settings" | "litellm_settings" => {
                for key in map.keys() {
                    if !is_used(&[section, key]) {
                        out.push(format!("{section}.{key}"));
                    }
                }
            }
            "mcp_servers" => {
                for (server, entry) in map {
                    let Some(entry) = entry.as_object() else {
                        continue;
                    };
                    let client_credentials = uses_client_credentials(entry);
                    for (field, value) in entry {
                        if !is_used(&[section, server, field])
                            || (OAUTH_CLIENT_FIELDS.contains(&field.as_str())
                                && !client_credentials)
                        {
                            out.push(format!("mcp_servers.{server}.{field}"));
                        } else if let ("mcp_info", Some(info)) = (field.as_str(), value.as_object())
                        {
                            for key in info.keys() {
                                if !is_used(&[section, server, field, key]) {
                                    out.push(format!("mcp_servers.{server}.mcp_info.{key}"));
                                }
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Resolves `os.environ/NAME` values in the parts of the document meshgate reads; the
/// rest keeps its literal values (and cannot fail the load).
pub fn resolve_used_env_refs(doc: &mut Value, env: &dyn EnvSource) -> Result<(), ConfigError> {
    resolve_where_used(doc, env, &mut Vec::new())
}

fn resolve_where_used(
    value: &mut Value,
    env: &dyn EnvSource,
    path: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    if !is_used(&segments) {
        return Ok(());
    }
    // Below the depth where a decision is made, resolve the whole subtree.
    let decided = match segments.as_slice() {
        [s, ..] if *s == "meshgate" => true,
        ["general_settings" | "litellm_settings", _, ..] => true,
        ["mcp_servers", _, field, ..] if *field != "mcp_info" => true,
        ["mcp_servers", _, "mcp_info", _, ..] => true,
        _ => false,
    };
    if decided || !value.is_object() {
        let mut sub = std::mem::take(value);
        let result = resolve_env_refs(&mut sub, env).map_err(|e| match e {
            ConfigError::MissingEnv { field, variable } => ConfigError::MissingEnv {
                field: join(path, &field),
                variable,
            },
            other => other,
        });
        *value = sub;
        return result;
    }
    if let Value::Object(map) = value {
        for (key, item) in map.iter_mut() {
            path.push(key.clone());
            let r = resolve_where_used(item, env, path);
            path.pop();
            r?;
        }
    }
    Ok(())
}

fn join(path: &[String], rest: &str) -> String {
    let mut out = path.join(".");
    if !rest.is_empty() {
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(rest);
    }
    out
}

/// The one warning naming every inert field, or None when there is none.
pub fn inert_warning(paths: &[String]) -> Option<String> {
    if paths.is_empty() {
        return None;
    }
    Some(format!(
        "loaded but not acted on by meshgate yet ({} field{}): {}",
        paths.len(),
        if paths.len() == 1 { "" } else { "s" },
        paths.join(", ")
    ))
}

/// LiteLLM's callback lists name Python classes (its MCP hooks among them), which
/// meshgate cannot run: when one is present, say where meshgate's hooks go.
pub fn callbacks_hint(paths: &[String]) -> Option<String> {
    const CALLBACK_FIELDS: &[&str] = &[
        "litellm_settings.callbacks",
        "litellm_settings.success_callback",
        "litellm_settings.failure_callback",
    ];
    paths
        .iter()
        .find(|p| CALLBACK_FIELDS.contains(&p.as_str()))
        .map(|p| {
            format!(
                "`{p}` names Python classes, which meshgate cannot run; its custom hooks (pre/post tool call) are WebAssembly modules listed in `meshgate.hooks` (docs/hooks.md)"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const LITELLM_FILE: &str = r#"
model_list:
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_key: os.environ/OPENAI_API_KEY}
guardrails:
  - guardrail_name: pii
    litellm_params: {guardrail: presidio, mode: pre_mcp_call, api_key: os.environ/PRESIDIO}
litellm_settings:
  callbacks: ["langfuse"]
  mcp_aliases: {gh: github_mcp, zap: zapier_mcp}
general_settings:
  master_key: os.environ/MASTER
  alerting_webhook: os.environ/SLACK
mcp_servers:
  github_mcp:
    url: https://api.githubcopilot.com/mcp
    auth_type: bearer_token
    auth_value: os.environ/GH
    available_on_public_internet: true
    mcp_info:
      server_name: GitHub
      mcp_server_cost_info: {default_cost_per_query: 0.01}
  m2m:
    url: https://m2m.example/mcp
    auth_type: oauth2
    client_id: gateway
    client_secret: os.environ/M2M_SECRET
    scopes: [tools]
  per_user:
    url: https://per-user.example/mcp
    auth_type: oauth2
    client_id: public-client
    authorization_url: https://per-user.example/authorize
  bedrock:
    url: https://bedrock-agentcore.us-east-1.amazonaws.com/mcp
    auth_type: aws_sigv4
    aws_access_key_id: os.environ/AWS_KEY
    aws_region_name: us-east-1
"#;

    #[test]
    fn inert_fields_are_listed_and_their_env_refs_left_alone() {
        let doc = crate::config::parse_document(LITELLM_FILE).unwrap();
        assert_eq!(
            inert_paths(&doc),
            [
                "general_settings.alerting_webhook",
                "litellm_settings.callbacks",
                "mcp_servers.bedrock.aws_access_key_id",
                "mcp_servers.bedrock.aws_region_name",
                "mcp_servers.github_mcp.available_on_public_internet",
                "mcp_servers.per_user.authorization_url",
                "mcp_servers.per_user.client_id",
            ]
        );
        let env: HashMap<String, String> =
            [("MASTER", "sk-m"), ("GH", "ghp"), ("M2M_SECRET", "m2m-s")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let cfg = crate::load_config(LITELLM_FILE, Some(&env)).unwrap();
        assert_eq!(cfg.general_settings.master_key.as_deref(), Some("sk-m"));
        assert_eq!(cfg.mcp_servers["github_mcp"].credential(), Some("ghp"));
        // Client credentials are acted on: the secret's variable is resolved.
        assert_eq!(
            cfg.mcp_servers["m2m"].client_secret.as_deref(),
            Some("m2m-s")
        );
        assert_eq!(
            cfg.model_list[0]["litellm_params"]["api_key"],
            "os.environ/OPENAI_API_KEY"
        );
        // model_list is acted on (crate::models): its api_key is resolved by the
        // sidecar when it builds the provider, not at load.
        assert_eq!(
            cfg.model_specs[0].api_key.as_deref(),
            Some("os.environ/OPENAI_API_KEY")
        );
        assert!(
            !cfg.warnings.iter().any(|w| w.contains("model_list")),
            "{:?}",
            cfg.warnings
        );
        let inert = cfg
            .warnings
            .iter()
            .filter(|w| w.starts_with("loaded but not acted on"))
            .count();
        assert_eq!(
            inert, 1,
            "one warning names every inert field: {:?}",
            cfg.warnings
        );
        assert!(cfg.warnings.iter().any(|w| w.contains("zapier_mcp")));
        assert!(
            cfg.warnings.iter().any(|w| w
                .starts_with("`litellm_settings.callbacks` names Python classes")
                && w.contains("meshgate.hooks")),
            "{:?}",
            cfg.warnings
        );
        // Every mode of the built-in and external providers is enforced (the filter runs
        // the built-ins' pre, the sidecar the rest): none of it is "not acted on".
        let doc = crate::config::parse_document(
            "guardrails:\n  - guardrail_name: g\n    litellm_params: {guardrail: meshgate, mode: [pre_mcp_call, pre_call, during_mcp_call, post_mcp_call]}\n  - guardrail_name: api\n    litellm_params: {guardrail: generic_guardrail_api, mode: pre_mcp_call, api_base: 'http://x', api_key: os.environ/UNSET_HERE}\n",
        )
        .unwrap();
        assert!(inert_paths(&doc).is_empty(), "{:?}", inert_paths(&doc));
        assert!(cfg
            .warnings
            .iter()
            .any(|w| w.contains("aws_sigv4") && w.contains("not supported")));
        // A variable meshgate does read still has to be set, and the error names it.
        let err = crate::load_config(LITELLM_FILE, Some(&HashMap::<String, String>::new()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("general_settings.master_key") && err.contains("MASTER"),
            "{err}"
        );
    }
}
