//! The external guardrail services the sidecar calls, each within its guardrail's
//! `timeout`:
//!
//! - LiteLLM's **Generic Guardrail API**: `POST {api_base}/beta/litellm_basic_guardrail_api`
//!   with `{"texts": [...], "input_type": "request" | "response", "request_data": {…}}`
//!   (`x-api-key: <api_key>` when one is configured) → `{"action": "NONE" |
//!   "BLOCKED" | "GUARDRAIL_INTERVENED", "blocked_reason": "…", "texts": [...]}`.
//! - **Presidio**: analyzer `POST {presidio_analyzer_api_base}/analyze`
//!   `{"text", "language", "entities"?}` → `[{entity_type, start, end, score}]`; an
//!   entity whose `pii_entities_config` action is BLOCK blocks, the others are masked
//!   by the anonymizer `POST {presidio_anonymizer_api_base}/anonymize`
//!   `{"text", "analyzer_results"}` → `{"text"}` (its default operator writes
//!   `<ENTITY_TYPE>`), or in place when no anonymizer is configured.

use bytes::Bytes;
use http::{header, Method, Request};
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use std::time::Duration;

use meshgate_policy::guardrails::config::External;
use meshgate_policy::guardrails::{Action, GuardrailSpec};

use crate::upstream::HttpClient;

/// Largest answer read from a guardrail service.
const MAX_ANSWER: usize = 4 << 20;

/// What a service decided about a list of texts.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Pass,
    /// Refused: the service's reason (generic API) or the entity type (Presidio).
    Block {
        entity: Option<String>,
        reason: String,
    },
    /// The texts to use instead, one per text sent; `entities` lists what was masked.
    Modified {
        texts: Vec<String>,
        entities: Vec<String>,
    },
}

/// Why a service gave no decision. The text is the kind of failure only: never the
/// service's URL or key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("the guardrail service did not answer within {0} ms")]
    Timeout(u64),
    #[error("the guardrail service could not be reached")]
    Unreachable,
    #[error("the guardrail service answered HTTP {0}")]
    Status(u16),
    #[error("the guardrail service's answer was not understood")]
    BadAnswer,
    #[error("the guardrail is not configured completely ({0})")]
    Config(&'static str),
}

impl Failure {
    /// The counters' entity column for a failure.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Timeout(_) => "timeout",
            Failure::Unreachable => "unreachable",
            Failure::Status(_) => "http_status",
            Failure::BadAnswer => "bad_answer",
            Failure::Config(_) => "configuration",
        }
    }
}

/// Whether the texts are a call's arguments or its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Request,
    Response,
}

/// Asks the guardrail's service about `texts` within its timeout.
pub async fn decide(
    client: &HttpClient,
    spec: &GuardrailSpec,
    external: &External,
    presidio: bool,
    texts: &[String],
    side: Side,
    tool: &str,
) -> Result<Decision, Failure> {
    let limit = Duration::from_millis(external.timeout_ms);
    let work = async {
        if presidio {
            presidio_decide(client, spec, external, texts).await
        } else {
            generic_decide(client, external, texts, side, tool).await
        }
    };
    match tokio::time::timeout(limit, work).await {
        Ok(r) => r,
        Err(_) => Err(Failure::Timeout(external.timeout_ms)),
    }
}

/// `os.environ/NAME` → the sidecar's environment; anything else as written.
fn resolve(value: &str) -> Result<String, Failure> {
    match value.strip_prefix("os.environ/") {
        Some(name) => std::env::var(name).map_err(|_| Failure::Config("environment variable")),
        None => Ok(value.to_string()),
    }
}

async fn post_json(
    client: &HttpClient,
    url: &str,
    api_key: Option<&str>,
    body: &Value,
) -> Result<Value, Failure> {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(url)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json");
    if let Some(key) = api_key {
        req = req.header("x-api-key", key);
    }
    let req = req
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|_| Failure::Config("api_base"))?;
    let resp = client
        .request(req)
        .await
        .map_err(|_| Failure::Unreachable)?;
    let status = resp.status();
    let body = http_body_util::Limited::new(resp.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|_| Failure::Unreachable)?
        .to_bytes();
    if !status.is_success() {
        return Err(Failure::Status(status.as_u16()));
    }
    serde_json::from_slice(&body).map_err(|_| Failure::BadAnswer)
}

fn base(value: Option<&String>, field: &'static str) -> Result<String, Failure> {
    let raw = value.ok_or(Failure::Config(field))?;
    Ok(resolve(raw)?.trim_end_matches('/').to_string())
}

const GENERIC_PATH: &str = "/beta/litellm_basic_guardrail_api";

async fn generic_decide(
    client: &HttpClient,
    external: &External,
    texts: &[String],
    side: Side,
    tool: &str,
) -> Result<Decision, Failure> {
    let base = base(external.api_base.as_ref(), "api_base")?;
    let url = if base.ends_with(GENERIC_PATH) {
        base
    } else {
        format!("{base}{GENERIC_PATH}")
    };
    let key = external.api_key.as_deref().map(resolve).transpose()?;
    let input_type = match side {
        Side::Request => "request",
        Side::Response => "response",
    };
    let body = json!({
        "texts": texts,
        "input_type": input_type,
        "request_data": {"mcp_tool_name": tool},
    });
    let answer = post_json(client, &url, key.as_deref(), &body).await?;
    match answer.get("action").and_then(Value::as_str) {
        Some("NONE") => Ok(Decision::Pass),
        Some("BLOCKED") => Ok(Decision::Block {
            entity: None,
            reason: answer
                .get("blocked_reason")
                .and_then(Value::as_str)
                .unwrap_or("blocked by the guardrail service")
                .to_string(),
        }),
        Some("GUARDRAIL_INTERVENED") => {
            let Some(new) = answer.get("texts").and_then(Value::as_array) else {
                return Ok(Decision::Pass);
            };
            let new: Option<Vec<String>> =
                new.iter().map(|t| t.as_str().map(str::to_string)).collect();
            match new {
                Some(new) if new.len() == texts.len() => Ok(Decision::Modified {
                    texts: new,
                    entities: vec!["GUARDRAIL_INTERVENED".to_string()],
                }),
                _ => Err(Failure::BadAnswer),
            }
        }
        _ => Err(Failure::BadAnswer),
    }
}

/// One Presidio analyzer result.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
struct Found {
    entity_type: String,
    start: usize,
    end: usize,
    #[serde(default)]
    score: f64,
}

fn presidio_action(spec: &GuardrailSpec, entity: &str) -> Option<Action> {
    match &spec.entities {
        // Without pii_entities_config: everything Presidio finds is masked.
        None => Some(Action::Mask),
        Some(list) => list.iter().find(|(n, _)| n == entity).map(|(_, a)| *a),
    }
}

async fn presidio_decide(
    client: &HttpClient,
    spec: &GuardrailSpec,
    external: &External,
    texts: &[String],
) -> Result<Decision, Failure> {
    let analyzer = base(external.api_base.as_ref(), "presidio_analyzer_api_base")?;
    let anonymizer = external
        .anonymizer_api_base
        .as_ref()
        .map(|b| base(Some(b), "presidio_anonymizer_api_base"))
        .transpose()?;
    let language = external.language.as_deref().unwrap_or("en");
    let wanted: Option<Vec<&str>> = spec
        .entities
        .as_ref()
        .map(|l| l.iter().map(|(n, _)| n.as_str()).collect());
    let mut out = Vec::with_capacity(texts.len());
    let mut masked_entities = Vec::new();
    for text in texts {
        let mut body = json!({"text": text, "language": language});
        if let Some(w) = &wanted {
            body["entities"] = json!(w);
        }
        let answer = post_json(client, &format!("{analyzer}/analyze"), None, &body).await?;
        let found: Vec<Found> = serde_json::from_value(answer).map_err(|_| Failure::BadAnswer)?;
        let mut to_mask = Vec::new();
        for f in found {
            match presidio_action(spec, &f.entity_type) {
                Some(Action::Block) => {
                    return Ok(Decision::Block {
                        reason: f.entity_type.clone(),
                        entity: Some(f.entity_type),
                    })
                }
                Some(Action::Mask) => to_mask.push(f),
                None => {}
            }
        }
        if to_mask.is_empty() {
            out.push(text.clone());
            continue;
        }
        masked_entities.extend(to_mask.iter().map(|f| f.entity_type.clone()));
        let masked = match &anonymizer {
            Some(anon) => {
                let body = json!({"text": text, "analyzer_results": to_mask});
                let answer = post_json(client, &format!("{anon}/anonymize"), None, &body).await?;
                answer
                    .get("text")
                    .and_then(Value::as_str)
                    .ok_or(Failure::BadAnswer)?
                    .to_string()
            }
            None => mask_spans(text, &to_mask),
        };
        out.push(masked);
    }
    if masked_entities.is_empty() {
        Ok(Decision::Pass)
    } else {
        Ok(Decision::Modified {
            texts: out,
            entities: masked_entities,
        })
    }
}

/// Replaces each span (Presidio counts characters, not bytes) with `<ENTITY_TYPE>`;
/// overlapping spans keep the first.
fn mask_spans(text: &str, found: &[Found]) -> String {
    let mut spans: Vec<&Found> = found.iter().collect();
    spans.sort_by_key(|f| f.start);
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for f in spans {
        if f.start < at || f.end > chars.len() || f.start > f.end {
            continue;
        }
        out.extend(&chars[at..f.start]);
        out.push('<');
        out.push_str(&f.entity_type);
        out.push('>');
        at = f.end;
    }
    out.extend(&chars[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(entity: &str, start: usize, end: usize) -> Found {
        Found {
            entity_type: entity.into(),
            start,
            end,
            score: 1.0,
        }
    }

    #[test]
    fn spans_are_characters_and_overlaps_keep_the_first() {
        let text = "é mail a@b.co and 4111";
        let masked = mask_spans(
            text,
            &[
                found("EMAIL_ADDRESS", 7, 13),
                found("X", 8, 9),
                found("N", 18, 22),
            ],
        );
        assert_eq!(masked, "é mail <EMAIL_ADDRESS> and <N>");
    }

    #[test]
    fn failure_texts_never_carry_a_url() {
        for f in [
            Failure::Timeout(5),
            Failure::Unreachable,
            Failure::Status(500),
            Failure::BadAnswer,
            Failure::Config("api_base"),
        ] {
            assert!(!f.to_string().contains("http"), "{f}");
        }
    }

    #[test]
    fn environment_references_resolve_in_the_sidecar() {
        assert_eq!(resolve("plain").unwrap(), "plain");
        assert_eq!(
            resolve("os.environ/MESHGATE_TEST_SURELY_UNSET_VAR"),
            Err(Failure::Config("environment variable"))
        );
    }
}
