//! The LLM routes' tests' parts (tests/llm.rs, tests/llm_anthropic.rs): a scripted model
//! server, what it recorded, and the official OpenAI Python SDK as the client.

use serde_json::Value;
use std::process::Stdio;
use tokio::process::Command;

use crate::admin::master;
use crate::http::request;
use crate::{demo_http, python_with_mcp, read_listening, repo_root, Gateway, GatewayOptions, Proc};

/// Starts a scripted model server (`tests/python/<script>`); its address.
pub async fn scripted_model(script: &str) -> (Proc, String) {
    let mut cmd = Command::new("python3");
    cmd.arg(repo_root().join("tests/python").join(script))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut proc = Proc::spawn(script, cmd);
    let addr = read_listening(&mut proc).await;
    (proc, addr)
}

/// What the scripted model got so far, oldest first.
pub async fn recorded(addr: &str) -> Vec<Value> {
    let resp = request("GET", &format!("http://{addr}/__recorded"), &[], "")
        .await
        .expect("the scripted model's record");
    resp.json().as_array().cloned().unwrap_or_default()
}

/// Runs the OpenAI SDK client (tests/python/openai_llm_client.py) for one scenario;
/// its printed JSON.
pub async fn sdk(base: &str, key: &str, scenario: &str) -> Value {
    let script = repo_root().join("tests/python/openai_llm_client.py");
    let out = python_with_mcp()
        .arg(script)
        .args([base, key, scenario])
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run the OpenAI SDK client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{scenario}: the SDK client failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{scenario}: {e}: {stdout}"))
}

/// The error object of an SDK error (the SDK hands over `error` or the whole body).
pub fn error_of(v: &Value) -> &Value {
    if v["body"]["error"].is_object() {
        &v["body"]["error"]
    } else {
        &v["body"]
    }
}

/// A gateway with the demo MCP server (`demo`), `max_tool_rounds: 3`, the `model_list`
/// entries `models` (YAML list items), `env` in the sidecar's environment (the provider
/// key), and a key limited to the model `scripted` and the server `demo`: the demo
/// server's process, the gateway and the key.
pub async fn llm_gateway(models: &str, env: (&str, &str)) -> (Proc, Gateway, String) {
    let (demo_proc, demo) = demo_http("demo", &[]).await;
    let servers = format!("  demo:\n    url: http://{demo}/mcp\n    transport: http\n");
    let mut opts = GatewayOptions::new(servers);
    opts.meshgate_yaml = format!("  max_tool_rounds: 3\nmodel_list:\n{models}");
    opts.sidecar_env.push((env.0.into(), env.1.into()));
    let gw = Gateway::start_with(opts).await;
    // LiteLLM's `models` on the key.
    let made = master(
        &gw,
        "POST",
        "/key/generate",
        serde_json::json!({"models": ["scripted"], "object_permission": {"mcp_servers": ["demo"]}}),
    )
    .await;
    assert_eq!(made["models"], serde_json::json!(["scripted"]), "{made}");
    let key = made["key"].as_str().expect("a key").to_string();
    (demo_proc, gw, key)
}
