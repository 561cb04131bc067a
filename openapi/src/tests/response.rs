use base64::Engine as _;
use serde_json::json;

use crate::{error_result, response_to_result};

#[test]
fn json_objects_become_structured_content() {
    let r = response_to_result(200, Some("application/json; charset=utf-8"), br#"{"a":1}"#);
    assert_eq!(
        r,
        json!({"content": [{"type": "text", "text": "{\"a\":1}"}], "structuredContent": {"a": 1}, "isError": false})
    );
    let r = response_to_result(201, Some("application/hal+json"), br#"{"b":true}"#);
    assert_eq!(r["structuredContent"], json!({"b": true}));
}

#[test]
fn json_arrays_and_scalars_are_text_only() {
    for body in [&b"[1,2]"[..], b"\"s\"", b"3", b"null"] {
        let r = response_to_result(200, Some("application/json"), body);
        assert!(r.get("structuredContent").is_none(), "{r}");
        assert_eq!(r["content"][0]["text"], std::str::from_utf8(body).unwrap());
    }
    // Invalid JSON despite the content type: still text, no structuredContent.
    let r = response_to_result(200, Some("application/json"), b"{oops");
    assert_eq!(r["content"][0]["text"], "{oops");
    assert!(r.get("structuredContent").is_none());
}

#[test]
fn text_types_are_text() {
    for ct in [
        "text/plain",
        "text/html; charset=utf-8",
        "application/xml",
        "application/atom+xml",
        "application/yaml",
        "image/svg+xml",
    ] {
        let r = response_to_result(200, Some(ct), b"<a>hi</a>");
        assert_eq!(
            r["content"][0],
            json!({"type": "text", "text": "<a>hi</a>"}),
            "{ct}"
        );
        assert_eq!(r["isError"], false);
    }
}

#[test]
fn binary_bodies_are_images_audio_or_blobs() {
    let png = b"\x89PNG\r\n\x1a\n\x00";
    let b64 = base64::engine::general_purpose::STANDARD.encode(png);
    let r = response_to_result(200, Some("image/png"), png);
    assert_eq!(
        r["content"][0],
        json!({"type": "image", "data": b64, "mimeType": "image/png"})
    );
    let r = response_to_result(200, Some("audio/wav"), png);
    assert_eq!(r["content"][0]["type"], "audio");
    let r = response_to_result(200, Some("application/pdf"), png);
    assert_eq!(
        r["content"][0],
        json!({"type": "resource", "resource": {"uri": "openapi://response", "mimeType": "application/pdf", "blob": b64}})
    );
    assert_eq!(r["isError"], false);
}

#[test]
fn no_content_type_is_sniffed() {
    let r = response_to_result(200, None, br#"{"x":1}"#);
    assert_eq!(r["structuredContent"], json!({"x": 1}));
    let r = response_to_result(200, None, b"plain words");
    assert_eq!(r["content"][0]["text"], "plain words");
    let r = response_to_result(200, None, b"\xff\xfe\x00");
    assert_eq!(
        r["content"][0]["resource"]["mimeType"],
        "application/octet-stream"
    );
}

#[test]
fn http_errors_are_tool_errors_with_truncated_bodies() {
    let r = response_to_result(404, Some("application/json"), br#"{"message":"nope"}"#);
    assert_eq!(
        r,
        json!({"content": [{"type": "text", "text": "HTTP 404: {\"message\":\"nope\"}"}], "isError": true})
    );
    let big = "é".repeat(5000);
    let r = response_to_result(500, Some("text/plain"), big.as_bytes());
    let text = r["content"][0]["text"].as_str().unwrap();
    assert!(text.starts_with("HTTP 500: éé"));
    assert!(text.len() < 4200, "{}", text.len());
    assert!(
        text.ends_with("(truncated, 10000 bytes in all)"),
        "{}",
        &text[text.len() - 40..]
    );
    assert_eq!(r["isError"], true);
    let r = response_to_result(503, None, b"");
    assert_eq!(r["content"][0]["text"], "HTTP 503");
    let r = response_to_result(401, Some("image/png"), b"\xff\xd8");
    assert_eq!(r["content"][0]["type"], "text");
    assert_eq!(r["isError"], true);
}

#[test]
fn empty_success_bodies_say_the_status() {
    let r = response_to_result(204, None, b"");
    assert_eq!(
        r,
        json!({"content": [{"type": "text", "text": "HTTP 204"}], "isError": false})
    );
    let r = response_to_result(200, Some("application/json"), b"");
    assert_eq!(r["content"][0]["text"], "HTTP 200");
    assert_eq!(error_result("bad")["isError"], true);
}
