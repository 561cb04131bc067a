//! The wall-clock budget of one LLM request with the tool loop
//! (`meshgate.llm_request_timeout_ms`, default 10 minutes; a request's own
//! `llm_request_timeout_ms` may only lower it): every round and tool call of the request
//! must end within it. When it runs out the request's work is dropped where it stands —
//! the provider's stream, running tool calls — and the answer ends with an error naming
//! the budget (non-stream: a 408 `timeout_error` in OpenAI's error shape; stream: the
//! error event of each API).

use http::StatusCode;
use serde_json::{Map, Value};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

use super::error::LlmError;

/// The request body's own budget (meshgate's extension, removed before the provider
/// sees the body).
pub const FIELD: &str = "llm_request_timeout_ms";

/// When one request must have ended.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
    limit_ms: u64,
}

impl Deadline {
    /// The budget for this request: the configured one, or the body's if lower; the
    /// field is taken out of the body.
    pub fn take(body: &mut Map<String, Value>, configured_ms: u64) -> Result<Self, LlmError> {
        // An unset runtime (tests' defaults) has the configuration's default.
        let configured_ms = if configured_ms == 0 {
            600_000
        } else {
            configured_ms
        };
        let limit_ms = match body.remove(FIELD) {
            None | Some(Value::Null) => configured_ms,
            Some(v) => match v.as_u64() {
                Some(n) if n >= 1 => configured_ms.min(n),
                _ => {
                    return Err(LlmError::invalid(format!(
                        "`{FIELD}` must be a whole number of milliseconds, at least 1"
                    )))
                }
            },
        };
        Ok(Deadline {
            at: Instant::now() + Duration::from_millis(limit_ms),
            limit_ms,
        })
    }

    /// `work`, unless the budget runs out first (then the error to answer).
    pub async fn run<F: Future>(&self, work: F) -> Result<F::Output, LlmError> {
        tokio::time::timeout_at(self.at, work)
            .await
            .map_err(|_| self.exceeded())
    }

    /// The error of a request past its budget.
    pub fn exceeded(&self) -> LlmError {
        LlmError {
            param: Some(FIELD),
            ..LlmError::new(
                StatusCode::REQUEST_TIMEOUT,
                "timeout_error",
                format!(
                    "the request ran past its wall-clock budget of {} ms \
                     (meshgate.llm_request_timeout_ms / `{FIELD}`); its model calls and \
                     running tool calls were stopped",
                    self.limit_ms
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn a_request_may_only_lower_the_budget_and_work_past_it_is_dropped() {
        let Value::Object(mut body) = json!({"llm_request_timeout_ms": 50}) else {
            unreachable!()
        };
        let d = Deadline::take(&mut body, 600_000).unwrap();
        assert!(body.is_empty(), "the field is not sent to the provider");
        assert_eq!(d.limit_ms, 50);
        let Value::Object(mut body) = json!({"llm_request_timeout_ms": 900_000}) else {
            unreachable!()
        };
        assert_eq!(Deadline::take(&mut body, 1000).unwrap().limit_ms, 1000);
        let Value::Object(mut body) = json!({"llm_request_timeout_ms": "soon"}) else {
            unreachable!()
        };
        assert!(Deadline::take(&mut body, 1000).is_err());
        let started = Instant::now();
        let err = d
            .run(tokio::time::sleep(Duration::from_secs(5)))
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(err.status, StatusCode::REQUEST_TIMEOUT);
        assert!(err.message.contains("50 ms"), "{}", err.message);
        assert!(d.run(async { 1 }).await.is_ok());
    }
}
