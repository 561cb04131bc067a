//! `make bench`: the LLM tool loop's own cost (issue 15), in one run against an
//! in-process OpenAI-compatible model that answers at once (`instant_model.rs`) and the
//! demo MCP server.
//!
//! 1. **Overhead per round.** One request whose model calls `demo-echo` for `ROUNDS`
//!    rounds, then answers; through Envoy + meshgate (`require_approval: "never"`: the
//!    gateway runs the loop) against the same conversation driven by the client itself,
//!    directly: `ROUNDS + 1` model calls and `ROUNDS` MCP `tools/call`s on open
//!    keep-alive connections and an open MCP session. The difference over `ROUNDS` is
//!    what the loop adds per round beyond the model's and the tools' own time (target
//!    ≤ 1 ms). Chat Completions and Responses; sequential, one client, alternating.
//! 2. **Time to first streamed byte**: `stream: true` through the gateway, plain and
//!    with the MCP tool, against the model directly.
//!
//! Writes the `bench:llm-loop` section of docs/benchmarks.md.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "instant_model.rs"]
mod instant_model;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use meshgate_e2e::load::{connect, write_into_docs};
use meshgate_e2e::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ROUNDS: usize = 5;
const ITERATIONS: usize = 300;
const TTFB_ITERATIONS: usize = 300;

/// One keep-alive HTTP/1.1 connection and the headers every request on it carries.
struct Conn {
    sender: SendRequest<Full<Bytes>>,
    headers: Vec<(String, String)>,
}

impl Conn {
    async fn open(port: u16, headers: Vec<(String, String)>) -> Conn {
        Conn {
            sender: connect(port).await,
            headers,
        }
    }

    fn request(&self, path: &str, body: &Value) -> hyper::Request<Full<Bytes>> {
        let mut req = hyper::Request::builder()
            .method("POST")
            .uri(path)
            .header("host", "127.0.0.1")
            .header("content-type", "application/json");
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        req.body(Full::new(Bytes::from(body.to_string())))
            .expect("request")
    }

    /// The whole answer; its status must be 2xx.
    async fn post(&mut self, path: &str, body: &Value) -> (hyper::HeaderMap, Bytes) {
        let req = self.request(path, body);
        self.sender.ready().await.expect("connection ready");
        let resp = self.sender.send_request(req).await.expect("send");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        assert!(
            status.is_success(),
            "{path}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
        (headers, bytes)
    }

    /// Time to the first body byte, then the rest read to the end.
    async fn first_byte(&mut self, path: &str, body: &Value) -> Duration {
        let req = self.request(path, body);
        self.sender.ready().await.expect("connection ready");
        let start = Instant::now();
        let resp = self.sender.send_request(req).await.expect("send");
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        let mut body = resp.into_body();
        let mut first = None;
        while let Some(frame) = body.frame().await {
            let frame = frame.expect("frame");
            if first.is_none() && frame.data_ref().is_some_and(|d| !d.is_empty()) {
                first = Some(start.elapsed());
            }
        }
        first.expect("a streamed byte")
    }
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| {
        // A streamable-HTTP server may answer a POST as one SSE event.
        let text = String::from_utf8_lossy(bytes);
        text.lines()
            .find_map(|l| l.strip_prefix("data:"))
            .and_then(|d| serde_json::from_str(d.trim()).ok())
            .unwrap_or_else(|| panic!("{e}: {text}"))
    })
}

/// An open MCP session on the demo server: the baseline's tool calls.
async fn demo_session(addr: &str) -> Conn {
    let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
    let accept = (
        "accept".to_string(),
        "application/json, text/event-stream".to_string(),
    );
    let mut conn = Conn::open(port, vec![accept.clone()]).await;
    let (headers, _) = conn
        .post(
            "/mcp",
            &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "bench", "version": "1"}}}),
        )
        .await;
    let mut with = vec![accept];
    if let Some(id) = headers.get("mcp-session-id") {
        with.push(("mcp-session-id".into(), id.to_str().unwrap().into()));
    }
    with.push(("mcp-protocol-version".into(), "2025-06-18".into()));
    conn.headers = with;
    conn.post(
        "/mcp",
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    conn
}

/// The loop driven by the client itself, on Chat Completions: model, tool, model, …
async fn direct_chat(model: &mut Conn, demo: &mut Conn, tools: &Value) {
    let mut messages = vec![json!({"role": "user", "content": format!("rounds:{ROUNDS}")})];
    for round in 0..=ROUNDS {
        let (_, answer) = model
            .post(
                "/v1/chat/completions",
                &json!({"model": "instant-1", "messages": messages, "tools": tools}),
            )
            .await;
        let answer = json_of(&answer);
        let message = answer["choices"][0]["message"].clone();
        let Some(call) = message["tool_calls"].get(0).cloned() else {
            assert_eq!(round, ROUNDS, "the model answered early: {answer}");
            return;
        };
        let arguments: Value =
            serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
        let (_, result) = demo
            .post(
                "/mcp",
                &json!({"jsonrpc": "2.0", "id": round + 1, "method": "tools/call",
                    "params": {"name": "echo", "arguments": arguments}}),
            )
            .await;
        let result = json_of(&result);
        let text = result["result"]["content"][0]["text"].clone();
        messages.push(message);
        messages.push(json!({"role": "tool", "tool_call_id": call["id"], "content": text}));
    }
    panic!("the model kept calling tools");
}

/// The same on the Responses API.
async fn direct_responses(model: &mut Conn, demo: &mut Conn, tools: &Value) {
    let mut input =
        vec![json!({"type": "message", "role": "user", "content": format!("rounds:{ROUNDS}")})];
    for round in 0..=ROUNDS {
        let (_, answer) = model
            .post(
                "/v1/responses",
                &json!({"model": "instant-1", "input": input, "tools": tools}),
            )
            .await;
        let answer = json_of(&answer);
        let Some(call) = answer["output"]
            .as_array()
            .and_then(|o| o.iter().find(|i| i["type"] == "function_call"))
            .cloned()
        else {
            assert_eq!(round, ROUNDS, "the model answered early: {answer}");
            return;
        };
        let arguments: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
        let (_, result) = demo
            .post(
                "/mcp",
                &json!({"jsonrpc": "2.0", "id": round + 1, "method": "tools/call",
                    "params": {"name": "echo", "arguments": arguments}}),
            )
            .await;
        let result = json_of(&result);
        let text = result["result"]["content"][0]["text"].clone();
        input.push(call.clone());
        input.push(
            json!({"type": "function_call_output", "call_id": call["call_id"], "output": text}),
        );
    }
    panic!("the model kept calling tools");
}

fn mcp_tool() -> Value {
    json!([{"type": "mcp", "server_label": "gw", "server_url": "litellm_proxy",
        "require_approval": "never"}])
}

async fn through_chat(gw: &mut Conn) {
    let (_, answer) = gw
        .post(
            "/v1/chat/completions",
            &json!({"model": "instant", "tools": mcp_tool(),
                "messages": [{"role": "user", "content": format!("rounds:{ROUNDS}")}]}),
        )
        .await;
    let answer = json_of(&answer);
    let calls = &answer["choices"][0]["message"]["provider_specific_fields"]["mcp_tool_calls"];
    assert_eq!(calls.as_array().map(Vec::len), Some(ROUNDS), "{answer}");
}

async fn through_responses(gw: &mut Conn) {
    let (_, answer) = gw
        .post(
            "/v1/responses",
            &json!({"model": "instant", "tools": mcp_tool(), "input": format!("rounds:{ROUNDS}")}),
        )
        .await;
    let answer = json_of(&answer);
    let calls = answer["output"]
        .as_array()
        .map(|o| o.iter().filter(|i| i["type"] == "mcp_call").count());
    assert_eq!(calls, Some(ROUNDS), "{answer}");
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[tokio::main]
async fn main() {
    let model = instant_model::start().await;
    let (_demo_proc, demo) = demo_http("demo", &[]).await;
    let servers = format!("  demo:\n    url: http://{demo}/mcp\n    transport: http\n");
    let mut opts = GatewayOptions::new(servers);
    opts.meshgate_yaml = format!(
        "  max_tool_rounds: {}\nmodel_list:\n  - model_name: instant\n    litellm_params:\n      model: openai/instant-1\n      api_base: http://127.0.0.1:{model}/v1\n",
        ROUNDS + 1
    );
    let gw = Gateway::start_with(opts).await;
    let auth = vec![("authorization".to_string(), format!("Bearer {MASTER_KEY}"))];

    let mut to_model = Conn::open(model, vec![]).await;
    let mut to_demo = demo_session(&demo).await;
    let mut to_gw = Conn::open(gw.port, auth.clone()).await;

    // The function tools the gateway offers, for the direct runs' requests.
    let chat_tools = json!([{"type": "function", "function": {"name": "demo-echo",
        "description": "Returns the text it is given.", "parameters": {"type": "object",
        "properties": {"text": {"type": "string"}}, "required": ["text"]}}}]);
    let responses_tools = json!([{"type": "function", "name": "demo-echo",
        "description": "Returns the text it is given.", "parameters": {"type": "object",
        "properties": {"text": {"type": "string"}}, "required": ["text"]}}]);

    let mut rows = Vec::new();
    for api in ["chat", "responses"] {
        let (mut direct, mut through) = (Vec::new(), Vec::new());
        for i in 0..ITERATIONS + 20 {
            let t = Instant::now();
            if api == "chat" {
                direct_chat(&mut to_model, &mut to_demo, &chat_tools).await;
            } else {
                direct_responses(&mut to_model, &mut to_demo, &responses_tools).await;
            }
            let d = t.elapsed();
            let t = Instant::now();
            if api == "chat" {
                through_chat(&mut to_gw).await;
            } else {
                through_responses(&mut to_gw).await;
            }
            let g = t.elapsed();
            if i >= 20 {
                direct.push(d);
                through.push(g);
            }
        }
        let (d, g) = (median(direct), median(through));
        let per_round = (us(g) - us(d)) / ROUNDS as f64;
        eprintln!(
            "{api}: {ROUNDS} rounds direct {:.0} µs, through the gateway {:.0} µs, loop overhead {per_round:.0} µs/round",
            us(d),
            us(g)
        );
        rows.push(format!(
            "| {} | {:.0} µs | {:.0} µs | **{:.0} µs** |\n",
            if api == "chat" {
                "`/v1/chat/completions`"
            } else {
                "`/v1/responses`"
            },
            us(d),
            us(g),
            per_round
        ));
    }

    let stream_plain = json!({"model": "instant", "stream": true, "messages": [{"role": "user", "content": "rounds:0"}]});
    let stream_tools = json!({"model": "instant", "stream": true, "tools": mcp_tool(),
        "messages": [{"role": "user", "content": "rounds:1"}]});
    let stream_direct = json!({"model": "instant-1", "stream": true,
        "messages": [{"role": "user", "content": "rounds:0"}]});
    let (mut direct, mut plain, mut tools) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..TTFB_ITERATIONS + 20 {
        let d = to_model
            .first_byte("/v1/chat/completions", &stream_direct)
            .await;
        let p = to_gw
            .first_byte("/v1/chat/completions", &stream_plain)
            .await;
        let t = to_gw
            .first_byte("/v1/chat/completions", &stream_tools)
            .await;
        if i >= 20 {
            direct.push(d);
            plain.push(p);
            tools.push(t);
        }
    }
    let (d, p, t) = (median(direct), median(plain), median(tools));
    eprintln!(
        "time to first byte: direct {:.0} µs, gateway plain {:.0} µs, gateway with the MCP tool {:.0} µs",
        us(d),
        us(p),
        us(t)
    );

    let table = format!(
        "Loop overhead per round, {ROUNDS} rounds of `demo-echo`, model answering at once, \
         1 client, median of {ITERATIONS} (`target/release/meshgate-bench-llm-loop`):\n\n\
         | API | client drives the loop directly | one request through Envoy + meshgate | added per round |\n\
         |---|---|---|---|\n{}\n\
         Time to first streamed byte, Chat Completions `stream: true`, median of {TTFB_ITERATIONS}:\n\n\
         | model directly | through the gateway, plain | through the gateway, with the MCP tool |\n\
         |---|---|---|\n| {:.0} µs | {:.0} µs | {:.0} µs |\n",
        rows.concat(),
        us(d),
        us(p),
        us(t)
    );
    write_into_docs("llm-loop", &table);
}
