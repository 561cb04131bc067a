//! The gateway configuration document: LiteLLM's `config.yaml` schema as a superset.
//!
//! Parsing is three steps so that each failure names the field it is about:
//! text → JSON value ([`parse_document`]), optional `os.environ/NAME` resolution
//! ([`crate::env::resolve_env_refs`]), then typed deserialization and validation
//! ([`GatewayConfig::from_value`]).

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

use crate::error::ConfigError;
use crate::validate;

/// The whole document. Unknown top-level sections (`router_settings`…) are accepted so a
/// LiteLLM file loads unchanged.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct GatewayConfig {
    #[serde(default)]
    pub meshgate: MeshgateSettings,
    /// Keyed by server name; order is kept (it is the order of aggregated lists).
    #[serde(default)]
    pub mcp_servers: IndexMap<String, ServerConfig>,
    #[serde(default)]
    pub litellm_settings: LitellmSettings,
    #[serde(default)]
    pub general_settings: GeneralSettings,
    /// LiteLLM's `guardrails:` list as written; read into [`Self::guardrail_specs`].
    #[serde(default)]
    pub guardrails: Vec<Value>,
    /// The checked `guardrails:` list (`crate::guardrails`); what is not enforced of it
    /// is named in the start-up warnings (`crate::guardrails::config::warnings`).
    #[serde(skip)]
    pub guardrail_specs: Vec<crate::guardrails::GuardrailSpec>,
    /// LiteLLM's `model_list:` as written; read into [`Self::model_specs`].
    #[serde(default)]
    pub model_list: Vec<Value>,
    /// The checked `model_list` (`crate::models`): the LLM deployments the sidecar's
    /// OpenAI-compatible routes serve.
    #[serde(skip)]
    pub model_specs: Vec<crate::models::ModelSpec>,
    /// `MCP_TOOL_PREFIX_SEPARATOR` from the sidecar's environment (None: `-`); see
    /// [`GatewayConfig::separator`].
    #[serde(skip)]
    pub tool_separator: Option<String>,
    /// `LITELLM_MCP_SERVER_NAME` from the sidecar's environment: `serverInfo.name` of
    /// aggregate sessions.
    #[serde(skip)]
    pub server_name: Option<String>,
    /// What loading found worth telling the operator (fields meshgate does not act on,
    /// dangling aliases, prefixes containing the separator…); logged at start and printed
    /// by `--check-config`.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// meshgate's own section: how the filter reaches the sidecar and runtime knobs.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MeshgateSettings {
    /// Envoy cluster name of the sidecar (the filter's callouts go there).
    #[serde(default = "default_sidecar_cluster")]
    pub sidecar_cluster: String,
    /// Shared HMAC secret between filter and sidecar; usually `os.environ/MESHGATE_SHARED_SECRET`.
    #[serde(default)]
    pub shared_secret: Option<String>,
    /// How soon the filter retries a failed policy sync (successful syncs are long-polls
    /// that follow each other at once).
    #[serde(default = "default_sync_interval_ms")]
    pub sync_interval_ms: u64,
    /// A LiteLLM-style config.yaml read by the sidecar instead of the inline servers.
    #[serde(default)]
    pub config_path: Option<String>,
    /// Per-server timeout for aggregated list calls.
    #[serde(default = "default_list_timeout_ms")]
    pub list_timeout_ms: u64,
    /// Timeout of a single upstream call (`tools/call` and the like).
    #[serde(default = "default_call_timeout_ms")]
    pub call_timeout_ms: u64,
    /// How long an upstream's tool list is served from cache.
    #[serde(default = "default_tools_cache_ttl_ms")]
    pub tools_cache_ttl_ms: u64,
    /// Largest accepted request body.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Most messages in one JSON-RPC batch (2025-03-26 sessions; later revisions have
    /// no batches). Larger batches are refused whole.
    #[serde(default = "default_max_batch_size")]
    pub max_batch_size: usize,
    /// Browser origins allowed besides local ones (`"*"`: any). Others get 403.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// A client session unused this long (on the replica that sees it) is refused.
    #[serde(default = "default_session_idle_timeout_ms")]
    pub session_idle_timeout_ms: u64,
    /// A client session id is refused this long after its `initialize`, used or not.
    #[serde(default = "default_session_max_lifetime_ms")]
    pub session_max_lifetime_ms: u64,
    /// Open server streams (GET) one client session may hold.
    #[serde(default = "default_max_streams_per_session")]
    pub max_streams_per_session: usize,
    /// Open server streams (GET, legacy SSE, 2026 listen) one key may hold.
    #[serde(default = "default_max_streams_per_key")]
    pub max_streams_per_key: usize,
    /// Tool names of OpenAPI (`spec_path`) servers: LiteLLM's (default) or `exact`.
    #[serde(default)]
    pub openapi_tool_names: OpenApiToolNames,
    /// Spend rows (one per `tools/call` and per aggregated `tools/list`, docs/spend.md);
    /// `false` writes none (budgets then see no new spend).
    #[serde(default = "default_true")]
    pub spend_logs: bool,
    /// Custom hooks: WebAssembly modules run around each `tools/call` (`crate::hooks`,
    /// docs/hooks.md).
    #[serde(default)]
    pub hooks: Vec<crate::hooks::HookSpec>,
    /// Audit rows of `tools/call`s carry the call's arguments (at most
    /// [`crate::audit::MAX_ARGUMENTS`] bytes; docs/audit.md). Off by default: arguments
    /// may hold personal data or secrets.
    #[serde(default)]
    pub audit_arguments: bool,
    /// The LLM tool loop (`/v1/chat/completions`, `/v1/responses` with MCP tools): at
    /// most this many rounds of tool calls per request (docs/llm.md).
    #[serde(default = "default_max_tool_rounds")]
    pub max_tool_rounds: u32,
    /// The wall-clock budget of one LLM request with the tool loop (every round and
    /// tool call), in milliseconds; a request's own `llm_request_timeout_ms` may only
    /// lower it (docs/llm.md).
    #[serde(default = "default_llm_request_timeout_ms")]
    pub llm_request_timeout_ms: u64,
}

fn default_llm_request_timeout_ms() -> u64 {
    600_000
}

fn default_max_tool_rounds() -> u32 {
    8
}

fn default_true() -> bool {
    true
}

/// How the tools of an OpenAPI server are named.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum OpenApiToolNames {
    /// As LiteLLM names them: `operationId` lowercased, else `{method}_{path}`
    /// (`get__store_inventory`), so LiteLLM configs, agents and prompts keep working.
    #[default]
    Litellm,
    /// `operationId` as written (`getPetById`), else `get_store_inventory`.
    Exact,
}

fn default_sidecar_cluster() -> String {
    "meshgate_sidecar".to_string()
}
fn default_sync_interval_ms() -> u64 {
    1000
}
fn default_list_timeout_ms() -> u64 {
    10_000
}
fn default_call_timeout_ms() -> u64 {
    60_000
}
fn default_tools_cache_ttl_ms() -> u64 {
    30_000
}
fn default_max_body_bytes() -> usize {
    4 * 1024 * 1024
}
fn default_session_idle_timeout_ms() -> u64 {
    60 * 60 * 1000
}
fn default_session_max_lifetime_ms() -> u64 {
    24 * 60 * 60 * 1000
}
fn default_max_streams_per_session() -> usize {
    4
}
fn default_max_streams_per_key() -> usize {
    64
}
fn default_max_batch_size() -> usize {
    100
}

impl Default for MeshgateSettings {
    fn default() -> Self {
        Self {
            sidecar_cluster: default_sidecar_cluster(),
            shared_secret: None,
            sync_interval_ms: default_sync_interval_ms(),
            config_path: None,
            list_timeout_ms: default_list_timeout_ms(),
            call_timeout_ms: default_call_timeout_ms(),
            tools_cache_ttl_ms: default_tools_cache_ttl_ms(),
            max_body_bytes: default_max_body_bytes(),
            max_batch_size: default_max_batch_size(),
            allowed_origins: Vec::new(),
            session_idle_timeout_ms: default_session_idle_timeout_ms(),
            session_max_lifetime_ms: default_session_max_lifetime_ms(),
            max_streams_per_session: default_max_streams_per_session(),
            max_streams_per_key: default_max_streams_per_key(),
            openapi_tool_names: OpenApiToolNames::default(),
            spend_logs: true,
            hooks: Vec::new(),
            audit_arguments: false,
            max_tool_rounds: default_max_tool_rounds(),
            llm_request_timeout_ms: default_llm_request_timeout_ms(),
        }
    }
}

/// How the gateway talks to an upstream. When a URL server gives none, it is detected
/// per the MCP spec's backwards-compatibility rule (`sidecar/src/upstream/detect.rs`).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// Legacy HTTP+SSE (2024-11-05).
    Sse,
    /// Streamable HTTP.
    #[serde(
        alias = "streamable_http",
        alias = "streamable-http",
        alias = "streamablehttp"
    )]
    Http,
    Stdio,
}

/// LiteLLM's `auth_type` values.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    #[default]
    None,
    ApiKey,
    BearerToken,
    Basic,
    Authorization,
    Token,
    Oauth2,
    /// LiteLLM's, for AWS-hosted MCP servers (SigV4 request signing): accepted in the
    /// file, the server is left out with a message until meshgate signs requests.
    #[serde(rename = "aws_sigv4")]
    AwsSigv4,
    /// LiteLLM's newer modes, accepted and refused per server like `aws_sigv4`.
    Oauth2TokenExchange,
    Oauth2IdJag,
    TruePassthrough,
    OauthDelegate,
}

impl AuthType {
    /// LiteLLM's spelling of the value.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthType::None => "none",
            AuthType::ApiKey => "api_key",
            AuthType::BearerToken => "bearer_token",
            AuthType::Basic => "basic",
            AuthType::Authorization => "authorization",
            AuthType::Token => "token",
            AuthType::Oauth2 => "oauth2",
            AuthType::AwsSigv4 => "aws_sigv4",
            AuthType::Oauth2TokenExchange => "oauth2_token_exchange",
            AuthType::Oauth2IdJag => "oauth2_id_jag",
            AuthType::TruePassthrough => "true_passthrough",
            AuthType::OauthDelegate => "oauth_delegate",
        }
    }

    /// Why a server with this `auth_type` cannot be served yet; None when it can.
    pub fn unsupported(self) -> Option<String> {
        match self {
            AuthType::AwsSigv4
            | AuthType::Oauth2TokenExchange
            | AuthType::Oauth2IdJag
            | AuthType::TruePassthrough
            | AuthType::OauthDelegate => Some(format!(
                "auth_type `{}` is not supported by meshgate yet; the server is not served",
                self.as_str()
            )),
            _ => None,
        }
    }
}

/// One `mcp_servers` entry. Fields LiteLLM has that meshgate does not use yet are
/// accepted (unknown keys are ignored) so existing files load.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct ServerConfig {
    #[serde(default)]
    pub url: Option<String>,
    /// None means "not given": resolved by [`ServerConfig::effective_transport`].
    #[serde(default)]
    pub transport: Option<Transport>,
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub alias: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub auth_type: Option<AuthType>,
    #[serde(default)]
    pub auth_value: Option<String>,
    /// LiteLLM's older spelling; wins over `auth_value` as in LiteLLM.
    #[serde(default)]
    pub authentication_token: Option<String>,
    #[serde(default)]
    pub static_headers: BTreeMap<String, String>,
    #[serde(default)]
    pub extra_headers: Vec<String>,
    #[serde(default)]
    pub allowed_tools: Option<Vec<String>>,
    #[serde(default)]
    pub disallowed_tools: Option<Vec<String>>,
    #[serde(default)]
    pub allowed_params: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub access_groups: Vec<String>,
    #[serde(default)]
    pub allow_all_keys: bool,
    #[serde(default)]
    pub spec_path: Option<String>,
    #[serde(default)]
    pub mcp_info: Option<McpInfo>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub token_url: Option<String>,
    /// `meshgate.openapi_tool_names`, copied onto each server when the runtime is built
    /// (so a change restarts the OpenAPI servers); not part of a server's own entry.
    #[serde(skip)]
    pub openapi_tool_names: OpenApiToolNames,
    /// Instructions for clients, used when the upstream's `initialize` gives none
    /// (LiteLLM keeps this field on database servers).
    #[serde(default)]
    pub instructions: Option<String>,
}

impl ServerConfig {
    /// The transport actually used: explicit, else stdio when a command is given; None
    /// for a URL server without one (the sidecar detects streamable HTTP vs legacy SSE).
    pub fn effective_transport(&self) -> Option<Transport> {
        match self.transport {
            Some(t) => Some(t),
            None if self.command.is_some() => Some(Transport::Stdio),
            None => None,
        }
    }

    /// The configured credential, LiteLLM precedence (`authentication_token` wins).
    pub fn credential(&self) -> Option<&str> {
        self.authentication_token
            .as_deref()
            .or(self.auth_value.as_deref())
    }

    /// True for REST APIs converted from an OpenAPI spec.
    pub fn is_openapi(&self) -> bool {
        self.spec_path.is_some()
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct McpInfo {
    #[serde(default)]
    pub server_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub logo_url: Option<String>,
    #[serde(default)]
    pub mcp_server_cost_info: Option<CostInfo>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CostInfo {
    #[serde(default)]
    pub default_cost_per_query: Option<f64>,
    #[serde(default)]
    pub tool_name_to_cost_per_query: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct LitellmSettings {
    /// alias → server name; applied only to servers without their own alias.
    #[serde(default)]
    pub mcp_aliases: IndexMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct GeneralSettings {
    #[serde(default)]
    pub master_key: Option<String>,
    #[serde(default)]
    pub mcp_client_side_auth_header_name: Option<String>,
    #[serde(default)]
    pub database_url: Option<String>,
    /// LiteLLM's rename of the gateway-key header (default `x-litellm-api-key`).
    #[serde(default)]
    pub litellm_key_header_name: Option<String>,
}

/// Parses YAML or JSON text into a JSON value (YAML is a superset of JSON).
pub fn parse_document(text: &str) -> Result<Value, ConfigError> {
    if text.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    let value: Value = serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Syntax {
        message: e.to_string(),
    })?;
    match value {
        Value::Object(mut map) => {
            // `mcp_servers:` with everything under it commented out is null: treat an
            // empty section like a missing one.
            map.retain(|_, v| !v.is_null());
            Ok(Value::Object(map))
        }
        Value::Null => Ok(Value::Object(serde_json::Map::new())),
        other => Err(ConfigError::Syntax {
            message: format!(
                "the configuration must be a mapping, found {}",
                json_type_name(&other)
            ),
        }),
    }
}

impl GatewayConfig {
    /// Typed deserialization plus semantic validation; errors name the field path.
    pub fn from_value(value: Value) -> Result<Self, ConfigError> {
        let mut config: GatewayConfig =
            serde_path_to_error::deserialize(value).map_err(|e| ConfigError::Field {
                field: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        config.guardrail_specs = crate::guardrails::parse_guardrails(&config.guardrails)?;
        config.model_specs = crate::models::parse_model_list(&config.model_list)?;
        validate::validate(&config)?;
        Ok(config)
    }

    /// Convenience: text → validated config, without environment resolution.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        Self::from_value(parse_document(text)?)
    }

    /// The separator between server prefix and tool name (`MCP_TOOL_PREFIX_SEPARATOR`).
    pub fn separator(&self) -> &str {
        self.tool_separator
            .as_deref()
            .filter(|s| crate::names::usable_separator(s))
            .unwrap_or(crate::names::DEFAULT_SEPARATOR)
    }

    /// The tool-name prefix of a server: its alias, else an `mcp_aliases` alias, else its name.
    pub fn prefix_of(&self, server_name: &str) -> String {
        if let Some(alias) = self
            .mcp_servers
            .get(server_name)
            .and_then(|s| s.alias.clone())
        {
            return alias;
        }
        self.litellm_settings
            .mcp_aliases
            .iter()
            .find(|(_, target)| target.as_str() == server_name)
            .map(|(alias, _)| alias.clone())
            .unwrap_or_else(|| server_name.to_string())
    }
}

pub(crate) fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load_config;

    fn err(text: &str) -> String {
        load_config(text, None).unwrap_err().to_string()
    }

    #[test]
    fn session_and_stream_limits_default_and_are_checked() {
        let cfg = load_config("meshgate: {max_streams_per_key: 8}", None).unwrap();
        assert_eq!(cfg.meshgate.max_streams_per_key, 8);
        assert_eq!(cfg.meshgate.max_streams_per_session, 4);
        assert_eq!(cfg.meshgate.session_idle_timeout_ms, 3_600_000);
        assert_eq!(cfg.meshgate.session_max_lifetime_ms, 86_400_000);
        assert!(err("meshgate: {max_streams_per_session: 0}")
            .contains("meshgate.max_streams_per_session"));
        assert!(err("meshgate: {session_max_lifetime_ms: 10}")
            .contains("meshgate.session_max_lifetime_ms"));
    }

    #[test]
    fn errors_name_the_field() {
        assert!(
            err("mcp_servers:\n  'my server': {command: x}").contains("`mcp_servers.my server`")
        );
        assert!(err("mcp_servers:\n  a: {url: 'http://x', transport: htp}")
            .contains("mcp_servers.a.transport"));
        assert!(err("mcp_servers:\n  a: {url: 'http://x', trasport: http}")
            .contains("unknown field `trasport`"));
        assert!(err("mcp_servers:\n  a: {transport: http}").contains("mcp_servers.a.url"));
        assert!(err("mcp_servers:\n  a: {url: 'ftp://x', transport: http}")
            .contains("not an http(s) URL"));
        assert!(err("mcp_servers:\n  a: {transport: stdio}").contains("mcp_servers.a.command"));
        assert!(
            err("mcp_servers:\n  a: {command: x, alias: 'b c'}").contains("mcp_servers.a.alias")
        );
        assert!(
            err("mcp_servers:\n  a: {command: x}\n  b: {command: y, alias: A}")
                .contains("already used")
        );
        assert!(err("meshgate: {sync_interval_ms: 5}").contains("meshgate.sync_interval_ms"));
        assert!(err("meshgate: {unknown: 1}").contains("unknown field `unknown`"));
        let bad = err("meshgate: {openapi_tool_names: lower}");
        assert!(bad.contains("meshgate.openapi_tool_names"), "{bad}");
        assert!(bad.contains("litellm") && bad.contains("exact"), "{bad}");

        assert!(err("meshgate: {max_batch_size: 0}").contains("meshgate.max_batch_size"));
        let loaded = load_config("meshgate: {max_batch_size: 7}", None).unwrap();
        assert_eq!(loaded.meshgate.max_batch_size, 7);
        assert_eq!(MeshgateSettings::default().max_batch_size, 100);
        assert!(err("mcp_servers: [1, 2]").contains("mcp_servers"));
        assert!(err("- a\n- b").contains("must be a mapping"));
        assert!(err("a: [").contains("not valid YAML"));
    }

    #[test]
    fn what_litellm_loads_loads_with_warnings() {
        let env: std::collections::HashMap<String, String> =
            [("MCP_TOOL_PREFIX_SEPARATOR".to_string(), "-".to_string())].into();
        let cfg = load_config(
            "mcp_servers:\n  my-server: {command: x}\n  b: {command: y, alias: b-c}\n  aws: {url: 'https://x/mcp', auth_type: aws_sigv4}\nlitellm_settings: {mcp_aliases: {x: nope}}\n",
            Some(&env),
        )
        .unwrap();
        let all = cfg.warnings.join("\n");
        assert!(all.contains("mcp_servers.my-server: server name `my-server` contains the tool-name separator `-`"), "{all}");
        assert!(all.contains("mcp_servers.b: tool prefix `b-c`"), "{all}");
        assert!(
            all.contains("mcp_aliases.x refers to server `nope`"),
            "{all}"
        );
        assert!(
            all.contains("auth_type `aws_sigv4` is not supported by meshgate yet"),
            "{all}"
        );
        assert_eq!(cfg.separator(), "-");
        let env: std::collections::HashMap<String, String> = [
            ("MCP_TOOL_PREFIX_SEPARATOR".to_string(), "__".to_string()),
            ("LITELLM_MCP_SERVER_NAME".to_string(), "corp-gw".to_string()),
        ]
        .into();
        let cfg = load_config("mcp_servers:\n  my-server: {command: x}\n", Some(&env)).unwrap();
        assert_eq!(cfg.separator(), "__");
        assert_eq!(cfg.server_name.as_deref(), Some("corp-gw"));
        assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
        let env: std::collections::HashMap<String, String> =
            [("MCP_TOOL_PREFIX_SEPARATOR".to_string(), "/".to_string())].into();
        let cfg = load_config("", Some(&env)).unwrap();
        assert_eq!(cfg.separator(), "-");
        assert!(cfg.warnings[0].contains("not usable"));
    }

    #[test]
    fn defaults_transports_aliases_and_empty_sections() {
        let cfg = load_config(
            "mcp_servers:\n  s: {command: run}\n  h: {url: 'http://h/sse'}\n  g: {url: 'http://g/mcp', transport: streamable_http}\nlitellm_settings:\n  mcp_aliases: {hh: h}\n",
            None,
        )
        .unwrap();
        assert_eq!(
            cfg.mcp_servers["s"].effective_transport(),
            Some(Transport::Stdio)
        );
        assert_eq!(
            cfg.mcp_servers["h"].effective_transport(),
            None,
            "detected at run time"
        );
        assert_eq!(
            cfg.mcp_servers["g"].effective_transport(),
            Some(Transport::Http)
        );
        assert_eq!(cfg.prefix_of("h"), "hh");
        assert_eq!(cfg.prefix_of("s"), "s");
        assert_eq!(cfg.meshgate.list_timeout_ms, 10_000);
        assert_eq!(cfg.meshgate.openapi_tool_names, OpenApiToolNames::Litellm);
        let empty = load_config("mcp_servers:\ngeneral_settings:\n", None).unwrap();
        assert!(empty.mcp_servers.is_empty());
        assert!(load_config("", None).unwrap().mcp_servers.is_empty());
    }

    #[test]
    fn litellm_fields_load_and_env_resolves() {
        let env: std::collections::HashMap<String, String> =
            [("TOKEN".to_string(), "t0k".to_string())].into();
        let cfg = load_config(
            "mcp_servers:\n  gh:\n    url: https://x/mcp\n    transport: http\n    auth_type: bearer_token\n    authentication_token: os.environ/TOKEN\n    available_on_public_internet: true\n    mcp_info: {server_name: GH, mcp_server_cost_info: {default_cost_per_query: 0.5}}\n",
            Some(&env),
        )
        .unwrap();
        assert_eq!(cfg.mcp_servers["gh"].credential(), Some("t0k"));
        let missing = load_config(
            "general_settings: {master_key: os.environ/NOPE}",
            Some(&env),
        )
        .unwrap_err();
        assert!(
            missing.to_string().contains("general_settings.master_key")
                && missing.to_string().contains("NOPE")
        );
    }

    #[test]
    fn every_example_config_in_the_repository_loads() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let example = std::fs::read_to_string(root.join("envoy/config.example.yaml")).unwrap();
        let cfg = load_config(&example, None).unwrap();
        assert!(cfg.mcp_servers.len() >= 3);
        // envoy.yaml: the filter configuration embedded as a StringValue.
        let envoy: Value = serde_yaml_ng::from_str(
            &std::fs::read_to_string(root.join("envoy/envoy.yaml")).unwrap(),
        )
        .unwrap();
        let mut found = 0;
        for listener in envoy["static_resources"]["listeners"].as_array().unwrap() {
            for chain in listener["filter_chains"].as_array().unwrap() {
                for filter in chain["filters"].as_array().unwrap() {
                    for http_filter in filter["typed_config"]["http_filters"]
                        .as_array()
                        .into_iter()
                        .flatten()
                    {
                        if let Some(doc) = http_filter
                            .pointer("/typed_config/config/configuration/value")
                            .and_then(Value::as_str)
                        {
                            let cfg = load_config(doc, None).unwrap();
                            assert!(cfg.meshgate.shared_secret.is_some());
                            assert!(!cfg.mcp_servers.is_empty());
                            found += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(
            found, 1,
            "envoy/envoy.yaml carries one meshgate configuration"
        );
    }
}
