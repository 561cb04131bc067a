//! An OpenAI-compatible model that answers at once, in the bench's own process (the
//! only scripted part of bench/llm_loop.rs): the first user message `rounds:N` makes it
//! call `demo-echo` until the conversation holds N tool results, then answer `done`.
//! `POST /v1/chat/completions` (JSON, or chunks with `stream: true`) and
//! `POST /v1/responses` (JSON). Listens on 127.0.0.1 and lives as long as the bench.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::convert::Infallible;

/// Starts the model; its port.
pub async fn start() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the instant model");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(answer))
                    .await;
            });
        }
    });
    port
}

async fn answer(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (content_type, out) = match path.as_str() {
        "/v1/chat/completions" if body["stream"] == true => {
            ("text/event-stream", chat_stream(&body))
        }
        "/v1/chat/completions" => ("application/json", chat(&body).to_string()),
        "/v1/responses" => ("application/json", responses(&body).to_string()),
        _ => (
            "application/json",
            json!({"error": {"message": "no such route"}}).to_string(),
        ),
    };
    Ok(Response::builder()
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(out)))
        .expect("response"))
}

/// The rounds asked for in `rounds:N`.
fn rounds_of(first: Option<&str>) -> usize {
    first
        .and_then(|t| t.strip_prefix("rounds:"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn usage() -> Value {
    json!({"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12})
}

/// The next call's (id, arguments), or None when the answer is due.
fn next_call(asked: usize, done: usize) -> Option<(String, String)> {
    (done < asked).then(|| {
        (
            format!("call_{done}"),
            json!({"text": format!("round {done}")}).to_string(),
        )
    })
}

fn chat_turn(body: &Value) -> Option<(String, String)> {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let asked = rounds_of(messages.first().and_then(|m| m["content"].as_str()));
    let done = messages.iter().filter(|m| m["role"] == "tool").count();
    next_call(asked, done)
}

fn chat(body: &Value) -> Value {
    let message = match chat_turn(body) {
        Some((id, args)) => json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": id, "type": "function", "function": {"name": "demo-echo", "arguments": args}}]}),
        None => json!({"role": "assistant", "content": "done"}),
    };
    let finish = if message["tool_calls"].is_array() {
        "tool_calls"
    } else {
        "stop"
    };
    json!({"id": "chatcmpl-instant", "object": "chat.completion", "created": 0,
        "model": "instant-1", "usage": usage(),
        "choices": [{"index": 0, "message": message, "finish_reason": finish}]})
}

fn chat_stream(body: &Value) -> String {
    let chunk = |delta: Value, finish: Value| {
        let c = json!({"id": "chatcmpl-instant", "object": "chat.completion.chunk", "created": 0,
            "model": "instant-1", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        format!("data: {c}\n\n")
    };
    let mut out = chunk(json!({"role": "assistant", "content": ""}), Value::Null);
    match chat_turn(body) {
        Some((id, args)) => {
            out += &chunk(
                json!({"tool_calls": [{"index": 0, "id": id, "type": "function",
                    "function": {"name": "demo-echo", "arguments": args}}]}),
                Value::Null,
            );
            out += &chunk(json!({}), json!("tool_calls"));
        }
        None => {
            out += &chunk(json!({"content": "done"}), Value::Null);
            out += &chunk(json!({}), json!("stop"));
        }
    }
    out + "data: [DONE]\n\n"
}

fn responses(body: &Value) -> Value {
    let input = body["input"].as_array().cloned().unwrap_or_default();
    let first = input
        .first()
        .and_then(|m| m["content"].as_str())
        .or_else(|| body["input"].as_str());
    let asked = rounds_of(first);
    let done = input
        .iter()
        .filter(|i| i["type"] == "function_call_output")
        .count();
    let output = match next_call(asked, done) {
        Some((id, args)) => json!([{"type": "function_call", "id": format!("fc_{id}"),
            "call_id": id, "name": "demo-echo", "arguments": args, "status": "completed"}]),
        None => json!([{"type": "message", "id": "msg_instant", "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "done", "annotations": []}]}]),
    };
    json!({"id": "resp_instant", "object": "response", "created_at": 0, "status": "completed",
        "model": "instant-1", "output": output,
        "usage": {"input_tokens": 10, "output_tokens": 2, "total_tokens": 12}})
}
