//! LiteLLM's `model_list:`: the LLM deployments the sidecar's OpenAI-compatible routes
//! (`/v1/chat/completions`, `/v1/responses`, `/v1/models`) answer for.
//!
//! Each entry is `{model_name, litellm_params: {model: "provider/model", api_base,
//! api_key, timeout}}`. [`parse_model_list`] checks the shape at load and refuses a bad
//! entry naming its field (`model_list[2].litellm_params.model`); `api_key` stays as
//! written (`os.environ/NAME` is resolved by the sidecar when it builds the provider, as
//! guardrail keys are, so a LiteLLM file whose provider keys are not set still loads).
//! What is accepted but not acted on is named by [`warnings`].

use serde_json::{Map, Value};

use crate::error::ConfigError;

/// How meshgate talks to a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OpenAI's HTTP API (`/chat/completions`, `/responses`, `/models`): OpenAI itself,
    /// vLLM, LM Studio, Ollama's `/v1`, and the hosted services that copy it.
    OpenAi,
    /// Anthropic's Messages API (`/v1/messages`), translated by the sidecar.
    Anthropic,
    /// A LiteLLM provider meshgate does not speak (Bedrock, Vertex, Azure…): the entry
    /// loads with a warning and its requests are refused.
    Unsupported,
}

/// How a model's `/v1/responses` requests reach it (OpenAI-compatible providers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponsesApi {
    /// The provider serves `/responses` itself: requests pass through.
    Native,
    /// The provider speaks chat completions only: the sidecar translates each Responses
    /// request into a chat request and the answer (or stream) back, as LiteLLM's
    /// Responses→Chat bridge does.
    ViaChat,
}

/// LiteLLM providers with a Responses API of their own (LiteLLM sends `/responses`
/// natively only for these; every other OpenAI-compatible provider is bridged through
/// chat completions). `litellm_proxy` is a LiteLLM proxy, which serves `/v1/responses`
/// for all its models.
const NATIVE_RESPONSES: &[&str] = &["openai", "azure", "litellm_proxy"];

/// What meshgate knows of a LiteLLM provider name.
struct ProviderInfo {
    name: &'static str,
    protocol: Protocol,
    /// Where it answers when `api_base` is not given; None: `api_base` is required.
    default_base: Option<&'static str>,
}

const PROVIDERS: &[ProviderInfo] = &[
    ProviderInfo {
        name: "openai",
        protocol: Protocol::OpenAi,
        default_base: Some("https://api.openai.com/v1"),
    },
    ProviderInfo {
        name: "hosted_vllm",
        protocol: Protocol::OpenAi,
        default_base: None,
    },
    ProviderInfo {
        name: "litellm_proxy",
        protocol: Protocol::OpenAi,
        default_base: None,
    },
    ProviderInfo {
        name: "openai_like",
        protocol: Protocol::OpenAi,
        default_base: None,
    },
    ProviderInfo {
        name: "lm_studio",
        protocol: Protocol::OpenAi,
        default_base: Some("http://localhost:1234/v1"),
    },
    // Ollama's OpenAI-compatible endpoint (`/v1` below its address).
    ProviderInfo {
        name: "ollama",
        protocol: Protocol::OpenAi,
        default_base: Some("http://localhost:11434/v1"),
    },
    ProviderInfo {
        name: "ollama_chat",
        protocol: Protocol::OpenAi,
        default_base: Some("http://localhost:11434/v1"),
    },
    ProviderInfo {
        name: "groq",
        protocol: Protocol::OpenAi,
        default_base: Some("https://api.groq.com/openai/v1"),
    },
    ProviderInfo {
        name: "together_ai",
        protocol: Protocol::OpenAi,
        default_base: Some("https://api.together.xyz/v1"),
    },
    ProviderInfo {
        name: "fireworks_ai",
        protocol: Protocol::OpenAi,
        default_base: Some("https://api.fireworks.ai/inference/v1"),
    },
    ProviderInfo {
        name: "openrouter",
        protocol: Protocol::OpenAi,
        default_base: Some("https://openrouter.ai/api/v1"),
    },
    ProviderInfo {
        name: "mistral",
        protocol: Protocol::OpenAi,
        default_base: Some("https://api.mistral.ai/v1"),
    },
    ProviderInfo {
        name: "deepseek",
        protocol: Protocol::OpenAi,
        default_base: Some("https://api.deepseek.com/v1"),
    },
    ProviderInfo {
        name: "xai",
        protocol: Protocol::OpenAi,
        default_base: Some("https://api.x.ai/v1"),
    },
    ProviderInfo {
        name: "anthropic",
        protocol: Protocol::Anthropic,
        default_base: Some("https://api.anthropic.com"),
    },
];

/// `litellm_params` keys meshgate acts on; the others are named in [`warnings`].
const PARAMS_USED: &[&str] = &[
    "model",
    "api_base",
    "api_key",
    "timeout",
    "input_cost_per_token",
    "output_cost_per_token",
];
/// Cost fields, read from `model_info` or `litellm_params` (LiteLLM's names).
const COST_FIELDS: &[&str] = &["input_cost_per_token", "output_cost_per_token"];
/// Entry keys meshgate acts on.
const ENTRY_USED: &[&str] = &["model_name", "litellm_params"];

/// One checked `model_list` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    /// Its index in `model_list` (for messages: `model_list[i]`).
    pub index: usize,
    /// The name clients ask for (`model` in their requests).
    pub model_name: String,
    /// The LiteLLM provider (`openai`, `hosted_vllm`…), lowercased.
    pub provider: String,
    pub protocol: Protocol,
    /// The provider's own model id (after `provider/`).
    pub model: String,
    /// `api_base`, else the provider's default; None when there is neither (only for
    /// providers meshgate does not serve).
    pub api_base: Option<String>,
    /// As written: a literal or `os.environ/NAME` (resolved by the sidecar).
    pub api_key: Option<String>,
    /// `timeout` (seconds in the file) in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Native or bridged through chat completions: by provider ([`NATIVE_RESPONSES`]),
    /// overridden by LiteLLM's `model_info.supported_endpoints` (a list that names
    /// `/v1/responses` → native; a list without it → through chat).
    pub responses_api: ResponsesApi,
    /// USD per prompt token (`input_cost_per_token` of `model_info`, else of
    /// `litellm_params`); 0 when neither gives it.
    pub input_cost_per_token: f64,
    /// USD per completion token (`output_cost_per_token`, as above).
    pub output_cost_per_token: f64,
    /// Fields of the entry meshgate accepts but does not act on, as dotted paths.
    pub inert: Vec<String>,
}

impl ModelSpec {
    /// The field path of this entry (`model_list[3]`).
    pub fn path(&self) -> String {
        format!("model_list[{}]", self.index)
    }
}

/// Checks every entry; the first bad one refuses the document, naming its field.
pub fn parse_model_list(list: &[Value]) -> Result<Vec<ModelSpec>, ConfigError> {
    list.iter()
        .enumerate()
        .map(|(i, entry)| parse_entry(i, entry))
        .collect()
}

fn parse_entry(index: usize, entry: &Value) -> Result<ModelSpec, ConfigError> {
    let at = format!("model_list[{index}]");
    let obj = entry.as_object().ok_or_else(|| {
        ConfigError::field(
            &at,
            format!(
                "each model_list entry must be a mapping with `model_name` and `litellm_params`, found {}",
                kind(entry)
            ),
        )
    })?;
    let model_name = required_text(obj, "model_name", &at)?;
    let params_at = format!("{at}.litellm_params");
    let params = match obj.get("litellm_params") {
        Some(Value::Object(p)) => p,
        Some(other) => {
            return Err(ConfigError::field(
                &params_at,
                format!("expected a mapping, found {}", kind(other)),
            ))
        }
        None => {
            return Err(ConfigError::field(
                &params_at,
                "missing: give at least `model: <provider>/<model>`",
            ))
        }
    };
    let written = required_text(params, "model", &params_at)?;
    let (provider, model) = match written.split_once('/') {
        Some((p, m)) => (p.trim().to_ascii_lowercase(), m.trim().to_string()),
        // LiteLLM infers the provider of a bare name; meshgate reads it as OpenAI's.
        None => ("openai".to_string(), written.trim().to_string()),
    };
    if provider.is_empty() || model.is_empty() {
        return Err(ConfigError::field(
            format!("{params_at}.model"),
            format!("`{written}` is not `<provider>/<model>`"),
        ));
    }
    let api_base = optional_text(params, "api_base", &params_at)?;
    if let Some(base) = &api_base {
        let lower = base.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) || base.len() < 9 {
            return Err(ConfigError::field(
                format!("{params_at}.api_base"),
                "must be an http:// or https:// URL",
            ));
        }
    }
    let api_key = optional_text(params, "api_key", &params_at)?;
    let timeout_ms = match params.get("timeout") {
        None | Some(Value::Null) => None,
        Some(v) => Some(timeout_ms(v).ok_or_else(|| {
            ConfigError::field(
                format!("{params_at}.timeout"),
                format!(
                    "expected a positive number of seconds (at most a day), found {}",
                    shown(v)
                ),
            )
        })?),
    };
    let known = PROVIDERS.iter().find(|p| p.name == provider);
    let protocol = known.map_or(Protocol::Unsupported, |p| p.protocol);
    let api_base = match (api_base, known.and_then(|p| p.default_base)) {
        (Some(b), _) => Some(b.trim_end_matches('/').to_string()),
        (None, Some(d)) => Some(d.to_string()),
        (None, None) if protocol == Protocol::OpenAi => {
            return Err(ConfigError::field(
                format!("{params_at}.api_base"),
                format!("provider `{provider}` has no default address: give its api_base"),
            ))
        }
        (None, None) => None,
    };
    let info = match obj.get("model_info") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m),
        Some(other) => {
            return Err(ConfigError::field(
                format!("{at}.model_info"),
                format!("expected a mapping, found {}", kind(other)),
            ))
        }
    };
    let mut costs = [0.0f64; 2];
    for (slot, field) in costs.iter_mut().zip(COST_FIELDS) {
        let found = info
            .and_then(|m| {
                m.get(*field)
                    .map(|v| (format!("{at}.model_info.{field}"), v))
            })
            .or_else(|| {
                params
                    .get(*field)
                    .map(|v| (format!("{params_at}.{field}"), v))
            });
        if let Some((path, v)) = found {
            *slot = v
                .as_f64()
                .filter(|c| c.is_finite() && *c >= 0.0)
                .ok_or_else(|| {
                    ConfigError::field(
                        path,
                        format!("expected a number of USD at least 0, found {}", shown(v)),
                    )
                })?;
        }
    }
    let responses_api = match supported_endpoints(info, &at)? {
        Some(list) if list.iter().any(|e| is_responses_endpoint(e)) => ResponsesApi::Native,
        Some(_) => ResponsesApi::ViaChat,
        None if NATIVE_RESPONSES.contains(&provider.as_str()) => ResponsesApi::Native,
        None => ResponsesApi::ViaChat,
    };
    let mut inert = Vec::new();
    for key in obj.keys() {
        if key == "model_info" {
            for k in info.into_iter().flat_map(|m| m.keys()) {
                if !COST_FIELDS.contains(&k.as_str()) && k != "supported_endpoints" {
                    inert.push(format!("{at}.model_info.{k}"));
                }
            }
        } else if !ENTRY_USED.contains(&key.as_str()) {
            inert.push(format!("{at}.{key}"));
        }
    }
    for key in params.keys() {
        if !PARAMS_USED.contains(&key.as_str()) {
            inert.push(format!("{params_at}.{key}"));
        }
    }
    Ok(ModelSpec {
        index,
        model_name,
        provider,
        protocol,
        model,
        api_base,
        api_key,
        timeout_ms,
        responses_api,
        input_cost_per_token: costs[0],
        output_cost_per_token: costs[1],
        inert,
    })
}

/// LiteLLM's `model_info.supported_endpoints` (`["/v1/chat/completions",
/// "/v1/responses"]`), when given.
fn supported_endpoints(
    info: Option<&Map<String, Value>>,
    at: &str,
) -> Result<Option<Vec<String>>, ConfigError> {
    let Some(info) = info else {
        return Ok(None);
    };
    let field = format!("{at}.model_info.supported_endpoints");
    match info.get("supported_endpoints") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    ConfigError::field(
                        &field,
                        format!("expected a list of endpoint paths, found {}", kind(v)),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(ConfigError::field(
            &field,
            format!("expected a list of endpoint paths, found {}", kind(other)),
        )),
    }
}

/// `/v1/responses` as LiteLLM writes it (also without `/v1` or with a trailing `/`).
fn is_responses_endpoint(path: &str) -> bool {
    matches!(
        path.trim().trim_end_matches('/'),
        "/v1/responses" | "/responses" | "v1/responses"
    )
}

/// What a loaded `model_list` still deserves a word about: fields not acted on (one
/// line), providers not served, names given to several deployments (the first serves).
pub fn warnings(specs: &[ModelSpec]) -> Vec<String> {
    let mut out = Vec::new();
    let inert: Vec<&str> = specs
        .iter()
        .flat_map(|s| s.inert.iter().map(String::as_str))
        .collect();
    if !inert.is_empty() {
        out.push(format!(
            "model_list: loaded but not acted on by meshgate yet ({} field{}): {}",
            inert.len(),
            if inert.len() == 1 { "" } else { "s" },
            inert.join(", ")
        ));
    }
    for s in specs {
        match s.protocol {
            Protocol::OpenAi | Protocol::Anthropic => {}
            Protocol::Unsupported => out.push(format!(
                "{}.litellm_params.model: provider `{}` is not supported by meshgate; requests for `{}` are refused",
                s.path(),
                s.provider,
                s.model_name
            )),
        }
    }
    for (i, s) in specs.iter().enumerate() {
        if let Some(first) = specs[..i].iter().find(|f| f.model_name == s.model_name) {
            out.push(format!(
                "{}.model_name: `{}` is also {}'s; meshgate does not balance between deployments, the first one serves it",
                s.path(),
                s.model_name,
                first.path()
            ));
        }
    }
    out
}

/// LiteLLM's rule for a key's (or team's) `models`: empty = every model; otherwise
/// the list names the models it may use (`*` and `all-proxy-models` = every model).
pub fn allows_model(models: &[String], model_name: &str) -> bool {
    models.is_empty()
        || models
            .iter()
            .any(|m| m == model_name || m == "*" || m == "all-proxy-models")
}

fn timeout_ms(v: &Value) -> Option<u64> {
    let secs = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if !secs.is_finite() || secs <= 0.0 || secs > 86_400.0 {
        return None;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let ms = (secs * 1000.0).ceil() as u64;
    Some(ms.max(1))
}

fn required_text(obj: &Map<String, Value>, key: &str, at: &str) -> Result<String, ConfigError> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(Value::String(_)) => Err(ConfigError::field(format!("{at}.{key}"), "is empty")),
        Some(other) => Err(ConfigError::field(
            format!("{at}.{key}"),
            format!("expected a string, found {}", kind(other)),
        )),
        None => Err(ConfigError::field(format!("{at}.{key}"), "missing")),
    }
}

fn optional_text(
    obj: &Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<Option<String>, ConfigError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
        Some(Value::String(_)) => Err(ConfigError::field(format!("{at}.{key}"), "is empty")),
        Some(other) => Err(ConfigError::field(
            format!("{at}.{key}"),
            format!("expected a string, found {}", kind(other)),
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// A value in a message: numbers and short strings as they are, else their kind.
fn shown(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.len() <= 32 => format!("`{s}`"),
        other => kind(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load_config;

    fn specs(yaml: &str) -> Result<Vec<ModelSpec>, String> {
        load_config(yaml, None)
            .map(|c| c.model_specs)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn litellm_entries_become_providers() {
        let got = specs(
            "model_list:\n  - model_name: gpt-4o\n    litellm_params: {model: openai/gpt-4o, api_key: os.environ/OPENAI_API_KEY}\n  - model_name: local\n    litellm_params: {model: hosted_vllm/Qwen/Qwen3-8B, api_base: 'http://127.0.0.1:8000/v1/', timeout: 2.5}\n  - model_name: bare\n    litellm_params: {model: gpt-4o-mini}\n",
        )
        .unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].provider, "openai");
        assert_eq!(got[0].model, "gpt-4o");
        assert_eq!(
            got[0].api_base.as_deref(),
            Some("https://api.openai.com/v1")
        );
        assert_eq!(got[0].api_key.as_deref(), Some("os.environ/OPENAI_API_KEY"));
        assert_eq!(got[1].model, "Qwen/Qwen3-8B", "split at the first `/` only");
        assert_eq!(got[1].api_base.as_deref(), Some("http://127.0.0.1:8000/v1"));
        assert_eq!(got[1].timeout_ms, Some(2500));
        assert_eq!(got[2].provider, "openai");
        assert_eq!(got[2].protocol, Protocol::OpenAi);
        assert_eq!(got[0].responses_api, ResponsesApi::Native);
        assert_eq!(
            got[1].responses_api,
            ResponsesApi::ViaChat,
            "vLLM: chat only"
        );
        assert_eq!(got[2].responses_api, ResponsesApi::Native);
    }

    #[test]
    fn supported_endpoints_decide_native_responses_over_the_provider() {
        let got = specs(
            "model_list:\n  - model_name: a\n    litellm_params: {model: openai/llama, api_base: 'http://host/v1'}\n    model_info: {supported_endpoints: [/v1/chat/completions]}\n  - model_name: b\n    litellm_params: {model: hosted_vllm/q, api_base: 'http://host/v1'}\n    model_info: {supported_endpoints: [/v1/chat/completions, /v1/responses], id: 7}\n  - model_name: c\n    litellm_params: {model: ollama/q}\n  - model_name: d\n    litellm_params: {model: litellm_proxy/q, api_base: 'http://host'}\n",
        )
        .unwrap();
        let apis: Vec<ResponsesApi> = got.iter().map(|s| s.responses_api).collect();
        use ResponsesApi::{Native, ViaChat};
        assert_eq!(apis, [ViaChat, Native, ViaChat, Native]);
        assert!(got[0].inert.is_empty(), "{:?}", got[0].inert);
        assert_eq!(got[1].inert, ["model_list[1].model_info.id"]);
        let err = specs(
            "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\n    model_info: {supported_endpoints: /v1/responses}\n",
        )
        .unwrap_err();
        assert!(
            err.contains("`model_list[0].model_info.supported_endpoints`"),
            "{err}"
        );
    }

    #[test]
    fn prices_come_from_model_info_else_litellm_params() {
        let got = specs(
            "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, input_cost_per_token: 0.5, output_cost_per_token: 0.25}\n    model_info: {input_cost_per_token: 0.001}\n  - model_name: b\n    litellm_params: {model: openai/y}\n",
        )
        .unwrap();
        assert_eq!(
            (got[0].input_cost_per_token, got[0].output_cost_per_token),
            (0.001, 0.25)
        );
        assert_eq!(
            (got[1].input_cost_per_token, got[1].output_cost_per_token),
            (0.0, 0.0)
        );
        assert!(
            got[0].inert.is_empty(),
            "prices are acted on: {:?}",
            got[0].inert
        );
        let err = specs(
            "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\n    model_info: {output_cost_per_token: -1}\n",
        )
        .unwrap_err();
        assert!(
            err.contains("`model_list[0].model_info.output_cost_per_token`"),
            "{err}"
        );
        let err = specs(
            "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, input_cost_per_token: cheap}\n",
        )
        .unwrap_err();
        assert!(
            err.contains("`model_list[0].litellm_params.input_cost_per_token`"),
            "{err}"
        );
    }

    #[test]
    fn the_llm_request_budget_is_checked_at_load() {
        let cfg = load_config("meshgate:\n  llm_request_timeout_ms: 1500\n", None).unwrap();
        assert_eq!(cfg.meshgate.llm_request_timeout_ms, 1500);
        assert_eq!(
            load_config("{}", None)
                .unwrap()
                .meshgate
                .llm_request_timeout_ms,
            600_000
        );
        let err = load_config("meshgate:\n  llm_request_timeout_ms: 0\n", None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("meshgate.llm_request_timeout_ms"), "{err}");
    }

    #[test]
    fn bad_entries_are_refused_naming_the_field() {
        let cases = [
            ("model_list:\n  - 3\n", "model_list[0]"),
            (
                "model_list:\n  - litellm_params: {model: openai/x}\n",
                "model_list[0].model_name",
            ),
            (
                "model_list:\n  - model_name: a\n",
                "model_list[0].litellm_params",
            ),
            (
                "model_list:\n  - model_name: a\n    litellm_params: {api_key: k}\n",
                "model_list[0].litellm_params.model",
            ),
            (
                "model_list:\n  - model_name: a\n    litellm_params: {model: openai/}\n",
                "model_list[0].litellm_params.model",
            ),
            (
                "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x}\n  - model_name: b\n    litellm_params: {model: openai/x, api_base: 'ftp://x'}\n",
                "model_list[1].litellm_params.api_base",
            ),
            (
                "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, timeout: -1}\n",
                "model_list[0].litellm_params.timeout",
            ),
            (
                "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, api_key: [1]}\n",
                "model_list[0].litellm_params.api_key",
            ),
            (
                "model_list:\n  - model_name: a\n    litellm_params: {model: hosted_vllm/x}\n",
                "model_list[0].litellm_params.api_base",
            ),
            (
                "model_list: {a: 1}\n",
                "model_list",
            ),
        ];
        for (yaml, field) in cases {
            let err = specs(yaml).unwrap_err();
            assert!(err.contains(&format!("`{field}`")), "{yaml}: {err}");
        }
    }

    #[test]
    fn warnings_name_what_is_not_acted_on() {
        let cfg = load_config(
            "model_list:\n  - model_name: a\n    litellm_params: {model: openai/x, rpm: 10}\n    model_info: {id: 1}\n  - model_name: a\n    litellm_params: {model: openai/y}\n  - model_name: c\n    litellm_params: {model: anthropic/claude}\n  - model_name: d\n    litellm_params: {model: bedrock/titan}\n",
            None,
        )
        .unwrap();
        let all = cfg.warnings.join("\n");
        assert!(
            all.contains("model_list[0].litellm_params.rpm")
                && all.contains("model_list[0].model_info"),
            "{all}"
        );
        assert!(
            !all.contains("model_list[0].litellm_params.model,")
                && !all.contains("not acted on by meshgate yet (1 field): model_list\n"),
            "acted-on fields are not listed: {all}"
        );
        assert!(all.contains("model_list[1].model_name"), "{all}");
        assert!(!all.contains("provider `anthropic`"), "served: {all}");
        assert!(all.contains("provider `bedrock`"), "{all}");
    }

    #[test]
    fn key_model_rule_is_litellms() {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(allows_model(&[], "x"));
        assert!(allows_model(&list(&["x", "y"]), "y"));
        assert!(!allows_model(&list(&["x"]), "y"));
        assert!(allows_model(&list(&["all-proxy-models"]), "y"));
    }
}
