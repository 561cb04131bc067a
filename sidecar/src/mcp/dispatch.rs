//! Method dispatch for one client request.

use futures_util::future::join_all;
use serde_json::Value;
use std::sync::Arc;

use super::context::{Answer, Ctx, Handled};
use super::{
    completion, logging, prompts, resources, supported_version, tools, SUPPORTED_VERSIONS,
};
use crate::jsonrpc::RpcError;
use crate::relay::ClientCaps;
use crate::sessions::id::SessionInfo;
use crate::verify::now_ms;

pub async fn request(ctx: &Ctx<'_>, method: &str, params: Option<Value>) -> Handled {
    check_params(method, params.as_ref())?;
    match method {
        "initialize" => initialize(ctx, params.as_ref()).await,
        "ping" => Ok(Answer::Value(serde_json::json!({}))),
        "tools/list" => tools::list(ctx).await,
        "tools/call" => tools::call(ctx, params).await,
        "prompts/list" => prompts::list(ctx).await,
        "prompts/get" => prompts::get(ctx, params).await,
        "resources/list" => resources::list(ctx).await,
        "resources/templates/list" => resources::templates(ctx).await,
        "resources/read" => resources::read(ctx, params).await,
        "resources/subscribe" => resources::subscribe(ctx, params, true).await,
        "resources/unsubscribe" => resources::subscribe(ctx, params, false).await,
        "completion/complete" => completion::complete(ctx, params).await,
        "logging/setLevel" => logging::set_level(ctx, params).await,
        // Served to requests declaring 2026-07-28 (`stateless::serve`); older ones initialize.
        "server/discover" => Err(RpcError::method_not_found(
            "Method not found: server/discover belongs to MCP 2026-07-28 (send `MCP-Protocol-Version: 2026-07-28`); in this protocol revision, use initialize",
        )),
        other => Err(RpcError::method_not_found(format!("Method not found: {other}"))),
    }
}

/// The MCP schema's shape of `params` for the methods the gateway routes, checked
/// before anything reaches an upstream (-32602 naming the member).
fn check_params(method: &str, params: Option<&Value>) -> Result<(), RpcError> {
    let bad = |why: String| Err(RpcError::invalid_params(format!("Invalid params: {why}")));
    let member = |name: &str| params.and_then(|p| p.get(name));
    let string = |name: &str| -> Result<(), RpcError> {
        match member(name) {
            Some(Value::String(_)) => Ok(()),
            None => bad(format!("{method} needs a string `{name}`")),
            Some(other) => bad(format!(
                "{method}: `{name}` must be a string, not {}",
                kind(other)
            )),
        }
    };
    let object = |name: &str| -> Result<(), RpcError> {
        match member(name) {
            None | Some(Value::Object(_)) => Ok(()),
            Some(other) => bad(format!(
                "{method}: `{name}` must be an object, not {}",
                kind(other)
            )),
        }
    };
    let optional_string = |name: &str| -> Result<(), RpcError> {
        match member(name) {
            None | Some(Value::String(_)) => Ok(()),
            Some(other) => bad(format!(
                "{method}: `{name}` must be a string, not {}",
                kind(other)
            )),
        }
    };
    object("_meta")?;
    match method {
        "tools/call" => {
            string("name")?;
            object("arguments")
        }
        "prompts/get" => {
            string("name")?;
            object("arguments")?;
            let args = member("arguments").and_then(Value::as_object);
            match args.and_then(|a| a.iter().find(|(_, v)| !v.is_string())) {
                Some((k, v)) => bad(format!(
                    "prompts/get: argument `{k}` must be a string, not {}",
                    kind(v)
                )),
                None => Ok(()),
            }
        }
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => string("uri"),
        "completion/complete" => {
            match member("ref") {
                Some(Value::Object(r)) if r.get("type").is_some_and(Value::is_string) => {}
                _ => {
                    return bad(
                        "completion/complete needs a `ref` object with a string `type`".into(),
                    )
                }
            }
            match member("argument") {
                Some(Value::Object(a))
                    if a.get("name").is_some_and(Value::is_string)
                        && a.get("value").is_some_and(Value::is_string) =>
                {
                    Ok(())
                }
                _ => bad(
                    "completion/complete needs an `argument` object with string `name` and `value`"
                        .into(),
                ),
            }
        }
        "logging/setLevel" => string("level"),
        "initialize" => {
            optional_string("protocolVersion")?;
            object("capabilities")?;
            object("clientInfo")
        }
        "tools/list" | "prompts/list" | "resources/list" | "resources/templates/list" => {
            optional_string("cursor")
        }
        _ => Ok(()),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Negotiates, opens this client's upstream sessions (with its credentials and
/// capabilities) so its session id can carry them, and mints that id.
async fn initialize(ctx: &Ctx<'_>, params: Option<&Value>) -> Handled {
    let asked = params
        .and_then(|p| p.get("protocolVersion"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let latest = SUPPORTED_VERSIONS
        .last()
        .copied()
        .unwrap_or(super::DEFAULT_VERSION);
    let version = supported_version(asked).unwrap_or(latest);
    let caps = ClientCaps::from_json(params.and_then(|p| p.get("capabilities")));
    let mut call = ctx.call_context();
    call.caps = caps;
    let call = &call;
    let timeout = ctx.runtime.list_timeout();
    let upstreams = ctx.allowed();
    // Each upstream session is opened (for the session id to carry it) and asked for
    // its instructions, in parallel, each within the list timeout.
    let deadline = tokio::time::Instant::now() + timeout;
    let opened = join_all(upstreams.iter().map(|u| async move {
        let carried = tokio::time::timeout_at(deadline, u.carry(call))
            .await
            .ok()
            .flatten();
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        (carried, u.instructions(left, call).await)
    }))
    .await;
    let (opened, instructions): (Vec<_>, Vec<_>) = opened.into_iter().unzip();
    // `/mcp/<one server>` (or `/<name>/mcp`): the session is that server's, as in LiteLLM.
    let single = match upstreams.as_slice() {
        [only] if ctx.principal.path_named => Some(only),
        _ => None,
    };
    let session = ctx.state.sessions.mint(&SessionInfo {
        protocol_version: version,
        issued_at: now_ms(),
        principal: crate::sessions::id::principal_tag(&ctx.principal.name),
        caps,
        upstreams: opened.into_iter().flatten().collect(),
    });
    if let Some(token) = &session {
        // The new session is one of the users of those upstream sessions from now on
        // (their unprompted messages reach its GET stream).
        let mut call = *call;
        call.session = Some(token);
        let call = &call;
        // (The sessions themselves were opened above.)
        for upstream in ctx.allowed() {
            upstream.note_user(call);
        }
    }
    let server_name = match single {
        Some(u) => u.name.as_str(),
        None => ctx
            .runtime
            .config
            .server_name
            .as_deref()
            .unwrap_or("meshgate"),
    };
    let mut result = serde_json::json!({
        "protocolVersion": version,
        "capabilities": {"tools": {"listChanged": true}, "prompts": {"listChanged": true}, "resources": {"subscribe": true, "listChanged": true}, "completions": {}, "logging": {}},
        "serverInfo": {"name": server_name, "title": "meshgate MCP gateway", "version": env!("CARGO_PKG_VERSION")},
    });
    let text = match single {
        Some(_) => instructions
            .first()
            .and_then(|i| i.as_deref())
            .map(|i| bounded(i, MAX_SERVER_INSTRUCTIONS)),
        None => Some(merged_instructions(&upstreams, &instructions)),
    };
    if let (Some(text), Some(obj)) = (text, result.as_object_mut()) {
        obj.insert("instructions".into(), Value::String(text));
    }
    Ok(Answer::Initialized(result, session))
}

/// Largest share of one server's instructions passed on (bytes).
const MAX_SERVER_INSTRUCTIONS: usize = 8 * 1024;
/// Largest merged instructions of an aggregate session (bytes).
const MAX_MERGED_INSTRUCTIONS: usize = 32 * 1024;

/// LiteLLM's format: `[<server name>]\n<instructions>` per server that has some, joined
/// by a blank line; each bounded, and the whole. Without any, a line saying how tools
/// are named.
fn merged_instructions(
    upstreams: &[Arc<crate::upstream::Upstream>],
    texts: &[Option<Arc<str>>],
) -> String {
    let parts: Vec<String> = upstreams
        .iter()
        .zip(texts)
        .filter_map(|(u, t)| {
            let t = t.as_deref()?;
            Some(format!(
                "[{}]\n{}",
                u.name,
                bounded(t, MAX_SERVER_INSTRUCTIONS)
            ))
        })
        .collect();
    if parts.is_empty() {
        let sep = crate::naming::separator();
        return format!("Tools of several MCP servers, named `<server>{sep}<tool>`.");
    }
    bounded(&parts.join("\n\n"), MAX_MERGED_INSTRUCTIONS)
}

/// At most `max` bytes of `text`, cut at a character boundary and marked when cut.
fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::check_params;
    use serde_json::json;

    #[test]
    fn params_of_routed_methods_follow_the_schema() {
        let refused = [
            ("tools/call", json!({})),
            ("tools/call", json!({"name": 3})),
            ("tools/call", json!({"name": "a-b", "arguments": "x"})),
            ("tools/call", json!({"name": "a-b", "arguments": [1]})),
            ("tools/call", json!({"name": "a-b", "arguments": null})),
            ("tools/call", json!({"name": "a-b", "_meta": 1})),
            ("prompts/get", json!({"name": "p", "arguments": {"a": 1}})),
            ("prompts/get", json!({})),
            ("resources/read", json!({"uri": 1})),
            ("resources/read", json!({})),
            ("resources/subscribe", json!({})),
            (
                "completion/complete",
                json!({"ref": {"type": "ref/prompt"}}),
            ),
            ("logging/setLevel", json!({"level": 1})),
            ("tools/list", json!({"cursor": 1})),
        ];
        for (method, params) in refused {
            let e = check_params(method, Some(&params)).unwrap_err();
            assert_eq!(e.code, -32602, "{method} {params}");
            assert!(e.message.starts_with("Invalid params: "), "{}", e.message);
        }
        assert!(check_params("tools/call", None).is_err());
        let accepted = [
            ("tools/call", json!({"name": "a-b"})),
            (
                "tools/call",
                json!({"name": "a-b", "arguments": {"x": [1]}}),
            ),
            ("prompts/get", json!({"name": "p", "arguments": {"a": "1"}})),
            ("resources/read", json!({"uri": "meshgate://a/b"})),
            (
                "completion/complete",
                json!({"ref": {"type": "ref/prompt", "name": "p"}, "argument": {"name": "a", "value": ""}}),
            ),
            ("tools/list", json!({"cursor": "c"})),
            ("ping", json!({})),
        ];
        for (method, params) in accepted {
            assert!(
                check_params(method, Some(&params)).is_ok(),
                "{method} {params}"
            );
        }
        assert!(check_params("tools/list", None).is_ok());
    }

    use super::bounded;

    #[test]
    fn instructions_are_bounded_at_a_character_boundary() {
        assert_eq!(bounded("short", 10), "short");
        let cut = bounded(&"é".repeat(100), 11);
        assert!(cut.len() <= 11 && cut.ends_with('…'), "{cut}");
        assert!(cut.starts_with("éééé"));
    }
}
