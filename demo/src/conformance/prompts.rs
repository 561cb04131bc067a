//! Prompts (`prompts-*` scenarios) and argument completion (`completion-complete`).

use super::content::PNG_BASE64;
use super::resources::{template_id, TEMPLATE};
use super::{Outcome, RpcError};
use serde_json::{json, Value};

pub fn list() -> Value {
    json!({"prompts": [
        {"name": "test_simple_prompt", "description": "A prompt without arguments."},
        {"name": "test_prompt_with_arguments", "description": "A prompt that uses its two arguments.",
         "arguments": [
            {"name": "arg1", "description": "First test argument", "required": true},
            {"name": "arg2", "description": "Second test argument", "required": true}
         ]},
        {"name": "test_prompt_with_embedded_resource", "description": "A prompt that embeds a resource.",
         "arguments": [{"name": "resourceUri", "description": "URI of the resource to embed", "required": true}]},
        {"name": "test_prompt_with_image", "description": "A prompt with an image."}
    ]})
}

fn user(content: Value) -> Value {
    json!({"role": "user", "content": content})
}

fn arg<'a>(params: &'a Value, name: &str) -> Result<&'a str, RpcError> {
    params
        .pointer(&format!("/arguments/{name}"))
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params(format!("missing required argument `{name}`")))
}

pub fn get(params: &Value) -> Outcome {
    let name = params.get("name").and_then(Value::as_str).unwrap_or("");
    let messages = match name {
        "test_simple_prompt" => vec![user(
            json!({"type": "text", "text": "This is a simple prompt for testing."}),
        )],
        "test_prompt_with_arguments" => {
            let (a, b) = (arg(params, "arg1")?, arg(params, "arg2")?);
            vec![user(
                json!({"type": "text", "text": format!("Prompt with arguments: arg1='{a}', arg2='{b}'")}),
            )]
        }
        "test_prompt_with_embedded_resource" => {
            let uri = arg(params, "resourceUri")?;
            vec![
                user(json!({"type": "resource", "resource": {
                    "uri": uri, "mimeType": "text/plain", "text": "Embedded resource content for testing."
                }})),
                user(
                    json!({"type": "text", "text": "Please process the embedded resource above."}),
                ),
            ]
        }
        "test_prompt_with_image" => vec![
            user(json!({"type": "image", "data": PNG_BASE64, "mimeType": "image/png"})),
            user(json!({"type": "text", "text": "Please analyze the image above."})),
        ],
        other => return Err(RpcError::invalid_params(format!("Unknown prompt: {other}"))),
    };
    Ok(json!({"description": format!("The fixture prompt {name}"), "messages": messages}))
}

/// `completion/complete`: candidates for the prompt's arguments or the template's `{id}`,
/// filtered by the typed prefix.
pub fn complete(params: &Value) -> Outcome {
    let kind = params
        .pointer("/ref/type")
        .and_then(Value::as_str)
        .unwrap_or("");
    let argument = params
        .pointer("/argument/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let typed = params
        .pointer("/argument/value")
        .and_then(Value::as_str)
        .unwrap_or("");
    let candidates: &[&str] = match kind {
        "ref/prompt" => {
            let name = params
                .pointer("/ref/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            match (name, argument) {
                ("test_prompt_with_arguments", "arg1") => {
                    &["paris", "park", "party", "test-value-1", "testing"]
                }
                ("test_prompt_with_arguments", "arg2") => &["world", "test-value-2", "tested"],
                ("test_prompt_with_embedded_resource", "resourceUri") => {
                    &["test://static-text", "test://watched-resource"]
                }
                ("test_simple_prompt" | "test_prompt_with_image", _) => &[],
                (other, _) => {
                    return Err(RpcError::invalid_params(format!("Unknown prompt: {other}")))
                }
            }
        }
        "ref/resource" => {
            let uri = params
                .pointer("/ref/uri")
                .and_then(Value::as_str)
                .unwrap_or("");
            if uri != TEMPLATE && template_id(uri).is_none() {
                return Err(RpcError::invalid_params(format!(
                    "Unknown resource template: {uri}"
                )));
            }
            if argument == "id" {
                &["1", "2", "3", "123"]
            } else {
                &[]
            }
        }
        other => {
            return Err(RpcError::invalid_params(format!(
                "Unknown reference type: {other}"
            )))
        }
    };
    let values: Vec<&str> = candidates
        .iter()
        .copied()
        .filter(|c| c.starts_with(typed))
        .collect();
    Ok(json!({"completion": {"values": values, "total": values.len(), "hasMore": false}}))
}
