//! The OpenAI-compatible routes and the LLM tool loop (docs/llm.md):
//! `POST /v1/chat/completions`, `POST /v1/responses`, `GET /v1/models` (each also
//! without `/v1`), behind the filter's key auth like every sidecar route.
//!
//! - `providers/`: `model_list` resolved (`mod.rs`) and OpenAI's HTTP API (`openai.rs`).
//! - `routes.rs`: the requests: model lookup, the key's `models`, plain proxying
//!   (streams relayed chunk by chunk), or the loop when MCP tools are asked for.
//! - `tools.rs`: the request's MCP tools (`{"type": "mcp", "server_url":
//!   "litellm_proxy…"}`) listed and called through the same code as `/mcp`
//!   (`mcp::tools`), converted to OpenAI function tools.
//! - `chat.rs`, `responses.rs`: the loop for each API (a round's calls in parallel, up
//!   to `meshgate.max_tool_rounds` rounds) and LiteLLM's output shapes; the round
//!   logic both the JSON answer and the stream use.
//! - `stream/`: the loop with `stream: true` (Responses events, Chat chunks).
//! - `stored_responses.rs`: Responses answers kept under the gateway's id, and
//!   `previous_response_id` expanded from them; `responses_plain.rs`: a Responses
//!   request without the gateway's tools, for every provider.
//! - `approval.rs`: `require_approval` and the approval round-trip (signed
//!   `mcp_approval_request` ids, the client's `mcp_approval_response`s).
//! - `budget.rs`: the request's wall-clock budget (`meshgate.llm_request_timeout_ms`).
//! - `spend.rs`: the request's own spend row (tokens of every round, priced).
//! - `error.rs`: LiteLLM's error shape.

mod approval;
mod budget;
mod chat;
pub mod error;
pub mod providers;
mod responses;
mod responses_plain;
mod routes;
mod spend;
mod stored_responses;
mod stream;
mod tools;
mod usage;

use std::collections::HashMap;

use meshgate_policy::env::EnvSource;
use meshgate_policy::GatewayConfig;
use meshgate_store::KeyRecord;

pub use routes::handle;

/// What the LLM routes need from one loaded configuration and database state.
#[derive(Debug, Default)]
pub struct LlmState {
    pub providers: providers::Providers,
    /// Key principal id → the models it may call (LiteLLM's `models`; empty = all).
    pub key_models: HashMap<String, Vec<String>>,
    pub max_tool_rounds: u32,
    /// `meshgate.llm_request_timeout_ms`.
    pub request_timeout_ms: u64,
}

impl LlmState {
    pub fn build(config: &GatewayConfig, keys: &[KeyRecord], env: &dyn EnvSource) -> Self {
        LlmState {
            providers: providers::Providers::build(&config.model_specs, env),
            key_models: keys
                .iter()
                .filter(|k| !k.models.is_empty())
                .map(|k| {
                    (
                        meshgate_policy::grants::key_id(&k.token.to_ascii_lowercase()),
                        k.models.clone(),
                    )
                })
                .collect(),
            max_tool_rounds: config.meshgate.max_tool_rounds,
            request_timeout_ms: config.meshgate.llm_request_timeout_ms,
        }
    }

    /// The models a principal is limited to (empty: every model).
    pub fn models_of(&self, key_id: Option<&str>) -> &[String] {
        key_id
            .and_then(|id| self.key_models.get(id))
            .map_or(&[], Vec::as_slice)
    }
}
