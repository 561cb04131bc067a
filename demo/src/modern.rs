//! The demo server as a stateless MCP 2026-07-28 server (`meshgate-demo-http --modern`):
//! `initialize` is refused (400, -32022 listing the one supported version),
//! `server/discover` answers, every POST must carry `MCP-Protocol-Version: 2026-07-28`,
//! `Mcp-Method` (and `Mcp-Name` where the method has one) equal to the body, and the
//! protocol version in `params._meta`. Results carry `resultType`. The extra tool `ask`
//! needs client input (MRTR): it answers `input_required` with a sampling request, and
//! the retry carrying `inputResponses.q` gets the sampled text.

use serde_json::{json, Value};

use crate::{Demo, Effect};

pub const VERSION: &str = "2026-07-28";
const UNSUPPORTED_VERSION: i64 = -32022;
const HEADER_MISMATCH: i64 = -32020;
const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
/// Methods 2026-07-28 no longer has.
const REMOVED: &[&str] = &[
    "initialize",
    "ping",
    "logging/setLevel",
    "resources/subscribe",
    "resources/unsubscribe",
];

/// What to send back: HTTP status, JSON body (None: 202 without body), and an effect.
pub struct Answer {
    pub status: u16,
    pub body: Option<Value>,
    pub effect: Effect,
}

fn error(status: u16, id: &Value, code: i64, message: String, data: Option<Value>) -> Answer {
    let mut err = json!({"code": code, "message": message});
    if let Some(d) = data {
        err["data"] = d;
    }
    Answer {
        status,
        body: Some(json!({"jsonrpc": "2.0", "id": id, "error": err})),
        effect: Effect::None,
    }
}

/// Handles one POSTed message; `header` reads a request header (lowercase name).
pub fn handle(demo: &Demo, header: &dyn Fn(&str) -> Option<String>, msg: &Value) -> Answer {
    let id = msg.get("id").cloned().unwrap_or(Value::Null);
    let method = msg.get("method").and_then(Value::as_str).unwrap_or("");
    let params = msg.get("params").cloned().unwrap_or(json!({}));
    if method == "initialize" {
        let data = json!({"supported": [VERSION], "requested": params.get("protocolVersion")});
        let text = "this server speaks only MCP 2026-07-28".to_string();
        return error(400, &id, UNSUPPORTED_VERSION, text, Some(data));
    }
    if msg.get("id").is_none() {
        return Answer {
            status: 202,
            body: None,
            effect: Effect::None,
        };
    }
    if header("mcp-protocol-version").as_deref() != Some(VERSION) {
        let data = json!({"supported": [VERSION], "requested": header("mcp-protocol-version")});
        let text = "MCP-Protocol-Version must be 2026-07-28".to_string();
        return error(400, &id, UNSUPPORTED_VERSION, text, Some(data));
    }
    if let Err(why) = check_headers(header, method, &params) {
        return error(400, &id, HEADER_MISMATCH, why, None);
    }
    if REMOVED.contains(&method) {
        return error(
            404,
            &id,
            -32601,
            format!("Method not found: {method}"),
            None,
        );
    }
    let outcome = match method {
        "server/discover" => Ok(json!({
            "supportedVersions": [VERSION],
            "capabilities": {"tools": {"listChanged": false}},
            "serverInfo": {"name": demo.name, "version": "1.0.0"},
            "ttlMs": 0,
            "cacheScope": "public",
        })),
        "tools/list" => {
            let mut tools = demo.tools();
            if let Some(list) = tools["tools"].as_array_mut() {
                list.push(json!({"name": "ask", "description": "Asks the client's model (sampling, through MRTR) and returns its answer.",
                    "inputSchema": {"type": "object", "properties": {"question": {"type": "string"}}, "required": ["question"]}}));
            }
            tools["ttlMs"] = json!(0);
            tools["cacheScope"] = json!("public");
            Ok(tools)
        }
        "tools/call" if params.get("name").and_then(Value::as_str) == Some("ask") => {
            Ok(ask(&params))
        }
        _ => {
            let (outcome, effect) = demo.handle(method, &params);
            return match outcome {
                Ok(result) => complete(id, result, effect),
                Err((code, message)) => {
                    let status = if code == -32601 { 404 } else { 200 };
                    error(status, &id, code, message, None)
                }
            };
        }
    };
    match outcome {
        Ok(result) => complete(id, result, Effect::None),
        Err((code, message)) => error(200, &id, code, message, None),
    }
}

fn complete(id: Value, mut result: Value, effect: Effect) -> Answer {
    if let Some(obj) = result.as_object_mut() {
        obj.entry("resultType").or_insert(json!("complete"));
        obj.insert(
            "_meta".into(),
            json!({"io.modelcontextprotocol/serverInfo": {"name": "demo-modern", "version": "1.0.0"}}),
        );
    }
    Answer {
        status: 200,
        body: Some(json!({"jsonrpc": "2.0", "id": id, "result": result})),
        effect,
    }
}

/// `ask`: first asks for a sampling answer, then returns it.
fn ask(params: &Value) -> Value {
    let question = params
        .pointer("/arguments/question")
        .and_then(Value::as_str)
        .unwrap_or("?");
    let state = format!("ask:{question}");
    let answered = params
        .pointer("/inputResponses/q/content/text")
        .and_then(Value::as_str);
    match answered {
        Some(text) if params.get("requestState").and_then(Value::as_str) == Some(&state) => {
            json!({"content": [{"type": "text", "text": format!("the model said: {text}")}]})
        }
        _ => json!({
            "resultType": "input_required",
            "inputRequests": {"q": {"method": "sampling/createMessage", "params": {
                "messages": [{"role": "user", "content": {"type": "text", "text": question}}],
                "maxTokens": 50,
            }}},
            "requestState": state,
        }),
    }
}

/// `Mcp-Method` = the method, `Mcp-Name` = `params.name` / `params.uri` where the
/// method has one, `_meta` protocol version = the header's.
fn check_headers(
    header: &dyn Fn(&str) -> Option<String>,
    method: &str,
    params: &Value,
) -> Result<(), String> {
    if header("mcp-method").map(|v| decode(&v)) != Some(Some(method.to_string())) {
        return Err(format!("Mcp-Method does not match the body's `{method}`"));
    }
    let field = match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    };
    if let Some(field) = field {
        let body = params
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_string);
        if header("mcp-name").map(|v| decode(&v)) != Some(body) {
            return Err(format!("Mcp-Name does not match params.{field}"));
        }
    }
    if params.pointer(&format!("/_meta/{}", META_VERSION.replace('/', "~1")))
        != Some(&json!(VERSION))
    {
        return Err(format!("params._meta lacks {META_VERSION} = {VERSION}"));
    }
    Ok(())
}

/// A header value, `=?base64?…?=` decoded; None when that form is malformed.
fn decode(raw: &str) -> Option<String> {
    let Some(payload) = raw
        .strip_prefix("=?base64?")
        .and_then(|r| r.strip_suffix("?="))
    else {
        return Some(raw.to_string());
    };
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for b in payload.trim_end_matches('=').bytes() {
        let v = ALPHABET.iter().position(|&a| a == b)? as u32;
        bits = (bits << 6) | v;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    String::from_utf8(out).ok()
}
