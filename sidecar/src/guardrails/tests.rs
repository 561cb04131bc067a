use super::*;
use std::sync::Arc;

fn runtime(yaml: &str) -> Runtime {
    let config = meshgate_policy::load_config(yaml, None).unwrap();
    let mut rt = Runtime::empty();
    rt.guardrails = Arc::new(compile(&config));
    rt
}

const BUILTIN_POST: &str = "guardrails:\n  - guardrail_name: out\n    litellm_params: {guardrail: meshgate, mode: post_mcp_call, default_on: true, pii_entities_config: {EMAIL_ADDRESS: MASK, CREDIT_CARD: BLOCK}}\n";

fn client() -> HttpClient {
    crate::upstream::new_http_client()
}

#[test]
fn requested_names_come_from_the_header_and_meta() {
    let mut headers = http::HeaderMap::new();
    headers.insert(HEADER, "a, b".parse().unwrap());
    let meta = serde_json::json!({"guardrails": ["c"]});
    assert_eq!(requested(&headers, Some(&meta)), ["a", "b", "c"]);
    assert!(requested(&http::HeaderMap::new(), None).is_empty());
}

#[test]
fn result_texts_are_content_text_resource_text_and_structured_strings() {
    let mut v = serde_json::json!({
        "content": [{"type": "text", "text": "a"}, {"type": "image", "data": "x"},
                    {"type": "resource", "resource": {"text": "b", "uri": "u"}}],
        "structuredContent": {"k": ["c", 1]},
        "_meta": {"m": "not scanned"}
    });
    let mut out = Vec::new();
    result_strings_mut(&mut v, &mut out);
    let got: Vec<&str> = out.iter().map(|s| s.as_str()).collect();
    assert_eq!(got, ["a", "b", "c"]);
}

#[tokio::test]
async fn without_guardrails_the_result_stays_raw() {
    let rt = Runtime::empty();
    let plan = plan(&rt, None, &[], "web", "echo").unwrap();
    let raw = RawValue::from_string("{\"content\":[] }".into()).unwrap();
    let out = plan.post(&client(), raw).await.unwrap();
    assert_eq!(out.get(), "{\"content\":[] }");
}

#[tokio::test]
async fn post_masks_in_place_and_blocks_naming_guardrail_and_entity() {
    let rt = runtime(BUILTIN_POST);
    let plan = plan(&rt, None, &[], "web", "echo").unwrap();
    let raw = RawValue::from_string(
        r#"{"content":[{"type":"text","text":"mail bob@corp.io"}],"structuredContent":{"to":"bob@corp.io"}}"#.into(),
    )
    .unwrap();
    let out: Value = serde_json::from_str(plan.post(&client(), raw).await.unwrap().get()).unwrap();
    assert_eq!(out["content"][0]["text"], "mail <EMAIL_ADDRESS>");
    assert_eq!(out["structuredContent"]["to"], "<EMAIL_ADDRESS>");
    let raw = RawValue::from_string(
        r#"{"content":[{"type":"text","text":"card 4111 1111 1111 1111"}]}"#.into(),
    )
    .unwrap();
    let refusal = plan.post(&client(), raw).await.unwrap_err();
    assert_eq!(refusal.guardrail, "out");
    assert!(refusal.text.contains("CREDIT_CARD") && refusal.text.contains("out"));
    assert!(!refusal.text.contains("4111"));
}

#[test]
fn unknown_requested_names_are_refused() {
    let rt = runtime(BUILTIN_POST);
    let err = plan(&rt, None, &["nope".to_string()], "web", "echo")
        .err()
        .unwrap();
    assert!(err.to_string().contains("nope"));
}
