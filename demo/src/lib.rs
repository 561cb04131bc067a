//! The tools and MCP method handling shared by the demo servers. Deliberately tiny and
//! hand-written: they are test fixtures and benchmark targets, and must be fast.

pub mod modern;

use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub const PROTOCOL_VERSIONS: &[&str] = &["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

/// What a request asks the server process to do besides answering.
pub enum Effect {
    None,
    /// Exit the process right after answering (tests restart handling).
    Exit,
    /// Answer after a delay.
    Delay(Duration),
    /// Answer, then announce `notifications/tools/list_changed`.
    ToolsChanged,
}

pub struct Demo {
    pub name: String,
    /// Whether `grow` was called: the tool `grown` is listed from then on.
    pub grown: AtomicBool,
    /// `--instructions TEXT`: returned by `initialize`.
    pub instructions: Option<String>,
}

impl Demo {
    pub fn new(name: &str) -> Demo {
        Demo {
            name: name.to_string(),
            grown: AtomicBool::new(false),
            instructions: None,
        }
    }

    /// With the `--instructions TEXT` of `rest` (the demo's remaining arguments).
    pub fn with_instructions_from(mut self, rest: &[String]) -> Demo {
        self.instructions = rest
            .iter()
            .position(|a| a == "--instructions")
            .and_then(|i| rest.get(i + 1))
            .cloned();
        self
    }

    pub fn tools(&self) -> Value {
        let mut tools = self.base_tools();
        if self.grown.load(Ordering::Relaxed) {
            if let Some(list) = tools["tools"].as_array_mut() {
                list.push(
                    json!({"name": "grown", "description": "Exists once `grow` was called.",
                    "inputSchema": {"type": "object", "properties": {}}}),
                );
            }
        }
        tools
    }

    fn base_tools(&self) -> Value {
        json!({"tools": [
            {"name": "echo", "description": "Returns the text it is given.",
             "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}},
            {"name": "echo_args", "description": "Returns the arguments it received, as JSON text (what reached the upstream).",
             "inputSchema": {"type": "object"}},
            {"name": "add", "description": "Adds two numbers.",
             "inputSchema": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]},
             "outputSchema": {"type": "object", "properties": {"sum": {"type": "number"}}, "required": ["sum"]}},
            {"name": "whoami", "description": "Names this server and its process id.",
             "inputSchema": {"type": "object", "properties": {}}},
            {"name": "env", "description": "Reads an environment variable of the server process.",
             "inputSchema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}},
            {"name": "fail", "description": "Always returns a tool error.",
             "inputSchema": {"type": "object", "properties": {"message": {"type": "string"}}}},
            {"name": "sleep", "description": "Answers after `ms` milliseconds.",
             "inputSchema": {"type": "object", "properties": {"ms": {"type": "integer"}}, "required": ["ms"]}},
            {"name": "crash", "description": "Exits the server process (stdio) after answering.",
             "inputSchema": {"type": "object", "properties": {}}},
            {"name": "grow", "description": "Adds the tool `grown` and announces tools/list_changed (stdio).",
             "inputSchema": {"type": "object", "properties": {}}}
        ]})
    }

    /// Handles one request; Err is a JSON-RPC error (code, message).
    pub fn handle(&self, method: &str, params: &Value) -> (Result<Value, (i64, String)>, Effect) {
        match method {
            "initialize" => {
                let asked = params
                    .get("protocolVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let version = if PROTOCOL_VERSIONS.contains(&asked) {
                    asked
                } else {
                    "2025-11-25"
                };
                let mut result = json!({
                    "protocolVersion": version,
                    "capabilities": {"tools": {"listChanged": true}},
                    "serverInfo": {"name": self.name, "version": "1.0.0"},
                });
                if let Some(text) = &self.instructions {
                    result["instructions"] = Value::String(text.clone());
                }
                (Ok(result), Effect::None)
            }
            "ping" => (Ok(json!({})), Effect::None),
            "tools/list" => (Ok(self.tools()), Effect::None),
            "tools/call" => self.call(params),
            other => (
                Err((-32601, format!("Method not found: {other}"))),
                Effect::None,
            ),
        }
    }

    fn call(&self, params: &Value) -> (Result<Value, (i64, String)>, Effect) {
        let args = params.get("arguments").cloned().unwrap_or(json!({}));
        let text = |t: String| json!({"content": [{"type": "text", "text": t}]});
        match params.get("name").and_then(Value::as_str).unwrap_or("") {
            "echo" => (
                Ok(text(
                    args.get("text")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                )),
                Effect::None,
            ),
            "echo_args" => (Ok(text(args.to_string())), Effect::None),
            "add" => {
                let a = args.get("a").and_then(Value::as_f64).unwrap_or(0.0);
                let b = args.get("b").and_then(Value::as_f64).unwrap_or(0.0);
                let sum = a + b;
                (
                    Ok(
                        json!({"content": [{"type": "text", "text": sum.to_string()}], "structuredContent": {"sum": sum}}),
                    ),
                    Effect::None,
                )
            }
            "whoami" => (
                Ok(text(format!("{} pid={}", self.name, std::process::id()))),
                Effect::None,
            ),
            "env" => {
                let name = args.get("name").and_then(Value::as_str).unwrap_or("");
                (
                    Ok(text(
                        std::env::var(name).unwrap_or_else(|_| "<unset>".into()),
                    )),
                    Effect::None,
                )
            }
            "fail" => {
                let msg = args
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("failed on purpose");
                (
                    Ok(json!({"content": [{"type": "text", "text": msg}], "isError": true})),
                    Effect::None,
                )
            }
            "sleep" => {
                let ms = args
                    .get("ms")
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
                    .min(120_000);
                (
                    Ok(text(format!("slept {ms} ms"))),
                    Effect::Delay(Duration::from_millis(ms)),
                )
            }
            "crash" => (Ok(text("exiting".into())), Effect::Exit),
            "grow" => {
                self.grown.store(true, Ordering::Relaxed);
                (Ok(text("grown".into())), Effect::ToolsChanged)
            }
            "grown" => (Ok(text("I am new".into())), Effect::None),
            other => (
                Err((-32602, format!("Unknown tool: {other}"))),
                Effect::None,
            ),
        }
    }
}

/// Frames a JSON-RPC reply.
pub fn reply(id: &Value, outcome: Result<Value, (i64, String)>) -> Vec<u8> {
    let msg = match outcome {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err((code, message)) => {
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
        }
    };
    serde_json::to_vec(&msg).unwrap_or_default()
}

/// Flags shared by the demo servers.
pub struct CommonArgs {
    pub name: String,
    pub listen: String,
    pub exit_with_stdin: bool,
    pub max_lifetime_secs: u64,
    pub rest: Vec<String>,
}

pub fn parse_common(default_name: &str) -> CommonArgs {
    let mut out = CommonArgs {
        name: default_name.into(),
        listen: "127.0.0.1:0".into(),
        exit_with_stdin: false,
        max_lifetime_secs: 0,
        rest: vec![],
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--name" => out.name = it.next().unwrap_or_default(),
            "--listen" => out.listen = it.next().unwrap_or_default(),
            "--exit-with-stdin" => out.exit_with_stdin = true,
            "--max-lifetime-secs" => {
                out.max_lifetime_secs = it.next().and_then(|v| v.parse().ok()).unwrap_or(0)
            }
            other => out.rest.push(other.to_string()),
        }
    }
    out
}

/// Stops the process when stdin closes (if asked) or when its lifetime is over.
pub fn spawn_lifetime_guards(args: &CommonArgs) {
    if args.exit_with_stdin {
        std::thread::spawn(|| {
            let mut sink = [0u8; 256];
            use std::io::Read;
            let mut stdin = std::io::stdin();
            while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
            std::process::exit(0);
        });
    }
    if args.max_lifetime_secs > 0 {
        let secs = args.max_lifetime_secs;
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(secs));
            std::process::exit(0);
        });
    }
}
