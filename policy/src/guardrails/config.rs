//! The `guardrails:` list in LiteLLM's schema, read into [`GuardrailSpec`]s: checked
//! at load (every error names its field path, e.g.
//! `guardrails[2].litellm_params.pii_entities_config.CREDIT_KARD`), serializable so
//! the sidecar can hand them to the filter in the policy snapshot, where
//! [`super::GuardrailSet::compile`] turns them into matchers.
//!
//! ```yaml
//! guardrails:
//!   - guardrail_name: no-pii
//!     litellm_params:
//!       guardrail: meshgate            # built-in detectors (this module)
//!       mode: [pre_mcp_call, post_mcp_call]
//!       default_on: true
//!       pii_entities_config: {CREDIT_CARD: BLOCK, EMAIL_ADDRESS: MASK}
//!       patterns:                      # LiteLLM content-filter shape
//!         - {pattern_type: regex, name: EMPLOYEE_ID, pattern: 'EMP-\d{6}', action: BLOCK}
//!       allow_list: [support@example.com]
//!       allow_patterns: ['.*@example\.com']
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::entity::{valid_entity_name, Action, Builtin, PRESIDIO_ENTITIES};
use crate::error::ConfigError;

/// The built-in provider's name in `litellm_params.guardrail`.
pub const BUILTIN_PROVIDER: &str = "meshgate";
/// LiteLLM's provider names for the external kinds meshgate runs from the sidecar.
pub const PRESIDIO_PROVIDER: &str = "presidio";
pub const GENERIC_API_PROVIDER: &str = "generic_guardrail_api";
/// Timeout of an external guardrail call unless `timeout` says otherwise.
pub const DEFAULT_EXTERNAL_TIMEOUT_MS: u64 = 2_000;
/// Longest custom pattern accepted (compiled in every filter VM).
const MAX_PATTERN_LEN: usize = 1_000;

/// LiteLLM's `GuardrailEventHooks`: when a guardrail runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    PreMcpCall,
    DuringMcpCall,
    PostMcpCall,
    PreCall,
    DuringCall,
    PostCall,
    LoggingOnly,
}

impl Mode {
    const ALL: [Mode; 7] = [
        Mode::PreMcpCall,
        Mode::DuringMcpCall,
        Mode::PostMcpCall,
        Mode::PreCall,
        Mode::DuringCall,
        Mode::PostCall,
        Mode::LoggingOnly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::PreMcpCall => "pre_mcp_call",
            Mode::DuringMcpCall => "during_mcp_call",
            Mode::PostMcpCall => "post_mcp_call",
            Mode::PreCall => "pre_call",
            Mode::DuringCall => "during_call",
            Mode::PostCall => "post_call",
            Mode::LoggingOnly => "logging_only",
        }
    }

    fn parse(text: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.as_str() == text)
    }

    /// The MCP phase this mode acts in. `pre_call` acts before a tool call too: LiteLLM
    /// remaps it to `pre_mcp_call` for `call_mcp_tool` (proxy/utils.py), so a guardrail
    /// that blocks in LiteLLM blocks here.
    pub fn phase(self) -> Option<Phase> {
        match self {
            Mode::PreMcpCall | Mode::PreCall => Some(Phase::Pre),
            Mode::DuringMcpCall => Some(Phase::During),
            Mode::PostMcpCall => Some(Phase::Post),
            Mode::DuringCall | Mode::PostCall | Mode::LoggingOnly => None,
        }
    }
}

/// Where in a tool call a guardrail acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// On the arguments, before the upstream is contacted.
    Pre,
    /// On the arguments, beside the upstream call.
    During,
    /// On the tool result.
    Post,
}

/// Who runs the guardrail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Provider {
    /// meshgate's built-in detectors, inline in the filter.
    Builtin,
    /// Presidio analyzer/anonymizer REST API, called by the sidecar.
    Presidio(External),
    /// LiteLLM's generic guardrail API, called by the sidecar.
    GenericApi(External),
    /// Any other LiteLLM provider (`aporia`, `bedrock`, `lakera_v2`…): loaded, reported
    /// at start, not run.
    Unsupported { provider: String },
}

/// An external guardrail service. Values are kept as written (`os.environ/…` is
/// resolved by the sidecar when it calls the service).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct External {
    /// Presidio's analyzer (`presidio_analyzer_api_base`) or the generic API's `api_base`.
    pub api_base: Option<String>,
    /// Presidio's anonymizer (`presidio_anonymizer_api_base`).
    pub anonymizer_api_base: Option<String>,
    pub api_key: Option<String>,
    /// Presidio's `presidio_language`.
    pub language: Option<String>,
    pub timeout_ms: u64,
    /// On a timeout or a failed call: let the call through (true) or refuse it (false,
    /// the default).
    pub fail_open: bool,
}

/// A `patterns` entry: a user regex with the entity name its matches carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatternSpec {
    pub name: String,
    pub pattern: String,
    pub action: Action,
}

/// One guardrail as configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardrailSpec {
    pub name: String,
    pub provider: Provider,
    /// The modes as written (one value or a list in the file).
    pub modes: Vec<Mode>,
    pub default_on: bool,
    /// `pii_entities_config`. None: every built-in entity, masked (LiteLLM's Presidio
    /// default is to anonymize what it finds) — unless `patterns` are given: then only
    /// those.
    pub entities: Option<Vec<(String, Action)>>,
    pub patterns: Vec<PatternSpec>,
    /// Matched values never flagged (exact).
    pub allow_list: Vec<String>,
    /// Matched values never flagged (regex, whole value).
    pub allow_patterns: Vec<String>,
}

impl GuardrailSpec {
    /// Whether this guardrail acts in `phase` (by one of its modes).
    pub fn acts_in(&self, phase: Phase) -> bool {
        self.modes.iter().any(|m| m.phase() == Some(phase))
    }
}

/// Reads and checks the `guardrails:` list.
pub fn parse_guardrails(list: &[Value]) -> Result<Vec<GuardrailSpec>, ConfigError> {
    let mut out: Vec<GuardrailSpec> = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let at = format!("guardrails[{i}]");
        let spec = parse_one(&at, entry)?;
        if out.iter().any(|g| g.name == spec.name) {
            return Err(ConfigError::field(
                format!("{at}.guardrail_name"),
                format!("guardrail `{}` is defined twice", spec.name),
            ));
        }
        out.push(spec);
    }
    Ok(out)
}

fn parse_one(at: &str, entry: &Value) -> Result<GuardrailSpec, ConfigError> {
    let map = entry
        .as_object()
        .ok_or_else(|| ConfigError::field(at, "must be a mapping"))?;
    let name = match map.get("guardrail_name") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => {
            return Err(ConfigError::field(
                format!("{at}.guardrail_name"),
                "a non-empty name is required",
            ))
        }
    };
    let at = format!("{at}.litellm_params");
    let params = map
        .get("litellm_params")
        .and_then(Value::as_object)
        .ok_or_else(|| ConfigError::field(&at, "a mapping is required"))?;
    let provider_name = match params.get("guardrail") {
        Some(Value::String(s)) if !s.is_empty() => s.as_str(),
        _ => {
            return Err(ConfigError::field(
                format!("{at}.guardrail"),
                "the provider name is required (`meshgate` for the built-in detectors)",
            ))
        }
    };
    let modes = parse_modes(&at, params.get("mode"))?;
    let default_on = match params.get("default_on") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ConfigError::field(
                format!("{at}.default_on"),
                "must be true or false",
            ))
        }
    };
    let provider = match provider_name {
        BUILTIN_PROVIDER => Provider::Builtin,
        PRESIDIO_PROVIDER => Provider::Presidio(external(&at, params, true)?),
        GENERIC_API_PROVIDER => Provider::GenericApi(external(&at, params, false)?),
        other => Provider::Unsupported {
            provider: other.to_string(),
        },
    };
    if let Provider::Unsupported { .. } = provider {
        // Another product's parameters: not ours to judge.
        return Ok(GuardrailSpec {
            name,
            provider,
            modes,
            default_on,
            entities: None,
            patterns: Vec::new(),
            allow_list: Vec::new(),
            allow_patterns: Vec::new(),
        });
    }
    let builtin = provider == Provider::Builtin;
    let patterns = if builtin {
        parse_patterns(&at, params)?
    } else {
        refuse_builtin_only(&at, params, provider_name)?;
        Vec::new()
    };
    let entities = parse_entities(&at, params, builtin, &patterns)?;
    let allow_list = string_list(&at, params, "allow_list")?;
    let allow_patterns = string_list(&at, params, "allow_patterns")?;
    for (k, p) in allow_patterns.iter().enumerate() {
        check_regex(&format!("{at}.allow_patterns[{k}]"), p)?;
    }
    Ok(GuardrailSpec {
        name,
        provider,
        modes,
        default_on,
        entities,
        patterns,
        allow_list,
        allow_patterns,
    })
}

fn parse_modes(at: &str, value: Option<&Value>) -> Result<Vec<Mode>, ConfigError> {
    let field = format!("{at}.mode");
    let one = |v: &Value, field: &str| match v.as_str().and_then(Mode::parse) {
        Some(m) => Ok(m),
        None => Err(ConfigError::field(
            field,
            format!(
                "`{}` is not a guardrail mode; one of: {}",
                v.as_str().unwrap_or("(not a string)"),
                Mode::ALL.map(Mode::as_str).join(", ")
            ),
        )),
    };
    match value {
        Some(v @ Value::String(_)) => Ok(vec![one(v, &field)?]),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .enumerate()
            .map(|(k, v)| one(v, &format!("{field}[{k}]")))
            .collect(),
        _ => Err(ConfigError::field(
            field,
            "a mode or a list of modes is required (pre_mcp_call, during_mcp_call, post_mcp_call…)",
        )),
    }
}

fn parse_entities(
    at: &str,
    params: &Map<String, Value>,
    builtin: bool,
    patterns: &[PatternSpec],
) -> Result<Option<Vec<(String, Action)>>, ConfigError> {
    let field = format!("{at}.pii_entities_config");
    let map = match params.get("pii_entities_config") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(map)) => map,
        Some(_) => {
            return Err(ConfigError::field(
                field,
                "must be a mapping entity → BLOCK | MASK",
            ))
        }
    };
    let mut out = Vec::with_capacity(map.len());
    for (entity, action) in map {
        let at = format!("{field}.{entity}");
        let known = if builtin {
            Builtin::from_name(entity).is_some() || patterns.iter().any(|p| &p.name == entity)
        } else {
            valid_entity_name(entity)
        };
        if !known {
            let list = Builtin::ALL.map(Builtin::name).join(", ");
            return Err(ConfigError::field(
                at,
                if builtin {
                    format!("unknown entity `{entity}`; the built-in ones are {list}, or name a `patterns` entry")
                } else {
                    format!("`{entity}` is not an entity name (A-Z, 0-9, _)")
                },
            ));
        }
        let action = action
            .as_str()
            .and_then(Action::parse)
            .ok_or_else(|| ConfigError::field(&at, "must be BLOCK or MASK"))?;
        out.push((entity.clone(), action));
    }
    Ok(Some(out))
}

fn parse_patterns(at: &str, params: &Map<String, Value>) -> Result<Vec<PatternSpec>, ConfigError> {
    let field = format!("{at}.patterns");
    let items = match params.get("patterns") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ConfigError::field(field, "must be a list")),
    };
    let entity_actions = params.get("pii_entities_config").and_then(Value::as_object);
    let mut out: Vec<PatternSpec> = Vec::with_capacity(items.len());
    for (k, item) in items.iter().enumerate() {
        let at = format!("{field}[{k}]");
        let map = item
            .as_object()
            .ok_or_else(|| ConfigError::field(&at, "must be a mapping"))?;
        match map.get("pattern_type").and_then(Value::as_str) {
            None | Some("regex") => {}
            Some(other) => {
                return Err(ConfigError::field(
                    format!("{at}.pattern_type"),
                    format!("`{other}` is not supported: only `regex`; built-in entities go in pii_entities_config"),
                ))
            }
        }
        let name = match map.get("name").and_then(Value::as_str) {
            Some(n) if valid_entity_name(n) => n.to_string(),
            _ => {
                return Err(ConfigError::field(
                    format!("{at}.name"),
                    "an entity name (A-Z, 0-9, _, starting with a letter) is required",
                ))
            }
        };
        if Builtin::from_name(&name).is_some() || out.iter().any(|p| p.name == name) {
            return Err(ConfigError::field(
                format!("{at}.name"),
                format!("entity `{name}` is already defined"),
            ));
        }
        let pattern = map.get("pattern").and_then(Value::as_str).unwrap_or("");
        check_regex(&format!("{at}.pattern"), pattern)?;
        let action = match map.get("action") {
            Some(v) => v.as_str().and_then(Action::parse).ok_or_else(|| {
                ConfigError::field(format!("{at}.action"), "must be BLOCK or MASK")
            })?,
            None => entity_actions
                .and_then(|m| m.get(&name))
                .and_then(Value::as_str)
                .and_then(Action::parse)
                .ok_or_else(|| {
                    ConfigError::field(
                        format!("{at}.action"),
                        "BLOCK or MASK is required (here or in pii_entities_config)",
                    )
                })?,
        };
        out.push(PatternSpec {
            name,
            pattern: pattern.to_string(),
            action,
        });
    }
    Ok(out)
}

/// `patterns` are run by the built-in detectors only: on another provider they would
/// be silently ignored, so they are refused.
fn refuse_builtin_only(
    at: &str,
    params: &Map<String, Value>,
    provider: &str,
) -> Result<(), ConfigError> {
    if params.contains_key("patterns") {
        return Err(ConfigError::field(
            format!("{at}.patterns"),
            format!("custom patterns are run by `guardrail: {BUILTIN_PROVIDER}` only, not by `{provider}`"),
        ));
    }
    Ok(())
}

fn external(
    at: &str,
    params: &Map<String, Value>,
    presidio: bool,
) -> Result<External, ConfigError> {
    let text = |key: &str| -> Result<Option<String>, ConfigError> {
        match params.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ConfigError::field(
                format!("{at}.{key}"),
                "must be a string",
            )),
        }
    };
    let timeout_ms = match params.get("timeout") {
        None | Some(Value::Null) => DEFAULT_EXTERNAL_TIMEOUT_MS,
        Some(v) => match v.as_f64() {
            Some(secs) if secs > 0.0 && secs <= 300.0 => (secs * 1000.0).round() as u64,
            _ => {
                return Err(ConfigError::field(
                    format!("{at}.timeout"),
                    "must be a number of seconds in (0, 300]",
                ))
            }
        },
    };
    let fail_open = match params.get("fail_open") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ConfigError::field(
                format!("{at}.fail_open"),
                "must be true or false",
            ))
        }
    };
    Ok(if presidio {
        External {
            api_base: text("presidio_analyzer_api_base")?.or(text("api_base")?),
            anonymizer_api_base: text("presidio_anonymizer_api_base")?,
            api_key: text("api_key")?,
            language: text("presidio_language")?,
            timeout_ms,
            fail_open,
        }
    } else {
        External {
            api_base: text("api_base")?,
            anonymizer_api_base: None,
            api_key: text("api_key")?,
            language: None,
            timeout_ms,
            fail_open,
        }
    })
}

fn string_list(
    at: &str,
    params: &Map<String, Value>,
    key: &str,
) -> Result<Vec<String>, ConfigError> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(k, v)| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    ConfigError::field(format!("{at}.{key}[{k}]"), "must be a string")
                })
            })
            .collect(),
        Some(_) => Err(ConfigError::field(
            format!("{at}.{key}"),
            "must be a list of strings",
        )),
    }
}

fn check_regex(field: &str, pattern: &str) -> Result<(), ConfigError> {
    if pattern.is_empty() || pattern.len() > MAX_PATTERN_LEN {
        return Err(ConfigError::field(
            field,
            format!("a regular expression of 1–{MAX_PATTERN_LEN} characters is required"),
        ));
    }
    super::matcher::build_regex(pattern, false)
        .map(|_| ())
        .map_err(|e| ConfigError::field(field, format!("not a valid regular expression: {e}")))
}

/// What a valid `guardrails:` list still deserves a word about at start: providers
/// meshgate does not run, modes that do not act on MCP calls, Presidio entity names
/// Presidio does not predefine, built-in pre_mcp_call (not run by the filter yet).
pub fn warnings(specs: &[GuardrailSpec]) -> Vec<String> {
    let mut out = Vec::new();
    for g in specs {
        let name = &g.name;
        match &g.provider {
            Provider::Unsupported { provider } => out.push(format!(
                "guardrail `{name}`: provider `{provider}` is not run by meshgate; tool calls are not checked by it"
            )),
            // The filter runs the built-ins' pre_mcp_call; the sidecar their during and
            // post, and the external providers in every phase.
            Provider::Presidio(_) | Provider::GenericApi(_) | Provider::Builtin => {}
        }
        let inert: Vec<&str> = g
            .modes
            .iter()
            .filter(|m| m.phase().is_none())
            .map(|m| m.as_str())
            .collect();
        if !inert.is_empty() {
            out.push(format!(
                "guardrail `{name}`: mode {} acts on LLM calls, not on MCP tool calls",
                inert.join(", ")
            ));
        }
        if let (Provider::Presidio(_), Some(entities)) = (&g.provider, &g.entities) {
            for (entity, _) in entities {
                if !PRESIDIO_ENTITIES.contains(&entity.as_str())
                    && Builtin::from_name(entity).is_none()
                {
                    out.push(format!(
                        "guardrail `{name}`: `{entity}` is not one of Presidio's predefined entities (a custom recognizer must provide it)"
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
