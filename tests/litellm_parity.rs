//! A LiteLLM user's config and agents, unchanged, through real Envoy + filter + sidecar:
//! URL servers without `transport` (one streamable HTTP, one legacy SSE) detected and
//! served; LiteLLM sections meshgate does not act on (and their `os.environ/` values)
//! loading with one warning; dangling `mcp_aliases`; `auth_type: aws_sigv4`; upstream
//! `instructions` at `initialize`; `MCP_TOOL_PREFIX_SEPARATOR` and
//! `LITELLM_MCP_SERVER_NAME`; prefixes containing the separator; per-server outcomes in
//! `_meta["litellm.ai/server_outcomes"]`.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_e2e::http::{post, request, Resp};
use meshgate_e2e::*;
use serde_json::{json, Value};
use std::process::Command;

const OUTCOMES: &str = "litellm.ai/server_outcomes";
const WEB_INSTRUCTIONS: &str = "Use web-echo to repeat text back.";
const LOCAL_INSTRUCTIONS: &str = "The local server runs on this machine.";

/// The body of a JSON or event-stream reply: the JSON-RPC message with an `id`.
fn message(resp: &Resp) -> Value {
    let text = resp.text();
    if text.trim_start().starts_with('{') {
        return resp.json();
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
        .find(|m| m.get("id").is_some())
        .unwrap_or_else(|| panic!("no response in: {text}"))
}

struct Client {
    url: String,
    session: Option<String>,
}

impl Client {
    /// `initialize` on `url`; returns the client and the initialize result.
    async fn initialize(url: &str) -> (Client, Value) {
        let body = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "litellm-parity", "version": "1"}}});
        let auth = format!("Bearer {MASTER_KEY}");
        let resp = post(url, &[("authorization", &auth)], &body.to_string())
            .await
            .expect("initialize");
        assert_eq!(resp.status, 200, "initialize on {url}: {}", resp.text());
        let session = resp.header("mcp-session-id").map(str::to_string);
        let result = message(&resp)["result"].clone();
        let client = Client {
            url: url.to_string(),
            session,
        };
        (client, result)
    }

    async fn call_with(&self, method: &str, params: Value, extra: &[(&str, &str)]) -> Value {
        let auth = format!("Bearer {MASTER_KEY}");
        let mut headers = vec![
            ("authorization", auth.as_str()),
            ("mcp-protocol-version", "2025-11-25"),
        ];
        if let Some(s) = &self.session {
            headers.push(("mcp-session-id", s));
        }
        headers.extend_from_slice(extra);
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let resp = post(&self.url, &headers, &body.to_string())
            .await
            .expect("request");
        assert_eq!(resp.status, 200, "{method}: {}", resp.text());
        message(&resp)
    }

    async fn call(&self, method: &str, params: Value) -> Value {
        self.call_with(method, params, &[]).await
    }
}

fn tool_names(list: &Value) -> Vec<String> {
    list["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools: {list}"))
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect()
}

fn text_of(result: &Value) -> String {
    result["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text: {result}"))
        .to_string()
}

/// LiteLLM's documented shape: URL servers without `transport`, aliases naming servers
/// the file lacks, sections for the LLM proxy (with `os.environ/` variables the gateway
/// does not have), an AWS-signed server, an alias containing the separator.
fn litellm_servers(web: &str, legacy_port: u16) -> String {
    format!(
        "  web_srv:\n    url: http://{web}/mcp\n    alias: my-web\n{}  legacy:\n    url: http://127.0.0.1:{legacy_port}/sse\n    description: SSE Server\n  bedrock_agent:\n    url: http://127.0.0.1:9/mcp\n    auth_type: aws_sigv4\n    aws_access_key_id: os.environ/AWS_ACCESS_KEY_ID_NOT_SET\n    aws_region_name: us-east-1\n    mcp_info:\n      mcp_server_cost_info: {{default_cost_per_query: 0.01}}\nlitellm_settings:\n  callbacks: [langfuse]\n  mcp_aliases: {{deepwiki: deepwiki_mcp, zapier: zapier_mcp}}\nmodel_list:\n  - model_name: gpt-4o\n    litellm_params: {{model: openai/gpt-4o, api_key: os.environ/OPENAI_API_KEY_NOT_SET}}\nguardrails:\n  - guardrail_name: pii\n    litellm_params: {{guardrail: presidio, mode: pre_mcp_call}}\n",
        stdio_with_instructions("my", LOCAL_INSTRUCTIONS)
    )
}

/// The in-repo stdio demo (no `transport`: a `command` means stdio) with instructions.
fn stdio_with_instructions(name: &str, text: &str) -> String {
    let path = bin("meshgate-demo-stdio");
    require(&path, "run `cargo build -p meshgate-demo`");
    format!(
        "  {name}:\n    command: \"{}\"\n    args: [\"--name\", \"{name}\", \"--instructions\", \"{text}\"]\n",
        path.display()
    )
}

#[tokio::test]
async fn litellm_example_config_shape_loads_and_untyped_servers_are_detected() {
    let (_web, web) = demo_http("web_srv", &["--instructions", WEB_INSTRUCTIONS]).await;
    let (_legacy, legacy_port) = everything_http("sse").await;
    let gw = Gateway::start(litellm_servers(&web, legacy_port)).await;

    let (client, init) = Client::initialize(&gw.url()).await;
    assert_eq!(init["serverInfo"]["name"], "meshgate");
    let list = client.call("tools/list", json!({})).await;
    let names = tool_names(&list);
    for expected in ["my-web-echo", "legacy-echo", "my-echo"] {
        assert!(
            names.contains(&expected.to_string()),
            "{expected} in {names:?}"
        );
    }
    // Both untyped URL servers answer calls, each on its own transport; `my-web-echo`
    // goes to the alias `my-web` (longest known prefix), not to the server `my`.
    let who = client
        .call(
            "tools/call",
            json!({"name": "my-web-whoami", "arguments": {}}),
        )
        .await;
    assert!(text_of(&who).contains("web_srv"), "{who}");
    let echoed = client
        .call(
            "tools/call",
            json!({"name": "legacy-echo", "arguments": {"message": "hi"}}),
        )
        .await;
    assert!(text_of(&echoed).contains("hi"), "{echoed}");
    let mine = client
        .call("tools/call", json!({"name": "my-whoami", "arguments": {}}))
        .await;
    assert!(text_of(&mine).contains("my"), "{mine}");

    // Outcomes per selected server, the unsupported one with a reason and no URL.
    let outcomes = &list["result"]["_meta"][OUTCOMES];
    assert_eq!(outcomes["web_srv"]["status"], "ok", "{outcomes}");
    assert_eq!(outcomes["legacy"]["status"], "ok", "{outcomes}");
    assert_eq!(outcomes["my"]["status"], "ok", "{outcomes}");
    assert_eq!(
        outcomes["bedrock_agent"]["status"], "unavailable",
        "{outcomes}"
    );
    assert!(!outcomes.to_string().contains("127.0.0.1"), "{outcomes}");
    for method in ["prompts/list", "resources/list"] {
        let r = client.call(method, json!({})).await;
        let o = &r["result"]["_meta"][OUTCOMES];
        assert_eq!(o["legacy"]["status"], "ok", "{method}: {r}");
        assert_eq!(o["bedrock_agent"]["status"], "unavailable", "{method}: {r}");
        assert!(o.get("web_srv").is_some(), "{method}: {r}");
    }
    // The aws_sigv4 server is refused with a message, not silently.
    let refused = client
        .call(
            "tools/call",
            json!({"name": "bedrock_agent-anything", "arguments": {}}),
        )
        .await;
    assert_eq!(refused["result"]["isError"], true, "{refused}");
    assert!(
        text_of(&refused).contains("auth_type `aws_sigv4` is not supported"),
        "{refused}"
    );
}

#[tokio::test]
async fn upstream_instructions_reach_the_client() {
    let (_web, web) = demo_http("web_srv", &["--instructions", WEB_INSTRUCTIONS]).await;
    let (_legacy, legacy_port) = everything_http("sse").await;
    let gw = Gateway::start(litellm_servers(&web, legacy_port)).await;

    for url in [
        format!("{}/mcp/web_srv", gw.base()),
        format!("{}/web_srv/mcp", gw.base()),
    ] {
        let (_, init) = Client::initialize(&url).await;
        assert_eq!(init["instructions"], WEB_INSTRUCTIONS, "{url}: {init}");
        assert_eq!(init["serverInfo"]["name"], "web_srv", "{url}: {init}");
    }
    let (_, init) = Client::initialize(&format!("{}/mcp/my", gw.base())).await;
    assert_eq!(init["instructions"], LOCAL_INSTRUCTIONS, "{init}");

    let (_, init) = Client::initialize(&gw.url()).await;
    let text = init["instructions"].as_str().unwrap_or_default();
    assert!(
        text.contains(&format!("[web_srv]\n{WEB_INSTRUCTIONS}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("[my]\n{LOCAL_INSTRUCTIONS}")),
        "{text}"
    );
    // server-everything's own instructions, over legacy SSE.
    assert!(text.contains("[legacy]\n"), "{text}");
    assert!(text.len() <= 32 * 1024);
}

#[tokio::test]
async fn tool_prefix_separator_and_server_name_knobs() {
    let (web, web_addr) = demo_http("alpha", &[]).await;
    let servers = format!(
        "  alpha:\n    url: http://{web_addr}/mcp\n    transport: http\n{}",
        demo_stdio_yaml("beta", "")
    );
    let gw = Gateway::start_with(GatewayOptions {
        sidecar_env: vec![
            ("MCP_TOOL_PREFIX_SEPARATOR".into(), "__".into()),
            ("LITELLM_MCP_SERVER_NAME".into(), "corp-gateway".into()),
        ],
        ..GatewayOptions::new(servers)
    })
    .await;
    let (client, init) = Client::initialize(&gw.url()).await;
    assert_eq!(init["serverInfo"]["name"], "corp-gateway");
    let names = tool_names(&client.call("tools/list", json!({})).await);
    assert!(names.contains(&"alpha__echo".to_string()), "{names:?}");
    assert!(names.contains(&"beta__echo".to_string()), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("alpha-")), "{names:?}");

    // Calls split at the separator; `x-mcp-alpha__<header>` reaches alpha as `<header>`.
    let echoed = client
        .call_with(
            "tools/call",
            json!({"name": "alpha__echo", "arguments": {"text": "sep"}}),
            &[("x-mcp-alpha__x-probe", "p1")],
        )
        .await;
    assert_eq!(text_of(&echoed), "sep", "{echoed}");
    let recorded = request("GET", &format!("http://{web_addr}/__requests"), &[], "")
        .await
        .expect("recorded")
        .json();
    let call = recorded
        .as_array()
        .and_then(|r| r.iter().rev().find(|e| e["tool"] == "echo"))
        .cloned()
        .unwrap_or_else(|| panic!("no echo call recorded: {recorded}"));
    assert_eq!(call["headers"]["x-probe"], "p1", "{call}");
    drop(web);

    // The filter splits `Mcp-Name` with the same separator at header time: a tool of
    // alpha on a path scoped to beta is refused before the body is read.
    let auth = format!("Bearer {MASTER_KEY}");
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "alpha__echo", "arguments": {"text": "x"},
            "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}});
    let refused = post(
        &format!("{}/mcp/beta", gw.base()),
        &[
            ("authorization", &auth),
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "alpha__echo"),
        ],
        &body.to_string(),
    )
    .await
    .expect("post");
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(
        refused.text().contains("server_not_allowed"),
        "{}",
        refused.text()
    );
}

#[test]
fn check_config_lists_what_meshgate_does_not_act_on_in_one_warning() {
    let example = repo_root().join("envoy/config.example.yaml");
    let out = Command::new(bin("meshgate-sidecar"))
        .arg("--check-config")
        .arg(&example)
        .env("MESHGATE_MASTER_KEY", "sk-example-master")
        .env("GITHUB_TOKEN", "ghp_example")
        .env("ZAPIER_KEY", "zap")
        .env("MESHGATE_LOG", "error")
        .output()
        .expect("run --check-config");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inert: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("loaded but not acted on"))
        .collect();
    assert_eq!(inert.len(), 1, "{stdout}");
    // Its presidio guardrail is run by the sidecar now, so it is not "not acted on".
    assert!(!inert[0].contains("guardrails"), "{}", inert[0]);
    // Server costs (`mcp_info.mcp_server_cost_info`) are acted on: spend rows and budgets.
    assert!(!inert[0].contains("mcp_server_cost_info"), "{}", inert[0]);
    // Its `model_list` is acted on: the OpenAI-compatible routes serve those models.
    assert!(!inert[0].contains("model_list"), "{}", inert[0]);
    for field in ["litellm_settings.callbacks", "aws_region_name"] {
        assert!(inert[0].contains(field), "{field} in {}", inert[0]);
    }
    assert!(stdout.contains("aws_sigv4"), "{stdout}");
    assert!(stdout.contains("mcp_aliases"), "{stdout}");
    // Its Python callbacks cannot run; the warning says where meshgate's hooks go.
    assert!(stdout.contains("`meshgate.hooks`"), "{stdout}");
}
