//! Demo MCP server over streamable HTTP at `/mcp`, with real sessions: `initialize`
//! mints one, unknown ids get 404 (so the gateway's re-initialization can be tested).
//! `POST /__forget_sessions` drops them all; `GET /__requests` returns the headers of
//! the last requests (to prove what the gateway sent). `--sse` answers in SSE framing.
//! `--modern` makes it a stateless MCP 2026-07-28 server (see `meshgate_demo::modern`).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use meshgate_demo::{modern, parse_common, reply, spawn_lifetime_guards, Demo, Effect};
use serde_json::Value;
use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

struct Server {
    demo: Demo,
    sse: bool,
    /// Stateless MCP 2026-07-28 only.
    modern: bool,
    sessions: Mutex<HashSet<String>>,
    next: AtomicU64,
    recent: Mutex<VecDeque<Value>>,
}

type Resp = Response<Full<Bytes>>;

fn respond(status: StatusCode, content_type: &str, body: Vec<u8>) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert("content-type", v);
    }
    r
}

impl Server {
    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Result<Resp, Infallible> {
        let path = req.uri().path().to_string();
        let method = req.method().clone();
        let session = req
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let headers: serde_json::Map<String, Value> = req
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    Value::String(v.to_str().unwrap_or("").to_string()),
                )
            })
            .collect();
        let record = |rpc: Option<&Value>| {
            let rpc_method = rpc
                .and_then(|m| m.get("method"))
                .cloned()
                .unwrap_or(Value::Null);
            let tool = rpc
                .and_then(|m| m.pointer("/params/name"))
                .cloned()
                .unwrap_or(Value::Null);
            if let Ok(mut recent) = self.recent.lock() {
                recent.push_back(serde_json::json!({"method": method.as_str(), "path": path, "headers": headers, "rpc_method": rpc_method, "tool": tool}));
                while recent.len() > 200 {
                    recent.pop_front();
                }
            }
        };
        match (method.as_str(), path.as_str()) {
            ("POST", "/mcp") => {}
            (_, "/__forget_sessions" | "/__requests") => {}
            _ => record(None),
        }
        match (method.as_str(), path.as_str()) {
            ("POST", "/__forget_sessions") => {
                if let Ok(mut s) = self.sessions.lock() {
                    s.clear();
                }
                return Ok(respond(StatusCode::OK, "application/json", b"{}".to_vec()));
            }
            ("GET", "/__requests") => {
                let list: Vec<Value> = self
                    .recent
                    .lock()
                    .map(|r| r.iter().cloned().collect())
                    .unwrap_or_default();
                return Ok(respond(
                    StatusCode::OK,
                    "application/json",
                    serde_json::to_vec(&list).unwrap_or_default(),
                ));
            }
            ("DELETE", "/mcp") => {
                let removed = session.as_ref().is_some_and(|s| {
                    self.sessions
                        .lock()
                        .map(|mut set| set.remove(s))
                        .unwrap_or(false)
                });
                return Ok(respond(
                    if removed {
                        StatusCode::OK
                    } else {
                        StatusCode::NOT_FOUND
                    },
                    "application/json",
                    b"{}".to_vec(),
                ));
            }
            ("GET", "/mcp") => {
                return Ok(respond(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "application/json",
                    b"{}".to_vec(),
                ))
            }
            ("POST", "/mcp") => {}
            _ => {
                return Ok(respond(
                    StatusCode::NOT_FOUND,
                    "application/json",
                    b"{}".to_vec(),
                ))
            }
        }
        let body = match req.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return Ok(respond(
                    StatusCode::BAD_REQUEST,
                    "application/json",
                    b"{}".to_vec(),
                ))
            }
        };
        let parsed = serde_json::from_slice::<Value>(&body).ok();
        record(parsed.as_ref());
        let Some(msg) = parsed else {
            let err =
                br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"#;
            return Ok(respond(
                StatusCode::BAD_REQUEST,
                "application/json",
                err.to_vec(),
            ));
        };
        let rpc_method = msg
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if self.modern {
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            let answer = modern::handle(&self.demo, &header, &msg);
            if let Effect::Delay(d) = answer.effect {
                tokio::time::sleep(d).await;
            }
            let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
            let Some(body) = answer.body else {
                return Ok(respond(status, "application/json", Vec::new()));
            };
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            return Ok(if self.sse && status == StatusCode::OK {
                let mut framed = b"event: message\ndata: ".to_vec();
                framed.extend_from_slice(&bytes);
                framed.extend_from_slice(b"\n\n");
                respond(status, "text/event-stream", framed)
            } else {
                respond(status, "application/json", bytes)
            });
        }
        let is_init = rpc_method == "initialize";
        if !is_init {
            match &session {
                None => {
                    return Ok(respond(
                        StatusCode::BAD_REQUEST,
                        "application/json",
                        br#"{"error":"missing session"}"#.to_vec(),
                    ))
                }
                Some(s)
                    if !self
                        .sessions
                        .lock()
                        .map(|set| set.contains(s))
                        .unwrap_or(false) =>
                {
                    return Ok(respond(
                        StatusCode::NOT_FOUND,
                        "application/json",
                        br#"{"error":"unknown session"}"#.to_vec(),
                    ))
                }
                Some(_) => {}
            }
        }
        let Some(id) = msg.get("id").cloned() else {
            return Ok(respond(
                StatusCode::ACCEPTED,
                "application/json",
                Vec::new(),
            ));
        };
        let params = msg.get("params").cloned().unwrap_or(Value::Null);
        let (outcome, effect) = self.demo.handle(&rpc_method, &params);
        if let Effect::Delay(d) = effect {
            tokio::time::sleep(d).await;
        }
        let bytes = reply(&id, outcome);
        let mut resp = if self.sse {
            let mut framed = b"event: message\ndata: ".to_vec();
            framed.extend_from_slice(&bytes);
            framed.extend_from_slice(b"\n\n");
            respond(StatusCode::OK, "text/event-stream", framed)
        } else {
            respond(StatusCode::OK, "application/json", bytes)
        };
        if is_init {
            let sid = format!(
                "demo-{}-{}",
                std::process::id(),
                self.next.fetch_add(1, Ordering::Relaxed)
            );
            if let Ok(mut s) = self.sessions.lock() {
                s.insert(sid.clone());
            }
            if let Ok(v) = sid.parse() {
                resp.headers_mut().insert("mcp-session-id", v);
            }
        }
        Ok(resp)
    }
}

#[tokio::main]
async fn main() {
    let args = parse_common("demo-http");
    spawn_lifetime_guards(&args);
    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {}: {e}", args.listen);
            std::process::exit(2);
        }
    };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    println!("LISTENING {addr}");
    let server = Arc::new(Server {
        demo: Demo::new(&args.name).with_instructions_from(&args.rest),
        sse: args.rest.iter().any(|a| a == "--sse"),
        modern: args.rest.iter().any(|a| a == "--modern"),
        sessions: Mutex::new(HashSet::new()),
        next: AtomicU64::new(1),
        recent: Mutex::new(VecDeque::new()),
    });
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let server = Arc::clone(&server);
        tokio::spawn(async move {
            let svc = service_fn(move |req| Arc::clone(&server).handle(req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}
