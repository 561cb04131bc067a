//! The sidecar's notes to the filter's audit record, set on a response and removed by
//! the filter before the client sees it: [`CALL_HEADER`] names the call (method, and
//! the name a `tools/call` or `prompts/get` addressed), and with
//! `meshgate.audit_arguments` [`ARGUMENTS_HEADER`] carries a `tools/call`'s arguments.
//! Used by `/mcp` (one message or a batch) and by the legacy SSE transport, whose 202
//! carries them although the answer travels on the stream.

use http::{HeaderValue, Response};
use serde_json::{json, Value};

use crate::body::Body;
use crate::jsonrpc::{self, Message};
use meshgate_policy::audit::{arguments_for_audit, ARGUMENTS_HEADER, CALL_HEADER};

/// What one request's response tells the filter.
#[derive(Default)]
pub struct Notes {
    call: Option<HeaderValue>,
    arguments: Option<HeaderValue>,
}

impl Notes {
    /// The notes of one message; arguments only when `audit_arguments`.
    pub fn of(msg: &Message, audit_arguments: bool) -> Notes {
        Notes {
            call: call(msg),
            arguments: audit_arguments.then(|| arguments(msg)).flatten(),
        }
    }

    /// The notes of a batch: no call (one header cannot name them all), and with
    /// `audit_arguments` the `tools/call`s' names and arguments as one JSON list, in
    /// batch order (`[{"name": …, "arguments": …}, …]`), cut as one text at the audit
    /// bound. Elements that are not `tools/call`s, or do not parse, are left out.
    pub fn of_batch(items: &[Box<serde_json::value::RawValue>], audit_arguments: bool) -> Notes {
        if !audit_arguments {
            return Notes::default();
        }
        let calls: Vec<Value> = items
            .iter()
            .filter_map(|item| jsonrpc::parse_message(item.get()).ok())
            .filter(|msg| msg.method.as_deref() == Some("tools/call"))
            .map(|msg| {
                let params = msg.params.as_ref();
                let mut call = json!({"name": params.and_then(|p| p.get("name"))});
                if let Some(arguments) = params.and_then(|p| p.get("arguments")) {
                    call["arguments"] = arguments.clone();
                }
                call
            })
            .collect();
        if calls.is_empty() {
            return Notes::default();
        }
        Notes {
            call: None,
            arguments: HeaderValue::from_str(&arguments_for_audit(&Value::Array(calls))).ok(),
        }
    }

    /// Sets the notes on `resp`.
    pub fn set(self, mut resp: Response<Body>) -> Response<Body> {
        if let Some(value) = self.call {
            resp.headers_mut().insert(CALL_HEADER, value);
        }
        if let Some(value) = self.arguments {
            resp.headers_mut().insert(ARGUMENTS_HEADER, value);
        }
        resp
    }
}

/// A `tools/call`'s arguments as the audit record keeps them.
fn arguments(msg: &Message) -> Option<HeaderValue> {
    if msg.method.as_deref() != Some("tools/call") {
        return None;
    }
    let arguments = msg.params.as_ref()?.get("arguments")?;
    HeaderValue::from_str(&arguments_for_audit(arguments)).ok()
}

/// `<method>`, or `<method> <name>` for a `tools/call` or `prompts/get`. Never arguments
/// or resource URIs (they may carry data). None for responses, and for text a header
/// cannot carry.
fn call(msg: &Message) -> Option<HeaderValue> {
    let method = msg.method.as_deref()?;
    let name = match method {
        "tools/call" | "prompts/get" => msg
            .params
            .as_ref()
            .and_then(|p| p.get("name"))
            .and_then(Value::as_str),
        _ => None,
    };
    let text = match name {
        Some(name) => format!("{method} {name}"),
        None => method.to_string(),
    };
    HeaderValue::from_str(&text)
        .or_else(|_| HeaderValue::from_str(method))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    fn raw(v: Value) -> Box<RawValue> {
        RawValue::from_string(v.to_string()).unwrap()
    }

    fn header(resp: &Response<Body>, name: &str) -> Option<String> {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }

    fn noted(notes: Notes) -> Response<Body> {
        notes.set(Response::new(crate::body::full("")))
    }

    #[test]
    fn a_batch_lists_its_tool_calls_in_order_and_nothing_else() {
        let items = vec![
            raw(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "a-echo", "arguments": {"text": "é"}}})),
            raw(json!({"jsonrpc": "2.0", "id": 2, "method": "ping"})),
            raw(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                "params": {"name": "b-add"}})),
            raw(json!({"jsonrpc": "2.0", "id": 4, "method": "prompts/get",
                "params": {"name": "p", "arguments": {"secret": "x"}}})),
            raw(json!(["not", "a", "message"])),
        ];
        let resp = noted(Notes::of_batch(&items, true));
        assert_eq!(header(&resp, CALL_HEADER), None);
        let kept = header(&resp, ARGUMENTS_HEADER).unwrap();
        assert!(kept.contains(r#""text":"\u00e9""#), "{kept}");
        assert_eq!(
            serde_json::from_str::<Value>(&kept).unwrap(),
            json!([{"name": "a-echo", "arguments": {"text": "é"}}, {"name": "b-add"}])
        );
        let off = noted(Notes::of_batch(&items, false));
        assert!(off.headers().is_empty());
        let no_calls = noted(Notes::of_batch(&items[1..2], true));
        assert!(no_calls.headers().is_empty());
    }

    #[test]
    fn a_long_batch_is_cut_as_one_text() {
        let items: Vec<_> = (0..3)
            .map(|i| {
                raw(json!({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                    "params": {"name": "a-echo", "arguments": {"text": "x".repeat(1000)}}}))
            })
            .collect();
        let resp = noted(Notes::of_batch(&items, true));
        let kept = header(&resp, ARGUMENTS_HEADER).unwrap();
        assert!(
            kept.starts_with(r#"[{""#) && kept.contains("xxxxxxxx"),
            "{kept}"
        );
        assert!(kept.ends_with(" bytes]"), "{kept}");
        assert!(kept.len() <= meshgate_policy::audit::MAX_ARGUMENTS + 40);
    }

    #[test]
    fn one_message_names_its_call_and_its_arguments_when_asked() {
        let msg = jsonrpc::parse_message(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a-add","arguments":{"a":1}}}"#,
        )
        .unwrap();
        let resp = noted(Notes::of(&msg, true));
        assert_eq!(
            header(&resp, CALL_HEADER).as_deref(),
            Some("tools/call a-add")
        );
        assert_eq!(
            header(&resp, ARGUMENTS_HEADER).as_deref(),
            Some(r#"{"a":1}"#)
        );
        let resp = noted(Notes::of(&msg, false));
        assert_eq!(header(&resp, ARGUMENTS_HEADER), None);
        // A name a header cannot carry: the method alone.
        let msg = jsonrpc::parse_message(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a\nb"}}"#,
        )
        .unwrap();
        assert_eq!(
            header(&noted(Notes::of(&msg, false)), CALL_HEADER).as_deref(),
            Some("tools/call")
        );
    }
}
