//! Anthropic's Messages API as a provider: `POST {api_base}/v1/messages` with
//! `x-api-key` and `anthropic-version: 2023-06-01`. The loop and the routes speak
//! OpenAI's shapes; the translation happens here, at the provider boundary:
//!
//! - `request.rs`: a Chat Completions request → a Messages request (a Responses request
//!   is first read as one: `providers::responses_as_chat`);
//! - `response.rs`: a Messages answer → `chat.completion` / `response`; errors;
//! - `stream.rs`: Messages stream events → `chat.completion.chunk`s as they come;
//! - `stream_responses.rs`: Messages stream events → Responses events as they come.

pub mod request;
pub mod response;
pub mod stream;
pub mod stream_responses;

use bytes::Bytes;
use http::{header::HeaderName, Response};
use hyper::body::Incoming;
use serde_json::Value;

use super::responses_as_chat::responses_as_chat;
use super::{openai, Provider, Translator};
use crate::llm::error::LlmError;
use crate::upstream::HttpClient;

/// How messages name these models.
const TARGET: &str = "an Anthropic model";

/// The API version meshgate speaks.
pub const VERSION: &str = "2023-06-01";

/// `{api_base}/v1/messages` (an `api_base` that already ends in `/v1` or
/// `/v1/messages` is taken as it is, as LiteLLM does).
pub fn messages_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with("/v1/messages") {
        base.to_string()
    } else if base.ends_with("/v1") {
        format!("{base}/messages")
    } else {
        format!("{base}/v1/messages")
    }
}

/// Sends a Messages request; the answer's head.
pub async fn send(
    client: &HttpClient,
    provider: &Provider,
    body: &Value,
) -> Result<Response<Incoming>, LlmError> {
    let key = provider.api_key()?;
    let base = provider
        .api_base
        .as_deref()
        .unwrap_or("https://api.anthropic.com");
    let mut headers = vec![(
        HeaderName::from_static("anthropic-version"),
        VERSION.to_string(),
    )];
    if let Some(key) = key {
        headers.push((HeaderName::from_static("x-api-key"), key.to_string()));
    }
    let bytes = Bytes::from(serde_json::to_vec(body).unwrap_or_default());
    openai::post(client, provider, &messages_url(base), headers, bytes).await
}

/// The provider's error status and body as an OpenAI-shaped error (the key redacted).
pub async fn read_error(resp: Response<Incoming>, provider: &Provider) -> LlmError {
    let status = resp.status();
    match openai::read_answer(resp, provider).await {
        Ok(bytes) => response::status_error(status, &bytes, provider.api_key().ok().flatten()),
        Err(e) => e,
    }
}

/// Opens a Messages stream for an OpenAI `path` request (`body` as the client's, with
/// `stream: true`); `include_usage`: Chat chunks end with a usage chunk.
pub async fn open_stream(
    client: &HttpClient,
    provider: &Provider,
    path: &str,
    body: &Value,
    include_usage: bool,
) -> Result<(Response<Incoming>, Translator), LlmError> {
    let (chat, translator) = if path == "/responses" {
        let t = Translator::Events(stream_responses::ToEvents::default());
        (responses_as_chat(body, TARGET)?, t)
    } else {
        let asked = body.pointer("/stream_options/include_usage") == Some(&Value::Bool(true));
        let t = Translator::Chunks(stream::ToChunks::new(asked || include_usage));
        (body.clone(), t)
    };
    let mut messages = request::messages_request(&chat, &provider.model)?;
    messages["stream"] = Value::Bool(true);
    let resp = send(client, provider, &messages).await?;
    if !resp.status().is_success() {
        return Err(read_error(resp, provider).await);
    }
    Ok((resp, translator))
}

/// A non-streamed call of an OpenAI `path` (`/chat/completions` or `/responses`):
/// translated to Messages and the answer back to the path's shape.
pub async fn call_json(
    client: &HttpClient,
    provider: &Provider,
    path: &str,
    body: &Value,
) -> Result<Value, LlmError> {
    let responses = path == "/responses";
    let chat = if responses {
        responses_as_chat(body, TARGET)?
    } else {
        body.clone()
    };
    let mut messages = request::messages_request(&chat, &provider.model)?;
    messages["stream"] = Value::Bool(false);
    let resp = send(client, provider, &messages).await?;
    if !resp.status().is_success() {
        return Err(read_error(resp, provider).await);
    }
    let bytes = openai::read_answer(resp, provider).await?;
    let answer = match serde_json::from_slice::<Value>(&bytes) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return Err(LlmError::provider(format!(
                "model `{}`: the provider's answer is not a JSON object",
                provider.model_name
            )))
        }
    };
    Ok(if responses {
        response::to_responses(&answer)
    } else {
        response::to_chat(&answer)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_messages_url_is_built_from_any_usual_api_base() {
        for base in [
            "https://api.anthropic.com",
            "https://api.anthropic.com/",
            "https://api.anthropic.com/v1",
            "https://api.anthropic.com/v1/messages",
        ] {
            assert_eq!(messages_url(base), "https://api.anthropic.com/v1/messages");
        }
    }
}
