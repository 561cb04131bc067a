//! `subscriptions/listen` (2026-07-28): one long-lived POST whose event stream carries
//! the notifications the client opted in to — list_changed per kind, and updates of the
//! resources it names — each tagged with the listen request's id. The listener takes
//! the place of a session: it becomes a user of the upstream sessions this client's
//! credentials and capabilities lead to, so the relay hub delivers to it.

use bytes::Bytes;
use futures_util::future::join_all;
use http::{HeaderMap, Response};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;

use super::super::context::Ctx;
use super::super::resources;
use crate::body::{self, Body};
use crate::error::HttpError;
use crate::jsonrpc::Id;
use crate::relay::{ClientCaps, StreamLimits};
use crate::sse::encode_message;
use crate::state::{AppState, Runtime};
use crate::verify::Principal;

const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";
const KEEPALIVE: Duration = Duration::from_secs(15);

/// What the client asked for, as accepted.
#[derive(Default)]
struct Filter {
    tools: bool,
    prompts: bool,
    resources: bool,
    uris: Vec<String>,
}

impl Filter {
    fn requested(params: Option<&Value>) -> Filter {
        let wanted = params.and_then(|p| p.get("notifications"));
        let flag = |k: &str| wanted.and_then(|w| w.get(k)).and_then(Value::as_bool) == Some(true);
        Filter {
            tools: flag("toolsListChanged"),
            prompts: flag("promptsListChanged"),
            resources: flag("resourcesListChanged"),
            uris: wanted
                .and_then(|w| w.get("resourceSubscriptions"))
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    fn to_json(&self) -> Value {
        let mut out = Map::new();
        for (key, on) in [
            ("toolsListChanged", self.tools),
            ("promptsListChanged", self.prompts),
            ("resourcesListChanged", self.resources),
        ] {
            if on {
                out.insert(key.into(), Value::Bool(true));
            }
        }
        if !self.uris.is_empty() {
            out.insert("resourceSubscriptions".into(), json!(self.uris));
        }
        Value::Object(out)
    }

    fn lets_through(&self, method: &str) -> bool {
        match method {
            "notifications/tools/list_changed" => self.tools,
            "notifications/prompts/list_changed" => self.prompts,
            "notifications/resources/list_changed" => self.resources,
            "notifications/resources/updated" => !self.uris.is_empty(),
            _ => false,
        }
    }
}

pub(super) async fn open(
    state: &Arc<AppState>,
    runtime: Arc<Runtime>,
    principal: Principal,
    headers: HeaderMap,
    id: Id,
    params: Option<Value>,
    caps: ClientCaps,
) -> Response<Body> {
    let mut raw = [0u8; 12];
    let _ = getrandom::getrandom(&mut raw);
    let listener = format!("listen-{}", hex::encode(raw));
    let requested = Filter::requested(params.as_ref());
    let scope = principal.scope.clone();
    // Limited like GET streams, for the principal (each listen is its own "session");
    // refused before any upstream is asked anything.
    let hub = Arc::clone(&state.hub);
    let limits = StreamLimits::of(&runtime.config.meshgate);
    let (stream_id, mut messages) = match hub.open_stream(&listener, &principal.name, scope, limits)
    {
        Ok(o) => o,
        Err(e) => return HttpError::from(e).into_response(),
    };
    let ctx = Ctx::new(state, runtime, principal, headers).with_caps(caps);
    let mut call = ctx.call_context();
    call.session = Some(&listener);
    let call = &call;
    let upstreams = ctx.allowed();
    join_all(upstreams.iter().map(|u| u.listen_as(call))).await;

    let mut accepted = Filter {
        uris: Vec::new(),
        ..requested
    };
    for uri in &requested.uris {
        let Ok((upstream, original)) = resources::route(&ctx, uri) else {
            continue;
        };
        hub.subscribe(&upstream.name, &original, &listener, uri);
        let asked = upstream
            .request(
                "resources/subscribe",
                Some(&json!({ "uri": original })),
                ctx.runtime.call_timeout(),
                call,
            )
            .await;
        match asked {
            Ok(_) => accepted.uris.push(uri.clone()),
            Err(e) => {
                tracing::info!(server = %upstream.name, "subscription to a resource refused: {e}");
                hub.unsubscribe(&upstream.name, &original, &listener);
            }
        }
    }

    let (tx, body) = body::channel(16);
    let tag = move |mut message: Value| {
        if let Some(params) = message.get_mut("params").and_then(Value::as_object_mut) {
            let meta = params.entry("_meta").or_insert_with(|| json!({}));
            if let Some(meta) = meta.as_object_mut() {
                meta.insert(SUBSCRIPTION_ID.into(), id.to_value());
            }
        } else if let Some(m) = message.as_object_mut() {
            m.insert(
                "params".into(),
                json!({"_meta": {SUBSCRIPTION_ID: id.to_value()}}),
            );
        }
        Bytes::from(encode_message(
            &serde_json::to_vec(&message).unwrap_or_default(),
        ))
    };
    let ack = json!({"jsonrpc": "2.0", "method": "notifications/subscriptions/acknowledged",
                     "params": {"notifications": accepted.to_json()}});
    let _ = tx.try_send(tag(ack));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(KEEPALIVE);
        tick.tick().await;
        loop {
            let next = tokio::select! {
                m = messages.recv() => match m.as_deref().and_then(message_of) {
                    Some(message) => {
                        let method = message.get("method").and_then(Value::as_str).unwrap_or_default();
                        if !accepted.lets_through(method) {
                            continue;
                        }
                        tag(message)
                    }
                    None if m.is_none() => break,
                    None => continue,
                },
                _ = tick.tick() => Bytes::from_static(b": keepalive\n\n"),
                _ = tx.closed() => break,
            };
            if tx.send(next).await.is_err() {
                break;
            }
        }
        // The client closed the stream: that is how 2026-07-28 ends a subscription.
        hub.close_stream(stream_id);
        hub.end_session(&listener);
    });
    body::sse_response(body)
}

/// The JSON-RPC message inside one encoded event (`event: message\ndata: …\n\n`).
fn message_of(event: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(event).ok()?;
    let data = text.lines().find_map(|l| l.strip_prefix("data:"))?;
    serde_json::from_str(data.trim_start()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_what_was_asked_and_reads_encoded_events() {
        let f = Filter::requested(Some(
            &json!({"notifications": {"toolsListChanged": true, "resourceSubscriptions": ["meshgate://a/x"]}}),
        ));
        assert!(f.lets_through("notifications/tools/list_changed"));
        assert!(!f.lets_through("notifications/prompts/list_changed"));
        assert!(f.lets_through("notifications/resources/updated"));
        assert!(!f.lets_through("notifications/message"));
        assert_eq!(
            f.to_json(),
            json!({"toolsListChanged": true, "resourceSubscriptions": ["meshgate://a/x"]})
        );
        let event = encode_message(br#"{"jsonrpc":"2.0","method":"m"}"#);
        assert_eq!(
            message_of(&event),
            Some(json!({"jsonrpc": "2.0", "method": "m"}))
        );
    }
}
