//! `/v1/responses` for OpenAI-compatible models that speak chat completions only
//! (`ResponsesApi::ViaChat`: vLLM, Ollama, LM Studio and most hosted services; LiteLLM's
//! Responses→Chat bridge): the request is read as a chat request
//! (`providers::responses_as_chat`) and sent to `{api_base}/chat/completions`; the
//! answer comes back as a `response` (`answer.rs`), a stream as Responses events
//! translated chunk by chunk (`stream.rs`). The tool loop and the plain routes call
//! these through `providers::call_json` / `providers::open_stream` like any provider.

pub mod answer;
pub mod stream;

use bytes::Bytes;
use http::Response;
use hyper::body::Incoming;
use serde_json::{json, Value};

use super::responses_as_chat::responses_as_chat;
use super::{openai, Provider};
use crate::llm::error::LlmError;
use crate::upstream::HttpClient;

/// How messages name these models.
const TARGET: &str = "a chat-completions model";

/// The chat request for a Responses `body`, for this provider.
fn chat_request(body: &Value, provider: &Provider, stream: bool) -> Result<Value, LlmError> {
    let mut chat = responses_as_chat(body, TARGET)?;
    chat["model"] = json!(provider.model);
    chat["stream"] = json!(stream);
    if stream {
        // The usage of a translated stream comes from its last chunk.
        chat["stream_options"] = json!({"include_usage": true});
    }
    Ok(chat)
}

/// A non-streamed Responses call: the chat answer as a `response`.
pub async fn call_json(
    client: &HttpClient,
    provider: &Provider,
    body: &Value,
) -> Result<Value, LlmError> {
    let chat = chat_request(body, provider, false)?;
    let answer = openai::call_json(client, provider, "/chat/completions", &chat).await?;
    Ok(answer::to_responses(&answer))
}

/// Opens the chat stream for a Responses request; its events are translated by the
/// returned [`stream::ToEvents`].
pub async fn open_stream(
    client: &HttpClient,
    provider: &Provider,
    body: &Value,
) -> Result<(Response<Incoming>, stream::ToEvents), LlmError> {
    let chat = chat_request(body, provider, true)?;
    let bytes = Bytes::from(serde_json::to_vec(&chat).unwrap_or_default());
    let resp = openai::send(client, provider, "/chat/completions", bytes).await?;
    let status = resp.status();
    if !status.is_success() {
        let bytes = openai::read_answer(resp, provider).await?;
        return Err(openai::status_error(status, &bytes));
    }
    Ok((resp, stream::ToEvents::default()))
}
