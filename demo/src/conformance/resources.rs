//! Resources (`resources-*` scenarios): two static ones, a watched one that can be
//! subscribed to, and the template `test://template/{id}/data`.

use super::content::PNG_BASE64;
use super::session::Session;
use super::{Fixture, Outcome, RpcError};
use serde_json::{json, Value};

pub const STATIC_TEXT_URI: &str = "test://static-text";
pub const STATIC_BINARY_URI: &str = "test://static-binary";
pub const WATCHED_URI: &str = "test://watched-resource";
pub const TEMPLATE: &str = "test://template/{id}/data";
pub const WATCHED_INITIAL: &str = "Watched resource content";

const TEMPLATE_PREFIX: &str = "test://template/";
const TEMPLATE_SUFFIX: &str = "/data";

pub fn list() -> Value {
    json!({"resources": [
        {"uri": STATIC_TEXT_URI, "name": "static-text", "description": "A fixed text resource.", "mimeType": "text/plain"},
        {"uri": STATIC_BINARY_URI, "name": "static-binary", "description": "A fixed PNG image.", "mimeType": "image/png"},
        {"uri": WATCHED_URI, "name": "watched-resource", "description": "A text resource that can be subscribed to; test_update_watched_resource changes it.", "mimeType": "text/plain"}
    ]})
}

pub fn templates() -> Value {
    json!({"resourceTemplates": [
        {"uriTemplate": TEMPLATE, "name": "template-data", "description": "JSON data for the id in the URI.", "mimeType": "application/json"}
    ]})
}

/// The `{id}` of a URI matching the template.
pub fn template_id(uri: &str) -> Option<&str> {
    let id = uri
        .strip_prefix(TEMPLATE_PREFIX)?
        .strip_suffix(TEMPLATE_SUFFIX)?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

fn uri_param(params: &Value) -> Result<&str, RpcError> {
    params
        .get("uri")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params("missing `uri`"))
}

fn not_found(uri: &str) -> RpcError {
    RpcError {
        code: -32002,
        message: format!("Resource not found: {uri}"),
        data: Some(json!({"uri": uri})),
    }
}

fn known(uri: &str) -> bool {
    [STATIC_TEXT_URI, STATIC_BINARY_URI, WATCHED_URI].contains(&uri) || template_id(uri).is_some()
}

pub fn read(fx: &Fixture, params: &Value) -> Outcome {
    let uri = uri_param(params)?;
    let content = match uri {
        STATIC_TEXT_URI => json!({"uri": uri, "mimeType": "text/plain",
            "text": "This is the content of the static text resource."}),
        STATIC_BINARY_URI => json!({"uri": uri, "mimeType": "image/png", "blob": PNG_BASE64}),
        WATCHED_URI => {
            let text = fx
                .watched
                .lock()
                .map(|w| w.clone())
                .unwrap_or_else(|_| WATCHED_INITIAL.to_string());
            json!({"uri": uri, "mimeType": "text/plain", "text": text})
        }
        _ => match template_id(uri) {
            Some(id) => json!({"uri": uri, "mimeType": "application/json",
                "text": json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")}).to_string()}),
            None => return Err(not_found(uri)),
        },
    };
    Ok(json!({"contents": [content]}))
}

pub fn subscribe(session: &Session, params: &Value) -> Outcome {
    let uri = uri_param(params)?;
    if !known(uri) {
        return Err(not_found(uri));
    }
    session.subscribe(uri);
    Ok(json!({}))
}

pub fn unsubscribe(session: &Session, params: &Value) -> Outcome {
    let uri = uri_param(params)?;
    session.unsubscribe(uri);
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_ids() {
        assert_eq!(template_id("test://template/123/data"), Some("123"));
        assert_eq!(template_id("test://template//data"), None);
        assert_eq!(template_id("test://template/1/2/data"), None);
        assert_eq!(template_id("test://static-text"), None);
    }
}
