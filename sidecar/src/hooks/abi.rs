//! ABI v1 of custom hooks, as JSON (docs/hooks.md): what the sidecar writes into the
//! guest's memory ([`Input`]) and how it reads the answer ([`Answer`]). An answer is
//! checked whole against its event before anything of it is used: a field another event
//! owns, an unknown field or a header a hook may not set makes it garbage.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::error::HookFault;
use super::headers::checked_headers;
use meshgate_policy::hooks::HookEvent;

/// The ABI version a module's `meshgate_hook_abi_version` export must return.
pub const ABI_VERSION: i32 = 1;

/// Who made the call, as hooks see it (no secret: the key id is a prefix of its hash).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Who {
    /// `master` or `key`.
    pub kind: &'static str,
    pub key_id: Option<String>,
    pub key_alias: Option<String>,
    pub team_id: Option<String>,
    pub organization_id: Option<String>,
}

/// Wall-clock timing of the upstream call, for `post_call`.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Timing {
    /// Unix time in milliseconds when the upstream request started and ended.
    pub start_ms: u64,
    pub end_ms: u64,
    /// Its duration in microseconds.
    pub duration_us: u64,
}

/// What a hook is given; serialized by hand around the raw result, so a result is never
/// parsed for a hook that only reads it.
pub struct Input<'a> {
    pub event: HookEvent,
    pub server: &'a str,
    /// The bare tool name the upstream knows.
    pub tool: &'a str,
    /// The name the client called (`{prefix}-{tool}`, or the bare name).
    pub name: &'a str,
    pub who: &'a Who,
    pub arguments: &'a Value,
    /// `post_call` only.
    pub result: Option<&'a RawValue>,
    pub timing: Option<Timing>,
}

impl Input<'_> {
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        let head = serde_json::json!({
            "abi": ABI_VERSION,
            "event": self.event.export(),
            "server": self.server,
            "tool": self.tool,
            "name": self.name,
            "principal": self.who,
        });
        // `head` is an object: reopen it to append the rest in place.
        let Ok(mut text) = serde_json::to_vec(&head) else {
            return out;
        };
        text.pop();
        out.extend_from_slice(&text);
        out.extend_from_slice(b",\"arguments\":");
        let _ = serde_json::to_writer(&mut out, self.arguments);
        if let Some(result) = self.result {
            out.extend_from_slice(b",\"result\":");
            out.extend_from_slice(result.get().as_bytes());
        }
        if let Some(timing) = self.timing {
            out.extend_from_slice(b",\"timing\":");
            let _ = serde_json::to_writer(&mut out, &timing);
        }
        out.push(b'}');
        out
    }
}

/// A hook's answer as sent (ABI v1). Every field is optional; an empty answer (or a
/// zero-length one) lets the call continue unchanged.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    #[serde(default)]
    allow: Option<bool>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    arguments: Option<Value>,
    #[serde(default)]
    headers: Option<Map<String, Value>>,
    #[serde(default)]
    result: Option<Box<RawValue>>,
    #[serde(default)]
    cost: Option<f64>,
}

/// A checked answer.
#[derive(Debug, Default)]
pub struct Answer {
    /// Some: the call is refused with this text (as an `isError` result).
    pub deny: Option<String>,
    /// `pre_call`: the arguments the upstream receives instead.
    pub arguments: Option<Value>,
    /// `pre_call`: headers added to the upstream request.
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// `post_call`: the result the client receives instead.
    pub result: Option<Box<RawValue>>,
    /// `post_call`: the call's cost (LiteLLM's `hidden_params.response_cost`).
    pub cost: Option<f64>,
}

/// Longest deny message kept (the rest is cut on a character boundary).
const MAX_MESSAGE: usize = 1024;

impl Answer {
    /// Reads a guest's answer for `event`; anything malformed is a [`HookFault::Garbage`]
    /// naming what was wrong.
    pub fn parse(event: HookEvent, bytes: &[u8]) -> Result<Answer, HookFault> {
        if bytes.is_empty() {
            return Ok(Answer::default());
        }
        let wire: Wire = serde_json::from_slice(bytes)
            .map_err(|e| HookFault::Garbage(format!("the answer is not ABI v1 JSON ({e})")))?;
        let only_pre = wire.arguments.is_some() || wire.headers.is_some();
        let only_post = wire.result.is_some() || wire.cost.is_some();
        match event {
            HookEvent::PreCall if only_post => {
                return Err(HookFault::Garbage(
                    "`result` and `cost` belong to a post_call answer".into(),
                ))
            }
            HookEvent::PostCall if only_pre => {
                return Err(HookFault::Garbage(
                    "`arguments` and `headers` belong to a pre_call answer".into(),
                ))
            }
            _ => {}
        }
        if let Some(args) = &wire.arguments {
            if !args.is_object() {
                return Err(HookFault::Garbage("`arguments` must be an object".into()));
            }
        }
        if let Some(result) = &wire.result {
            if !result.get().trim_start().starts_with('{') {
                return Err(HookFault::Garbage(
                    "`result` must be a CallToolResult object".into(),
                ));
            }
        }
        if let Some(cost) = wire.cost {
            if !cost.is_finite() || cost < 0.0 {
                return Err(HookFault::Garbage(
                    "`cost` must be a finite number ≥ 0".into(),
                ));
            }
        }
        let headers = match &wire.headers {
            Some(map) => checked_headers(map)?,
            None => Vec::new(),
        };
        let deny = match wire.allow {
            Some(false) => Some(denial_text(wire.message.as_deref())),
            _ => None,
        };
        Ok(Answer {
            deny,
            arguments: wire.arguments,
            headers,
            result: wire.result,
            cost: wire.cost,
        })
    }
}

fn denial_text(message: Option<&str>) -> String {
    let message = message.map(str::trim).filter(|m| !m.is_empty());
    let Some(m) = message else {
        return "the call was refused by a hook".to_string();
    };
    let mut end = m.len().min(MAX_MESSAGE);
    while !m.is_char_boundary(end) {
        end -= 1;
    }
    m[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(event: HookEvent, s: &str) -> Result<Answer, HookFault> {
        Answer::parse(event, s.as_bytes())
    }

    #[test]
    fn answers_are_checked_against_their_event() {
        let a = parse(HookEvent::PreCall, r#"{"allow":false,"message":"no"}"#).unwrap();
        assert_eq!(a.deny.as_deref(), Some("no"));
        let a = parse(HookEvent::PreCall, "").unwrap();
        assert!(a.deny.is_none() && a.arguments.is_none());
        let a = parse(
            HookEvent::PostCall,
            r#"{"cost":0.5,"result":{"content":[]}}"#,
        )
        .unwrap();
        assert_eq!(a.cost, Some(0.5));
        for (event, bad) in [
            (HookEvent::PreCall, "not json"),
            (HookEvent::PreCall, "[1]"),
            (HookEvent::PreCall, r#"{"cost":1}"#),
            (HookEvent::PostCall, r#"{"arguments":{}}"#),
            (HookEvent::PreCall, r#"{"arguments":[1]}"#),
            (HookEvent::PostCall, r#"{"cost":-1}"#),
            (HookEvent::PostCall, r#"{"result":"text"}"#),
            (HookEvent::PreCall, r#"{"alow":true}"#),
            (
                HookEvent::PreCall,
                r#"{"headers":{"x-meshgate-decision":"v2"}}"#,
            ),
        ] {
            assert!(
                matches!(parse(event, bad), Err(HookFault::Garbage(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn input_is_one_json_object_with_the_raw_result() {
        let who = Who {
            kind: "key",
            key_alias: Some("ci".into()),
            ..Who::default()
        };
        let args = serde_json::json!({"a": 1});
        let raw =
            RawValue::from_string(r#"{"content":[{"type":"text","text":"x"}]}"#.into()).unwrap();
        let input = Input {
            event: HookEvent::PostCall,
            server: "web",
            tool: "add",
            name: "web-add",
            who: &who,
            arguments: &args,
            result: Some(&raw),
            timing: Some(Timing {
                start_ms: 1,
                end_ms: 2,
                duration_us: 1000,
            }),
        };
        let v: Value = serde_json::from_slice(&input.to_json()).unwrap();
        assert_eq!(v["abi"], 1);
        assert_eq!(v["event"], "post_call");
        assert_eq!(v["principal"]["key_alias"], "ci");
        assert_eq!(v["arguments"]["a"], 1);
        assert_eq!(v["result"]["content"][0]["text"], "x");
        assert_eq!(v["timing"]["duration_us"], 1000);
    }
}
