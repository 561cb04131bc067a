//! LiteLLM's tool names (the default) and calls by either spelling.

use serde_json::json;

use super::*;
use crate::naming::sanitize_litellm;
use crate::{ParseOptions, ToolNaming};

#[test]
fn litellm_names_lowercase_operation_ids_and_name_the_rest_from_method_and_path() {
    assert_eq!(sanitize_litellm("getPetById"), "getpetbyid");
    assert_eq!(sanitize_litellm("find pet by id"), "find_pet_by_id");
    // `.` and `/` are outside LiteLLM's [A-Za-z0-9_-] (GitHub-style tag namespaces).
    assert_eq!(
        sanitize_litellm("actions/download-job-logs.v2"),
        "actions_download-job-logs_v2"
    );
    let s = spec_litellm(oas30(
        json!({
            "/store/inventory": {"get": {"responses": {}}},
            "/pets/{petId}": {"get": {"operationId": "getPetById", "responses": {}},
                              "post": {"operationId": "", "responses": {}}},
        }),
        json!({}),
    ));
    // No collapsing of `_` and no trimming, exactly as LiteLLM's `f"{method}_{path}"`.
    assert_eq!(
        names(&s),
        ["getpetbyid", "post__pets__petid_", "get__store_inventory"]
    );
    // The exact spelling of each is kept as the other name.
    assert_eq!(tool(&s, "getpetbyid").other_name(), Some("getPetById"));
    assert_eq!(
        tool(&s, "get__store_inventory").other_name(),
        Some("get_store_inventory")
    );
}

#[test]
fn exact_option_lists_exact_names_and_litellm_ones_still_resolve() {
    let doc = oas30(
        json!({"/pets/{petId}": {"get": {"operationId": "getPetById", "responses": {}}}}),
        json!({}),
    );
    let exact = spec_named(doc.clone(), ToolNaming::Exact);
    assert_eq!(names(&exact), ["getPetById"]);
    let litellm = spec_litellm(doc);
    assert_eq!(names(&litellm), ["getpetbyid"]);
    for s in [&exact, &litellm] {
        for name in ["getPetById", "getpetbyid"] {
            let r = build(s, name, json!({"path": {"petId": 7}}));
            assert_eq!(path(&r), "/pets/7", "{name}");
        }
        assert!(s.tool("GETPETBYID").is_none(), "only the two spellings");
    }
}

#[test]
fn litellm_dedup_follows_its_method_order_and_head_options_come_last() {
    // Written order: head, put, get. LiteLLM names get before put; head is not a LiteLLM
    // tool, so it is named after every LiteLLM one and never takes their name.
    let s = spec_litellm(json!({
        "openapi": "3.0.3", "info": {"title": "t", "version": "1"},
        "paths": {"/a": {
            "head": {"operationId": "Same", "responses": {}},
            "put": {"operationId": "same", "responses": {}},
            "get": {"operationId": "SAME", "responses": {}}
        }}
    }));
    // `json!` sorts keys: get, head, put is the document order here.
    let by_method: Vec<(String, String)> = s
        .tools()
        .iter()
        .map(|t| (t.method().to_string(), t.name.clone()))
        .collect();
    assert_eq!(
        by_method,
        [
            ("GET".to_string(), "same".to_string()),
            ("HEAD".to_string(), "same_3".to_string()),
            ("PUT".to_string(), "same_2".to_string()),
        ]
    );
    // Lowercasing made them collide: each renamed one is a warning naming the operation.
    let w = s.warnings().join("\n");
    assert!(
        w.contains("PUT /a (operationId `same`) is named `same_2`"),
        "{w}"
    );
    assert!(
        w.contains("HEAD /a (operationId `Same`) is named `same_3`"),
        "{w}"
    );
    assert!(w.contains("LiteLLM naming lowercases"), "{w}");
    // Exact spellings still reach their own operation (they are distinct there).
    assert_eq!(s.tool("Same").unwrap().method(), "HEAD");
    assert_eq!(s.tool("SAME").unwrap().method(), "GET");
    assert_eq!(
        s.tool("same").unwrap().method(),
        "GET",
        "the listed name wins"
    );
}

#[test]
fn a_spelling_shared_with_a_listed_name_reaches_the_listed_tool_with_a_warning() {
    let s = spec(oas30(
        json!({
            "/x": {"get": {"operationId": "Dup.x", "responses": {}}},
            "/y": {"get": {"operationId": "Dup_x", "responses": {}}},
            "/z": {"get": {"operationId": "dup_x", "responses": {}}},
        }),
        json!({}),
    ));
    assert_eq!(names(&s), ["Dup.x", "Dup_x", "dup_x"]);
    let others: Vec<_> = s.tools().iter().map(|t| t.other_name()).collect();
    assert_eq!(others, [Some("dup_x"), Some("dup_x_2"), Some("dup_x_3")]);
    // `Dup.x`'s LiteLLM spelling is `dup_x`, which `/z` lists: `/z` gets the call.
    assert_eq!(s.tool("dup_x").unwrap().path_template(), "/z");
    assert_eq!(s.tool("dup_x_2").unwrap().path_template(), "/y");

    let s = spec_litellm(oas30(
        json!({
            "/a": {"get": {"operationId": "Same", "responses": {}}},
            "/b": {"get": {"operationId": "same", "responses": {}}},
        }),
        json!({}),
    ));
    assert_eq!(names(&s), ["same", "same_2"]);
    // `same` is /b's exact name and /a's listed one: the listed one wins, and says so.
    assert_eq!(s.tool("same").unwrap().path_template(), "/a");
    assert_eq!(s.tool("Same").unwrap().path_template(), "/a");
    let w = s.warnings().join("\n");
    assert!(
        w.contains("`same` is also the other spelling of `same_2`"),
        "{w}"
    );
}

#[test]
fn names_stay_within_the_given_length_and_prefixed_names_within_128() {
    let id = format!("op{}", "x".repeat(120));
    let doc = oas30(
        json!({"/a": {"get": {"operationId": id, "responses": {}}}}),
        json!({}),
    );
    let options = ParseOptions {
        naming: ToolNaming::LiteLlm,
        max_name_len: 128 - "petstore-".len(),
    };
    let s = ApiSpec::parse_with(doc.to_string().as_bytes(), "t.json", options).unwrap();
    let name = &s.tools()[0].name;
    assert_eq!(name.len(), 119, "{name}");
    assert!(name.starts_with("opxxx"));
    // Short names are exactly LiteLLM's however long the limit.
    let s = spec_litellm(oas30(
        json!({"/a": {"get": {"operationId": "x".repeat(64), "responses": {}}}}),
        json!({}),
    ));
    assert_eq!(s.tools()[0].name, "x".repeat(64));
}
