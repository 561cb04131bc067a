//! The tool loop's calls meet the same built-in guardrails as `/mcp` (issue 15): the
//! model's arguments never pass the filter (they come from the provider's answer), so
//! the sidecar runs the built-in `pre_mcp_call` guardrails itself on them. A block is
//! fed back to the model as the tool's result and the tool is never called; a MASK
//! reaches the tool masked. Real Envoy, sidecar, demo MCP server, the OpenAI SDK; the
//! model is scripted (tests/python/scripted_llm.py, script "leak").
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_e2e::admin::master;
use meshgate_e2e::llm::{recorded, scripted_model, sdk};
use meshgate_e2e::*;
use serde_json::{json, Value};

#[tokio::test]
async fn a_models_tool_call_is_guarded_like_a_clients() {
    let (_llm_proc, llm) = scripted_model("scripted_llm.py").await;
    let (_demo_proc, demo) = demo_http("demo", &[]).await;
    let servers = format!("  demo:\n    url: http://{demo}/mcp\n    transport: http\n");
    let mut opts = GatewayOptions::new(servers);
    opts.meshgate_yaml = format!(
        "  max_tool_rounds: 3\n\
         model_list:\n  - model_name: scripted\n    litellm_params: {{model: openai/scripted-1, api_base: 'http://{llm}/v1'}}\n\
         guardrails:\n  - guardrail_name: no-pii\n    litellm_params:\n      guardrail: meshgate\n      mode: pre_mcp_call\n      default_on: true\n      pii_entities_config: {{CREDIT_CARD: BLOCK, EMAIL_ADDRESS: MASK}}\n"
    );
    let gw = Gateway::start_with(opts).await;
    let made = master(
        &gw,
        "POST",
        "/key/generate",
        json!({"models": ["scripted"], "object_permission": {"mcp_servers": ["demo"]}}),
    )
    .await;
    let key = made["key"].as_str().unwrap().to_string();

    let answer = sdk(&format!("{}/v1", gw.base()), &key, "chat:leak").await;
    let results = &answer["choices"][0]["message"]["provider_specific_fields"]["mcp_call_results"];
    let text_of = |id: &str| -> String {
        results
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["tool_call_id"] == id)
            .map(|r| r["result"].as_str().unwrap_or_default().to_string())
            .unwrap_or_else(|| panic!("no result for {id}: {answer}"))
    };
    let blocked = text_of("call_k");
    assert!(
        blocked.contains("no-pii") && blocked.contains("CREDIT_CARD"),
        "a card in the model's arguments is blocked: {blocked}"
    );
    assert!(!blocked.contains("4111"), "{blocked}");
    assert_eq!(
        text_of("call_m"),
        "mail <EMAIL_ADDRESS>",
        "an e-mail reaches the tool masked"
    );

    // What the model got back in its second round (its tool messages): the block and
    // the masked echo, never the card.
    let second: Vec<Value> = recorded(&llm)
        .await
        .into_iter()
        .filter(|r| r["body"]["messages"][0]["content"] == "leak")
        .collect();
    assert_eq!(second.len(), 2, "two rounds: {second:?}");
    let fed_back: String = second[1]["body"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].to_string())
        .collect();
    assert!(!fed_back.contains("4111 1111"), "{fed_back}");
    assert!(fed_back.contains("<EMAIL_ADDRESS>"), "{fed_back}");
}
