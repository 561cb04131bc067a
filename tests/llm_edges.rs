//! The tool loop's edges (issue 15), end to end through real Envoy and the sidecar:
//! `litellm_proxy/mcp/<server>` and `allowed_tools` narrow what the model is offered
//! (never grant); a provider that is down, silent or answers garbage gives a clear
//! error in OpenAI's shape, quickly, and nothing hangs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use meshgate_e2e::admin::master;
use meshgate_e2e::http::request;
use meshgate_e2e::llm::{recorded, scripted_model};
use meshgate_e2e::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn chat(gw: &Gateway, key: &str, model: &str, tools: Value) -> (u16, Value, Duration) {
    let started = Instant::now();
    let resp = request(
        "POST",
        &format!("{}/v1/chat/completions", gw.base()),
        &[
            ("authorization", &format!("Bearer {key}")),
            ("content-type", "application/json"),
        ],
        &json!({"model": model, "tools": tools,
            "messages": [{"role": "user", "content": "hello"}]})
        .to_string(),
    )
    .await
    .unwrap();
    (resp.status, resp.json(), started.elapsed())
}

/// The function tools the model was offered in its last request.
async fn offered(llm: &str) -> Vec<String> {
    let all = recorded(llm).await;
    let last = all.last().expect("the model was asked");
    last["body"]["tools"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|t| t["function"]["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn server_url_and_allowed_tools_narrow_what_the_model_is_offered() {
    let (_llm_proc, llm) = scripted_model("scripted_llm.py").await;
    let (_d1, demo) = demo_http("demo", &[]).await;
    let (_d2, second) = demo_http("second", &[]).await;
    let (_d3, third) = demo_http("third", &[]).await;
    let servers = format!(
        "  demo:\n    url: http://{demo}/mcp\n    transport: http\n  second:\n    url: http://{second}/mcp\n    transport: http\n  third:\n    url: http://{third}/mcp\n    transport: http\n"
    );
    let mut opts = GatewayOptions::new(servers);
    opts.meshgate_yaml = format!(
        "model_list:\n  - model_name: scripted\n    litellm_params: {{model: openai/scripted-1, api_base: 'http://{llm}/v1'}}\n"
    );
    let gw = Gateway::start_with(opts).await;
    // The key may use demo and second, not third.
    let made = master(
        &gw,
        "POST",
        "/key/generate",
        json!({"object_permission": {"mcp_servers": ["demo", "second"]}}),
    )
    .await;
    let key = made["key"].as_str().unwrap().to_string();
    let mcp = |url: &str, extra: Value| {
        let mut t = json!({"type": "mcp", "server_label": "gw", "server_url": url,
            "require_approval": "never"});
        if let (Some(t), Some(extra)) = (t.as_object_mut(), extra.as_object()) {
            t.extend(extra.clone());
        }
        json!([t])
    };

    // Every server of the key: demo and second, never third.
    let (status, answer, _) = chat(&gw, &key, "scripted", mcp("litellm_proxy", json!({}))).await;
    assert_eq!(status, 200, "{answer}");
    let tools = offered(&llm).await;
    assert!(tools.iter().any(|t| t.starts_with("demo-")), "{tools:?}");
    assert!(tools.iter().any(|t| t.starts_with("second-")), "{tools:?}");
    assert!(!tools.iter().any(|t| t.starts_with("third-")), "{tools:?}");

    // `litellm_proxy/mcp/second`: that server only.
    let (status, answer, _) = chat(
        &gw,
        &key,
        "scripted",
        mcp("litellm_proxy/mcp/second", json!({})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let tools = offered(&llm).await;
    assert!(
        !tools.is_empty() && tools.iter().all(|t| t.starts_with("second-")),
        "{tools:?}"
    );

    // Naming a server the key may not use grants nothing: a 400 naming it, and the
    // model is not asked.
    let asked = recorded(&llm).await.len();
    let (status, answer, _) = chat(
        &gw,
        &key,
        "scripted",
        mcp("litellm_proxy/mcp/third", json!({})),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.to_string().contains("third"), "{answer}");
    assert_eq!(recorded(&llm).await.len(), asked);

    // `allowed_tools` (prefixed names): exactly those.
    let (status, answer, _) = chat(
        &gw,
        &key,
        "scripted",
        mcp(
            "litellm_proxy",
            json!({"allowed_tools": ["demo-echo", "second-add"]}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let mut tools = offered(&llm).await;
    tools.sort();
    assert_eq!(tools, ["demo-echo", "second-add"]);
}

/// A model endpoint on 127.0.0.1 that accepts connections and then, per `mode`,
/// never answers ("silent") or answers 200 with a body that is not JSON and closes
/// ("garbage").
async fn bad_provider(mode: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = vec![0u8; 65536];
            let _ = socket.read(&mut buf).await;
            if mode == "garbage" {
                let body = "<html>surprise</html>";
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body.as_bytes()).await;
                continue;
            }
            held.push(socket);
        }
    });
    addr
}

#[tokio::test]
async fn a_provider_down_silent_or_garbled_gives_a_clear_error_quickly() {
    let (_d, demo) = demo_http("demo", &[]).await;
    let down = format!("127.0.0.1:{}", free_port());
    let silent = bad_provider("silent").await;
    let garbage = bad_provider("garbage").await;
    let servers = format!("  demo:\n    url: http://{demo}/mcp\n    transport: http\n");
    let mut opts = GatewayOptions::new(servers);
    opts.meshgate_yaml = format!(
        "model_list:\n\
         \x20 - model_name: down\n    litellm_params: {{model: openai/m, api_base: 'http://{down}/v1'}}\n\
         \x20 - model_name: silent\n    litellm_params: {{model: openai/m, api_base: 'http://{silent}/v1', timeout: 1}}\n\
         \x20 - model_name: garbage\n    litellm_params: {{model: openai/m, api_base: 'http://{garbage}/v1'}}\n"
    );
    let gw = Gateway::start_with(opts).await;
    let tools =
        json!([{"type": "mcp", "server_url": "litellm_proxy", "require_approval": "never"}]);
    for (model, status, words) in [
        ("down", 502, "could not be reached"),
        ("silent", 504, "did not answer within 1000 ms"),
        ("garbage", 502, "not a JSON object"),
    ] {
        for with_tools in [false, true] {
            let t = if with_tools { tools.clone() } else { json!([]) };
            let (got, answer, took) = chat(&gw, MASTER_KEY, model, t).await;
            assert_eq!(got, status, "{model} (tools: {with_tools}): {answer}");
            let message = answer["error"]["message"].as_str().unwrap_or_default();
            assert!(
                message.contains(&format!("model `{model}`")) && message.contains(words),
                "{model}: {answer}"
            );
            assert!(
                !message.contains("127.0.0.1"),
                "no address in the error: {message}"
            );
            assert!(took < Duration::from_secs(10), "{model} took {took:?}");
        }
    }
}
