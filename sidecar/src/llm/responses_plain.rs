//! A `/v1/responses` request without the gateway's MCP tools, for every provider: the
//! provider's answer (native, or translated from Anthropic's Messages or from chat
//! completions), kept under the gateway's id (`stored_responses`) unless the request
//! says `store: false`. A stream is relayed event by event as it comes, with the
//! response's `id` replaced by the gateway's in every event that carries it; the
//! answer is kept before its `response.completed` event leaves, so a client that
//! continues at once finds it. The request's spend row is written as for any plain
//! request (its usage read from the answer or the stream's last event).

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

use super::error::LlmError;
use super::providers::{self, openai, Provider};
use super::spend::{RequestSpend, UsageTap};
use super::stored_responses::Keeper;
use super::stream;
use crate::body::{self, Body};
use crate::state::AppState;
use http::{Response, StatusCode};

/// Answers the request.
pub async fn serve(
    state: &AppState,
    provider: &Provider,
    body: &Map<String, Value>,
    keeper: Option<Keeper>,
    spend: RequestSpend,
) -> Result<Response<Body>, LlmError> {
    let streamed = body.get("stream").and_then(Value::as_bool) == Some(true);
    if keeper.is_none() && provider.keeps_responses() {
        // Nothing to keep or translate: the provider's bytes as they come.
        let bytes = bytes::Bytes::from(serde_json::to_vec(body).unwrap_or_default());
        let (resp, spend) = spend
            .opened(openai::send(&state.client, provider, "/responses", bytes).await)
            .await?;
        let tap = UsageTap::new(spend, streamed);
        return openai::relay_plain(resp, provider, streamed, tap).await;
    }
    let body = Value::Object(body.clone());
    if !streamed {
        let answer = providers::call_json(&state.client, provider, "/responses", &body).await;
        let status = if answer.is_ok() {
            "ok"
        } else {
            "upstream_error"
        };
        spend
            .record(answer.as_ref().ok().and_then(|a| a.get("usage")), status)
            .await;
        let mut answer = answer?;
        if let Some(k) = &keeper {
            k.keep(&mut answer).await;
        }
        return Ok(body::json(StatusCode::OK, answer.to_string()));
    }
    let opened = stream::sse::open(&state.client, provider, "/responses", &body, false).await;
    let (mut events, spend) = spend.opened(opened).await?;
    let mut tap = UsageTap::new(spend, true);
    Ok(stream::spawn(move |out| async move {
        let mut ok = true;
        // The items seen done, for a `response.completed` without `output`.
        let mut finished: BTreeMap<u64, Value> = BTreeMap::new();
        loop {
            let data = match events.next().await {
                Ok(Some(data)) => data,
                Ok(None) => break,
                Err(e) => {
                    ok = false;
                    let v = json!({"type": "error", "code": e.kind, "message": e.message,
                                   "param": null});
                    let _ = out.event("error", &v).await;
                    break;
                }
            };
            let Ok(mut ev) = serde_json::from_str::<Value>(&data) else {
                // `[DONE]` or a line that is no event: as it came.
                if out.raw(format!("data: {data}\n\n")).await.is_err() {
                    break;
                }
                continue;
            };
            let kind = ev
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if kind == "response.output_item.done" {
                if let Some(i) = ev.get("output_index").and_then(Value::as_u64) {
                    finished.insert(i, ev["item"].clone());
                }
            }
            if let Some(k) = &keeper {
                if let Some(r) = ev.get_mut("response").filter(|r| r.is_object()) {
                    r["id"] = json!(k.id);
                    if matches!(kind.as_str(), "response.completed" | "response.incomplete") {
                        if !r.get("output").is_some_and(Value::is_array) {
                            r["output"] = finished.values().cloned().collect();
                        }
                        k.keep(r).await;
                    }
                }
            }
            let framed = if kind.is_empty() {
                format!("data: {ev}\n\n")
            } else {
                format!("event: {kind}\ndata: {ev}\n\n")
            };
            tap.feed(framed.as_bytes());
            if out.raw(framed).await.is_err() {
                break;
            }
        }
        tap.finish(ok).await;
    }))
}
