//! OpenAI's HTTP API as a provider: `POST {api_base}/chat/completions` and
//! `/responses` with the provider's key as a bearer token. The client's headers never
//! reach the provider (the gateway key was removed by the filter; `x-mcp-*` credentials
//! belong to MCP servers).

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::Value;
use std::time::Duration;

use super::Provider;
use crate::body::{self, Body};
use crate::llm::error::LlmError;
use crate::upstream::HttpClient;

/// Largest non-streamed provider answer the loop reads.
const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;

/// Sends `body` (JSON) to `{api_base}{path}`; the answer's head within the provider's
/// timeout.
pub async fn send(
    client: &HttpClient,
    provider: &Provider,
    path: &str,
    body: Bytes,
) -> Result<Response<Incoming>, LlmError> {
    provider.check_served()?;
    let key = provider.api_key()?;
    let base = provider.api_base.as_deref().ok_or_else(|| {
        LlmError::invalid(format!("model `{}` has no api_base", provider.model_name))
    })?;
    let auth = key.map(|k| (header::AUTHORIZATION, format!("Bearer {k}")));
    post(
        client,
        provider,
        &format!("{base}{path}"),
        auth.into_iter().collect(),
        body,
    )
    .await
}

/// POSTs `body` (JSON) to `url` with `headers` (the provider's credentials); the
/// answer's head within the provider's timeout. Errors never carry the URL or a header.
pub async fn post(
    client: &HttpClient,
    provider: &Provider,
    url: &str,
    headers: Vec<(header::HeaderName, String)>,
    body: Bytes,
) -> Result<Response<Incoming>, LlmError> {
    let uri: http::Uri = url.parse().map_err(|_| {
        LlmError::invalid(format!(
            "{}.litellm_params.api_base does not make a valid URL",
            provider.path
        ))
    })?;
    let mut req = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, "application/json, text/event-stream");
    for (name, value) in headers {
        let value = HeaderValue::from_str(&value).map_err(|_| {
            LlmError::invalid(format!(
                "{}.litellm_params.api_key is not a valid header value",
                provider.path
            ))
        })?;
        req = req.header(name, value);
    }
    let req = req
        .body(Full::new(body))
        .map_err(|e| LlmError::provider(format!("cannot build the provider request: {e}")))?;
    match tokio::time::timeout(provider.timeout, client.request(req)).await {
        Err(_) => Err(LlmError::timeout(format!(
            "model `{}`: the provider did not answer within {} ms",
            provider.model_name,
            provider.timeout.as_millis()
        ))),
        Ok(Err(e)) => Err(LlmError::provider(format!(
            "model `{}`: the provider could not be reached ({})",
            provider.model_name,
            reason(&e)
        ))),
        Ok(Ok(resp)) => Ok(resp),
    }
}

/// A non-streamed call: the provider's JSON answer, or its error as LiteLLM words it
/// (`OpenAIException - <message>`, with the provider's status).
pub async fn call_json(
    client: &HttpClient,
    provider: &Provider,
    path: &str,
    body: &Value,
) -> Result<Value, LlmError> {
    let bytes = Bytes::from(serde_json::to_vec(body).unwrap_or_default());
    let resp = send(client, provider, path, bytes).await?;
    let status = resp.status();
    let bytes = read_answer(resp, provider).await?;
    if !status.is_success() {
        return Err(status_error(status, &bytes));
    }
    let parsed: Result<Value, _> = serde_json::from_slice(&bytes);
    match parsed {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(LlmError::provider(format!(
            "model `{}`: the provider's answer is not a JSON object",
            provider.model_name
        ))),
    }
}

/// A whole (non-streamed) answer's body, within the provider's timeout.
pub async fn read_answer(resp: Response<Incoming>, provider: &Provider) -> Result<Bytes, LlmError> {
    let read = read_limited(resp.into_body(), MAX_ANSWER_BYTES);
    match tokio::time::timeout(provider.timeout, read).await {
        Err(_) => Err(LlmError::timeout(format!(
            "model `{}`: the provider's answer did not complete within {} ms",
            provider.model_name,
            provider.timeout.as_millis()
        ))),
        Ok(r) => r,
    }
}

/// A provider's error answer as LiteLLM words it (`OpenAIException - <message>`, with
/// the provider's status).
pub fn status_error(status: StatusCode, bytes: &[u8]) -> LlmError {
    let message = serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(bytes).chars().take(500).collect());
    let mut e = LlmError::new(
        StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY),
        "api_error",
        format!("OpenAIException - {message}"),
    );
    if status == StatusCode::BAD_REQUEST {
        e.kind = "invalid_request_error";
    }
    e
}

async fn read_limited(mut body: Incoming, limit: usize) -> Result<Bytes, LlmError> {
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame
            .map_err(|e| LlmError::provider(format!("the provider's answer broke off ({e})")))?;
        if let Some(data) = frame.data_ref() {
            if buf.len() + data.len() > limit {
                return Err(LlmError::provider(format!(
                    "the provider's answer exceeds {limit} bytes"
                )));
            }
            buf.extend_from_slice(data);
        }
    }
    Ok(Bytes::from(buf))
}

/// A plain request's answer to the client: streams (`stream: true`, or an event stream
/// answer) relayed as they come ([`relay`]); a whole JSON answer read first, so that a
/// provider answering success with something that is not a JSON object is a clear 502
/// naming the model, not bytes the client's SDK cannot parse.
pub async fn relay_plain(
    resp: Response<Incoming>,
    provider: &Provider,
    streamed: bool,
    tap: crate::llm::spend::UsageTap,
) -> Result<Response<Body>, LlmError> {
    let is_stream = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if streamed || is_stream {
        return Ok(relay(resp, provider.timeout, Some(tap)));
    }
    let status = resp.status();
    let mut tap = tap;
    let bytes = match read_answer(resp, provider).await {
        Ok(b) => b,
        Err(e) => {
            tap.finish(false).await;
            return Err(e);
        }
    };
    if status.is_success()
        && !matches!(
            serde_json::from_slice::<Value>(&bytes),
            Ok(Value::Object(_))
        )
    {
        tap.finish(false).await;
        return Err(LlmError::provider(format!(
            "model `{}`: the provider's answer is not a JSON object",
            provider.model_name
        )));
    }
    tap.feed(&bytes);
    tap.finish(status.is_success()).await;
    Ok(crate::body::json(status, bytes))
}

/// Relays the provider's answer as it comes, chunk by chunk (an event stream is never
/// held): its status and content type, then each body frame; a chunk that does not
/// arrive within `idle` ends the stream.
pub fn relay(
    resp: Response<Incoming>,
    idle: Duration,
    tap: Option<crate::llm::spend::UsageTap>,
) -> Response<Body> {
    let status = resp.status();
    let mut tap = tap;
    let mut ended_well = status.is_success();
    let content_type = resp.headers().get(header::CONTENT_TYPE).cloned();
    let is_stream = content_type
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let (tx, out) = body::channel(16);
    let mut incoming = resp.into_body();
    tokio::spawn(async move {
        loop {
            let frame = match tokio::time::timeout(idle, incoming.frame()).await {
                Ok(Some(Ok(frame))) => frame,
                Ok(Some(Err(e))) => {
                    tracing::warn!("LLM provider stream broke off: {e}");
                    ended_well = false;
                    break;
                }
                Ok(None) => break,
                Err(_) => {
                    tracing::warn!(
                        "LLM provider stream idle for {} ms; ended",
                        idle.as_millis()
                    );
                    ended_well = false;
                    break;
                }
            };
            if let Ok(data) = frame.into_data() {
                if let Some(tap) = tap.as_mut() {
                    tap.feed(&data);
                }
                if !data.is_empty() && tx.send(data).await.is_err() {
                    // The client went away: dropping `incoming` closes the provider's.
                    break;
                }
            }
        }
        drop(incoming);
        if let Some(tap) = tap {
            tap.finish(ended_well).await;
        }
    });
    let mut out = if is_stream {
        body::sse_response(out)
    } else {
        let mut r = Response::new(out);
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            content_type.unwrap_or_else(|| HeaderValue::from_static("application/json")),
        );
        r
    };
    *out.status_mut() = status;
    out
}

/// The innermost cause of a failed request, without anything that looks like a URL.
fn reason(e: &hyper_util::client::legacy::Error) -> String {
    use std::error::Error;
    let mut last = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    meshgate_policy::scrub::scrub_urls(&last)
}
