//! The providers of `model_list` (`meshgate_policy::models`), ready to call: each
//! entry's `api_key` resolved against the sidecar's environment (a missing variable
//! makes that model unusable, said at load and on each request, never the whole
//! document), its timeout, its protocol.
//!
//! The loop and the routes speak OpenAI's shapes; [`call_json`] and [`open_stream`]
//! choose the protocol: `openai.rs` passes them through, `anthropic/` translates them
//! to and from the Messages API, `chat_only/` serves `/responses` through chat
//! completions for providers without a Responses API (`responses_as_chat.rs` reads a
//! Responses request as a chat one for both).

pub mod anthropic;
pub mod chat_only;
pub mod item_events;
pub mod openai;
pub mod responses_as_chat;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use meshgate_policy::env::{env_reference, EnvSource};
use meshgate_policy::models::{ModelSpec, Protocol, ResponsesApi};

use serde_json::Value;

use super::error::LlmError;
use crate::upstream::HttpClient;

/// A provider request's default time limit (LiteLLM's is far longer; a tool loop's
/// round should not wait more than this for its model).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// One `model_list` entry, resolved.
pub struct Provider {
    pub model_name: String,
    /// `model_list[i]`, for messages.
    pub path: String,
    pub provider: String,
    pub protocol: Protocol,
    /// The provider's model id.
    pub model: String,
    pub api_base: Option<String>,
    /// Whether `/responses` requests go to the provider as they are or through its chat
    /// completions (`chat_only.rs`); Anthropic models always translate.
    pub responses_api: ResponsesApi,
    /// The key sent to the provider; Err: why there is none to send (an unset variable).
    api_key: Result<Option<String>, String>,
    pub timeout: Duration,
    /// USD per prompt and per completion token (`input_cost_per_token`,
    /// `output_cost_per_token`; 0 when not configured): the request's spend row.
    pub cost_per_token: (f64, f64),
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("model_name", &self.model_name)
            .field("provider", &self.provider)
            .field("model", &self.model)
            .field(
                "api_key",
                &self
                    .api_key
                    .as_ref()
                    .map(|k| k.as_ref().map(|_| "<redacted>")),
            )
            .finish_non_exhaustive()
    }
}

impl Provider {
    fn from_spec(spec: &ModelSpec, env: &dyn EnvSource) -> Self {
        let api_key = match spec.api_key.as_deref() {
            None => Ok(None),
            Some(v) => match env_reference(v) {
                None => Ok(Some(v.to_string())),
                Some(name) => env.var(name).filter(|k| !k.is_empty()).map(Some).ok_or_else(|| {
                    format!(
                        "{}.litellm_params.api_key refers to environment variable `{name}`, which is not set in the sidecar",
                        spec.path()
                    )
                }),
            },
        };
        Provider {
            model_name: spec.model_name.clone(),
            path: spec.path(),
            provider: spec.provider.clone(),
            protocol: spec.protocol,
            model: spec.model.clone(),
            api_base: spec.api_base.clone(),
            responses_api: spec.responses_api,
            api_key,
            timeout: spec
                .timeout_ms
                .map_or(DEFAULT_TIMEOUT, Duration::from_millis),
            cost_per_token: (spec.input_cost_per_token, spec.output_cost_per_token),
        }
    }

    /// The key to send, or why the model cannot be served.
    pub fn api_key(&self) -> Result<Option<&str>, LlmError> {
        match &self.api_key {
            Ok(k) => Ok(k.as_deref()),
            Err(why) => Err(LlmError::new(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                "configuration_error",
                format!("model `{}` cannot be served: {why}", self.model_name),
            )),
        }
    }

    /// A `/responses` request for an OpenAI-compatible model without a Responses API:
    /// served through its chat completions.
    pub fn via_chat(&self, path: &str) -> bool {
        path == "/responses"
            && self.protocol == Protocol::OpenAi
            && self.responses_api == ResponsesApi::ViaChat
    }

    /// Whether the provider itself keeps `/responses` answers (a `previous_response_id`
    /// the gateway did not give out is the provider's own).
    pub fn keeps_responses(&self) -> bool {
        self.protocol == Protocol::OpenAi && self.responses_api == ResponsesApi::Native
    }

    /// Refuses a provider meshgate does not speak.
    pub fn check_served(&self) -> Result<(), LlmError> {
        match self.protocol {
            Protocol::OpenAi | Protocol::Anthropic => Ok(()),
            Protocol::Unsupported => Err(LlmError::invalid(format!(
                "model `{}` is served by provider `{}`, which meshgate does not support",
                self.model_name, self.provider
            ))),
        }
    }
}

/// A non-streamed call of an OpenAI `path` (`/chat/completions` or `/responses`) with
/// an OpenAI-shaped `body`: the answer in that path's shape, whatever the protocol.
pub async fn call_json(
    client: &HttpClient,
    provider: &Provider,
    path: &str,
    body: &Value,
) -> Result<Value, LlmError> {
    match provider.protocol {
        Protocol::Anthropic => anthropic::call_json(client, provider, path, body).await,
        _ if provider.via_chat(path) => chat_only::call_json(client, provider, body).await,
        _ => openai::call_json(client, provider, path, body).await,
    }
}

/// A provider stream translated into the OpenAI `path`'s events as it is read.
pub enum Translator {
    /// Anthropic's events → `chat.completion.chunk`s.
    Chunks(anthropic::stream::ToChunks),
    /// Anthropic's events → Responses events.
    Events(anthropic::stream_responses::ToEvents),
    /// Chat chunks → Responses events (a chat-only model's `/responses`).
    ChatEvents(chat_only::stream::ToEvents),
}

impl Translator {
    pub fn translate(&mut self, data: &str) -> Vec<String> {
        match self {
            Translator::Chunks(t) => t.translate(data),
            Translator::Events(t) => t.translate(data),
            Translator::ChatEvents(t) => t.translate(data),
        }
    }

    /// What the stream's end still owes (a chat stream without `[DONE]` is completed).
    pub fn finish(&mut self) -> Vec<String> {
        match self {
            Translator::ChatEvents(t) => t.end(),
            _ => Vec::new(),
        }
    }
}

/// Opens a stream for an OpenAI `path` request (`body` as the client's, with `stream:
/// true`): the answer's head and, unless the provider speaks the path's API itself,
/// the translation of its events. An error status is read as LiteLLM words it.
/// `include_usage`: an Anthropic model's Chat stream ends with a usage chunk.
pub async fn open_stream(
    client: &HttpClient,
    provider: &Provider,
    path: &str,
    body: &Value,
    include_usage: bool,
) -> Result<(http::Response<hyper::body::Incoming>, Option<Translator>), LlmError> {
    match provider.protocol {
        Protocol::Anthropic => {
            let (resp, t) =
                anthropic::open_stream(client, provider, path, body, include_usage).await?;
            Ok((resp, Some(t)))
        }
        _ if provider.via_chat(path) => {
            let (resp, t) = chat_only::open_stream(client, provider, body).await?;
            Ok((resp, Some(Translator::ChatEvents(t))))
        }
        _ => {
            let bytes = bytes::Bytes::from(serde_json::to_vec(body).unwrap_or_default());
            let resp = openai::send(client, provider, path, bytes).await?;
            let status = resp.status();
            if !status.is_success() {
                let bytes = openai::read_answer(resp, provider).await?;
                return Err(openai::status_error(status, &bytes));
            }
            Ok((resp, None))
        }
    }
}

/// Every model of the configuration, by `model_name` (the first entry of a name wins).
#[derive(Debug, Default)]
pub struct Providers {
    by_name: HashMap<String, Arc<Provider>>,
    /// Model names in configuration order (`/v1/models`).
    order: Vec<String>,
}

impl Providers {
    pub fn build(specs: &[ModelSpec], env: &dyn EnvSource) -> Self {
        let mut out = Providers::default();
        for spec in specs {
            if out.by_name.contains_key(&spec.model_name) {
                continue;
            }
            let provider = Provider::from_spec(spec, env);
            if let Err(why) = &provider.api_key {
                tracing::warn!(
                    "model_list: {why}; requests for `{}` will fail",
                    spec.model_name
                );
            }
            out.order.push(spec.model_name.clone());
            out.by_name
                .insert(spec.model_name.clone(), Arc::new(provider));
        }
        out
    }

    pub fn get(&self, model_name: &str) -> Option<Arc<Provider>> {
        self.by_name.get(model_name).cloned()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(String::as_str)
    }
}
