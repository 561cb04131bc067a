//! One spend row per LLM request (`/v1/chat/completions`, `/v1/responses`; plain or
//! with the tool loop, streamed or not), beside the rows of its tool calls: LiteLLM's
//! `call_type` (`acompletion` / `aresponses`), `model` = the model name the client
//! asked for, the usage of every round summed, and its cost from the model's
//! `input_cost_per_token` / `output_cost_per_token` (0 when not configured). The row
//! counts towards the key's, team's and organization's budgets like a tool call's.
//!
//! A plain request's answer is relayed as it comes; [`UsageTap`] reads its `usage` on
//! the way through (the JSON body, or the stream's usage chunk / `response.completed`)
//! without holding anything back from the client.

use http::HeaderMap;
use serde_json::Value;
use std::sync::Arc;

use meshgate_policy::paths::LlmRoute;

use super::error::LlmError;
use super::providers::Provider;
use crate::mcp::context::Ctx;
use crate::spend::record::{self, LlmUsage, Started};
use crate::state::{AppState, Runtime};
use crate::verify::Principal;

/// The most of a plain JSON answer kept to read its usage.
const MAX_TAPPED_JSON: usize = 8 * 1024 * 1024;

/// An LLM request's spend row, to be written once it ends.
pub struct RequestSpend {
    state: Arc<AppState>,
    runtime: Arc<Runtime>,
    principal: Principal,
    headers: HeaderMap,
    call_type: &'static str,
    model_name: String,
    cost_per_token: (f64, f64),
    started: Started,
}

impl RequestSpend {
    pub fn new(
        state: Arc<AppState>,
        runtime: Arc<Runtime>,
        principal: Principal,
        headers: HeaderMap,
        route: LlmRoute,
        model_name: &str,
        provider: &Provider,
    ) -> Self {
        RequestSpend {
            state,
            runtime,
            principal,
            headers,
            call_type: match route {
                LlmRoute::Responses => "aresponses",
                _ => "acompletion",
            },
            model_name: model_name.to_string(),
            cost_per_token: provider.cost_per_token,
            started: Started::now(),
        }
    }

    /// A provider request's opening: on success the value, with this row still to
    /// write; on failure the row is written as `upstream_error` and the error returned.
    pub async fn opened<T>(self, opened: Result<T, LlmError>) -> Result<(T, Self), LlmError> {
        match opened {
            Ok(v) => Ok((v, self)),
            Err(e) => {
                self.record(None, "upstream_error").await;
                Err(e)
            }
        }
    }

    /// Writes the row: `usage` as the provider(s) reported it (summed over the rounds),
    /// `status` how the request ended (`ok`, `upstream_error`, `timeout`, `cancelled`).
    pub async fn record(self, usage: Option<&Value>, status: &str) {
        let usage = priced(usage, self.cost_per_token);
        let ctx = Ctx::new(&self.state, self.runtime, self.principal, self.headers);
        record::llm_request(
            &ctx,
            self.call_type,
            &self.model_name,
            usage,
            status,
            self.started,
        )
        .await;
    }
}

/// Tokens of a Chat (`prompt_tokens`…) or Responses (`input_tokens`…) usage object, and
/// their cost.
pub fn priced(usage: Option<&Value>, (per_in, per_out): (f64, f64)) -> LlmUsage {
    let n = |a: &str, b: &str| -> i64 {
        usage
            .and_then(|u| u.get(a).or_else(|| u.get(b)))
            .and_then(Value::as_i64)
            .unwrap_or(0)
            .max(0)
    };
    let prompt_tokens = n("prompt_tokens", "input_tokens");
    let completion_tokens = n("completion_tokens", "output_tokens");
    let total_tokens = match n("total_tokens", "total_tokens") {
        0 => prompt_tokens.saturating_add(completion_tokens),
        t => t,
    };
    let cost = prompt_tokens as f64 * per_in + completion_tokens as f64 * per_out;
    LlmUsage {
        prompt_tokens,
        completion_tokens,
        total_tokens,
        cost: if cost.is_finite() { cost } else { 0.0 },
    }
}

/// Reads the usage of a relayed answer as its bytes pass.
pub struct UsageTap {
    spend: RequestSpend,
    stream: bool,
    /// The JSON answer so far, or the stream's unfinished line.
    buf: Vec<u8>,
    usage: Option<Value>,
    overflow: bool,
}

impl UsageTap {
    pub fn new(spend: RequestSpend, stream: bool) -> Self {
        UsageTap {
            spend,
            stream,
            buf: Vec::new(),
            usage: None,
            overflow: false,
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        if !self.stream {
            if self.buf.len() + bytes.len() > MAX_TAPPED_JSON {
                self.overflow = true;
                self.buf = Vec::new();
            }
            if !self.overflow {
                self.buf.extend_from_slice(bytes);
            }
            return;
        }
        self.buf.extend_from_slice(bytes);
        while let Some(end) = self.buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=end).collect();
            self.line(&line);
        }
        if self.buf.len() > MAX_TAPPED_JSON {
            self.buf.clear();
        }
    }

    /// One line of an event stream: a data line that mentions usage is read.
    fn line(&mut self, line: &[u8]) {
        let Some(data) = line.strip_prefix(b"data:") else {
            return;
        };
        if !data.windows(7).any(|w| w == b"\"usage\"") {
            return;
        }
        let Ok(v) = serde_json::from_slice::<Value>(data) else {
            return;
        };
        // A Chat usage chunk, or Responses' `response.completed`/`incomplete`.
        let usage = v
            .get("usage")
            .or_else(|| v.pointer("/response/usage"))
            .filter(|u| u.is_object());
        if let Some(u) = usage {
            self.usage = Some(u.clone());
        }
    }

    /// The answer ended (`ok`: it ended well): the row is written.
    pub async fn finish(mut self, ok: bool) {
        if !self.stream && !self.overflow {
            self.usage = serde_json::from_slice::<Value>(&self.buf)
                .ok()
                .and_then(|v| v.get("usage").filter(|u| u.is_object()).cloned());
        }
        let status = if ok { "ok" } else { "upstream_error" };
        self.spend.record(self.usage.as_ref(), status).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_apis_usage_is_read_and_priced() {
        let u = priced(
            Some(&json!({"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30})),
            (0.001, 0.002),
        );
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (20, 10, 30)
        );
        assert!((u.cost - 0.04).abs() < 1e-12);
        let u = priced(
            Some(&json!({"input_tokens": 7, "output_tokens": 3})),
            (0.0, 0.0),
        );
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (7, 3, 10)
        );
        assert_eq!(u.cost, 0.0);
        assert_eq!(priced(None, (1.0, 1.0)), LlmUsage::default());
    }
}
