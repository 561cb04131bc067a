use serde_json::json;

use super::*;
use crate::OpenApiError;

#[test]
fn parses_json_and_yaml_with_numeric_keys_and_anchors() {
    let yaml = br#"
openapi: 3.0.0
info: {title: y, version: 1}
x-common: &common
  description: shared
paths:
  /a:
    get:
      operationId: getA
      responses:
        200:
          <<: *common
          content:
            application/json:
              schema: {type: object, properties: {n: {type: integer}}}
"#;
    let s = ApiSpec::parse(yaml, "a.yaml").unwrap();
    assert_eq!(names(&s), ["geta"], "LiteLLM's naming by default");
    assert_eq!(s.spec_version(), "3.0");
    assert_eq!(s.api_version(), Some("1"));
    // Unquoted `200:` is a YAML integer key: it still names the response.
    let out = tool(&s, "geta").output_schema.clone().unwrap();
    assert_eq!(out["properties"]["n"]["type"], "integer");

    let s = spec(json!({"swagger": "2.0", "info": {"title": "j", "version": "2"}, "paths": {}}));
    assert_eq!(s.spec_version(), "2.0");
    assert_eq!(s.title(), Some("j"));
    assert!(s.tools().is_empty());
}

#[test]
fn unparseable_specs_name_the_source_and_reason() {
    let e = ApiSpec::parse(
        b"{ not json",
        "https://user:pw@example.com/api.json?token=s3cret",
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, OpenApiError::Parse { format: "JSON", .. }),
        "{msg}"
    );
    assert!(msg.contains("https://example.com/api.json"), "{msg}");
    assert!(!msg.contains("s3cret") && !msg.contains("pw"), "{msg}");

    let e = ApiSpec::parse(b"a: [unclosed", "spec.yaml").unwrap_err();
    assert!(
        matches!(e, OpenApiError::Parse { format: "YAML", .. }),
        "{e}"
    );
    assert!(e.to_string().contains("spec.yaml"));

    let e = ApiSpec::parse(b"{\"info\": {}}", "x.json").unwrap_err();
    assert!(matches!(e, OpenApiError::NotOpenApi { .. }), "{e}");
    let e = ApiSpec::parse(b"- 1\n- 2\n", "x.yaml").unwrap_err();
    assert!(matches!(e, OpenApiError::NotOpenApi { .. }), "{e}");
    let e = ApiSpec::parse(b"{\"openapi\": \"4.0.0\"}", "x.json").unwrap_err();
    assert!(
        matches!(e, OpenApiError::UnsupportedVersion { ref version, .. } if version == "4.0.0"),
        "{e}"
    );
    let e = ApiSpec::parse(b"{\"openapi\": \"3.0.0\", \"paths\": []}", "x.json").unwrap_err();
    assert!(matches!(e, OpenApiError::InvalidField { ref field, .. } if field == "paths"));
}

#[test]
fn webhooks_and_callbacks_are_not_tools() {
    let s = spec(json!({
        "openapi": "3.1.0", "info": {"title": "w", "version": "1"},
        "webhooks": {"newPet": {"post": {"operationId": "hook", "responses": {"200": {"description": "ok"}}}}},
        "paths": {"/sub": {"post": {
            "operationId": "subscribe",
            "callbacks": {"ev": {"{$request.body#/url}": {"post": {"operationId": "cb", "responses": {"200": {"description": "ok"}}}}}},
            "responses": {"200": {"description": "ok"}}
        }}}
    }));
    assert_eq!(names(&s), ["subscribe"]);
    let only_webhooks = spec(
        json!({"openapi": "3.1.0", "info": {"title": "w", "version": "1"},
        "webhooks": {"a": {"post": {"responses": {"200": {"description": "ok"}}}}}}),
    );
    assert!(only_webhooks.tools().is_empty());
}

#[test]
fn tools_follow_document_order_and_skip_trace() {
    let s = ApiSpec::parse(
        br#"{"openapi":"3.0.0","info":{"title":"o","version":"1"},"paths":{
            "/z":{"post":{"responses":{}},"get":{"responses":{}},"trace":{"responses":{}}},
            "/a":{"delete":{"responses":{}},"head":{"responses":{}},"options":{"responses":{}},"patch":{"responses":{}},"put":{"responses":{}}}}}"#,
        "o.json",
    )
    .unwrap();
    assert_eq!(
        names(&s),
        [
            "post__z",
            "get__z",
            "delete__a",
            "head__a",
            "options__a",
            "patch__a",
            "put__a"
        ]
    );
}

#[test]
fn default_base_url_oas3() {
    let doc = |servers: serde_json::Value| {
        spec(
            json!({"openapi": "3.0.0", "info": {"title": "s", "version": "1"}, "paths": {}, "servers": servers}),
        )
    };
    let s = doc(
        json!([{"url": "https://{region}.example.com:{port}/v{ver}/", "variables": {
        "region": {"default": "eu", "enum": ["eu", "us"]}, "port": {"default": "8443"}, "ver": {"default": "2"}}}]),
    );
    assert_eq!(
        s.default_base_url(None).as_deref(),
        Some("https://eu.example.com:8443/v2")
    );
    let s = doc(json!([{"url": "/api/v3"}]));
    assert_eq!(s.default_base_url(None), None);
    assert_eq!(
        s.default_base_url(Some("http://127.0.0.1:8080/spec/openapi.yaml"))
            .as_deref(),
        Some("http://127.0.0.1:8080/api/v3")
    );
    let s = doc(json!([{"url": "v2"}]));
    assert_eq!(
        s.default_base_url(Some("http://h/specs/a.json")).as_deref(),
        Some("http://h/specs/v2")
    );
    // No servers: "/" of the host serving the spec.
    let s = spec(json!({"openapi": "3.0.0", "info": {"title": "s", "version": "1"}, "paths": {}}));
    assert_eq!(s.default_base_url(None), None);
    assert_eq!(
        s.default_base_url(Some("https://h.example/x/spec.json"))
            .as_deref(),
        Some("https://h.example")
    );
    // A variable without default is not usable.
    let s = doc(json!([{"url": "https://{tenant}.example.com"}]));
    assert_eq!(s.default_base_url(None), None);
}

#[test]
fn default_base_url_swagger2() {
    let s = spec(swagger(json!({}), json!({})));
    assert_eq!(
        s.default_base_url(None).as_deref(),
        Some("https://api.example.com/v1")
    );
    let mut d = swagger(json!({}), json!({}));
    d["schemes"] = json!(["ws", "http", "https"]);
    assert_eq!(
        spec(d.clone()).default_base_url(None).as_deref(),
        Some("http://api.example.com/v1")
    );
    d.as_object_mut().unwrap().remove("host");
    assert_eq!(spec(d.clone()).default_base_url(None), None);
    assert_eq!(
        spec(d)
            .default_base_url(Some("http://127.0.0.1:1/spec/s.json"))
            .as_deref(),
        Some("http://127.0.0.1:1/v1")
    );
}
