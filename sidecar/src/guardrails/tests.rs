use super::*;
use std::sync::Arc;

fn runtime(yaml: &str) -> Runtime {
    let config = meshgate_policy::load_config(yaml, None).unwrap();
    let mut rt = Runtime::empty();
    rt.guardrails = Arc::new(crate::state::compile_guardrails(&config));
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
    let plan = plan(&rt, None, &[], "web", "echo", false).unwrap();
    let raw = RawValue::from_string("{\"content\":[] }".into()).unwrap();
    let out = plan.post(&client(), raw).await.unwrap();
    assert_eq!(out.get(), "{\"content\":[] }");
}

#[tokio::test]
async fn post_masks_in_place_and_blocks_naming_guardrail_and_entity() {
    let rt = runtime(BUILTIN_POST);
    let plan = plan(&rt, None, &[], "web", "echo", false).unwrap();
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
    let err = plan(&rt, None, &["nope".to_string()], "web", "echo", false)
        .err()
        .unwrap();
    assert!(err.to_string().contains("nope"));
}

const DURING: &str = "guardrails:\n  - guardrail_name: beside\n    litellm_params: {guardrail: meshgate, mode: during_mcp_call, default_on: true, pii_entities_config: {US_SSN: BLOCK}}\n  - guardrail_name: down\n    litellm_params: {guardrail: generic_guardrail_api, mode: during_mcp_call, default_on: true, api_base: 'http://127.0.0.1:1', timeout: 5}\n";

#[tokio::test]
async fn a_builtin_during_block_never_starts_the_upstream() {
    let rt = runtime(DURING);
    let plan = plan(&rt, None, &[], "web", "echo", false).unwrap();
    let started = std::sync::atomic::AtomicBool::new(false);
    let upstream = async {
        started.store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(RawValue::from_string("{}".into()).unwrap())
    };
    let args = serde_json::json!({"id": "123-45-6789"});
    let refusal = plan
        .during(&client(), &args, upstream, || {})
        .await
        .unwrap_err();
    assert_eq!(refusal.guardrail, "beside");
    assert!(!started.load(std::sync::atomic::Ordering::SeqCst));
}

#[tokio::test]
async fn a_failed_closed_during_service_cancels_the_upstream() {
    let rt = runtime(DURING);
    let plan = plan(&rt, None, &[], "web", "echo", false).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    // The upstream answers only once cancelled (as a transport does on cancellation).
    let upstream = async {
        let _ = rx.await;
        Err(crate::upstream::UpstreamError::Cancelled)
    };
    let mut tx = Some(tx);
    let (http, args) = (client(), serde_json::json!({"text": "fine"}));
    let during = plan.during(&http, &args, upstream, || {
        if let Some(tx) = tx.take() {
            let _ = tx.send(());
        }
    });
    // A bound so a regression fails instead of hanging (the upstream ends only when
    // cancelled).
    let refusal = tokio::time::timeout(std::time::Duration::from_secs(60), during)
        .await
        .expect("the upstream was not cancelled")
        .unwrap_err();
    assert_eq!(refusal.guardrail, "down");
    assert!(
        refusal.text.contains("could not be reached") && !refusal.text.contains("127.0.0.1"),
        "{}",
        refusal.text
    );
}

#[tokio::test]
async fn builtin_pre_runs_here_only_for_arguments_the_filter_did_not_scan() {
    let rt = runtime(
        "guardrails:\n  - guardrail_name: in\n    litellm_params: {guardrail: meshgate, mode: pre_mcp_call, default_on: true, pii_entities_config: {EMAIL_ADDRESS: MASK, CREDIT_CARD: BLOCK}}\n",
    );
    // Scanned by the filter: the sidecar leaves them alone (no second scan).
    let mut args = serde_json::json!({"text": "mail bob@corp.io"});
    let scanned = plan(&rt, None, &[], "web", "echo", false).unwrap();
    scanned.pre(&client(), &mut args).await.unwrap();
    assert_eq!(args["text"], "mail bob@corp.io");
    // Not scanned (the LLM loop's model calls): masked, or blocked naming the
    // guardrail and the entity, never the value.
    let unscanned = plan(&rt, None, &[], "web", "echo", true).unwrap();
    unscanned.pre(&client(), &mut args).await.unwrap();
    assert_eq!(args["text"], "mail <EMAIL_ADDRESS>");
    let mut args = serde_json::json!({"nested": ["card 4111 1111 1111 1111"]});
    let refused = unscanned.pre(&client(), &mut args).await.unwrap_err();
    assert_eq!(refused.guardrail, "in");
    assert!(refused.text.contains("CREDIT_CARD"), "{}", refused.text);
    assert!(!refused.text.contains("4111"), "{}", refused.text);
}
