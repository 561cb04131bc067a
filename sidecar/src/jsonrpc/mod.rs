//! JSON-RPC 2.0 framing. Results from upstreams are kept as raw JSON so they pass
//! through byte for byte, without a parse/re-serialize round trip; so are request ids.
//!
//! [`parse_frame`] is the one place a client's body becomes messages: it decides what
//! is a parse error (-32700), what is not a valid request (-32600, with `id: null` when
//! the id cannot be read) and what is a batch, by JSON-RPC 2.0 and the MCP schema
//! (ids are strings or integers, never null; `params` is an object).
//!
//! Every error code the gateway sends, and the constructors of its errors, are in
//! `error.rs` (re-exported here).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

mod error;

pub use error::*;

/// A JSON-RPC id as its JSON text: what a client sent goes back unchanged, byte for
/// byte (an integer id beyond 2^53 or 2^64 included).
#[derive(Debug, Clone)]
pub struct Id(Box<RawValue>);

impl Id {
    pub fn null() -> Id {
        Id::from_json("null")
    }
    #[cfg(test)]
    pub fn from_u64(n: u64) -> Id {
        Id::from_json(&n.to_string())
    }
    pub fn from_string(s: &str) -> Id {
        Id::from_json(&serde_json::to_string(s).unwrap_or_else(|_| "null".into()))
    }
    /// Any JSON value as an id (e.g. a `requestId` read from params).
    pub fn from_value(v: &Value) -> Id {
        Id::from_json(&v.to_string())
    }
    fn from_json(text: &str) -> Id {
        match RawValue::from_string(text.to_string()) {
            Ok(raw) => Id(raw),
            // Every caller passes valid JSON; null is the only sane fallback.
            Err(_) => Id(RawValue::NULL.to_owned()),
        }
    }
    /// The id's JSON text.
    pub fn json(&self) -> &str {
        self.0.get()
    }
    pub fn is_null(&self) -> bool {
        self.json() == "null"
    }
    pub fn as_u64(&self) -> Option<u64> {
        let t = self.json();
        t.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| t.parse().ok())?
    }
    /// The string an id holds, unescaped; None for non-string ids.
    pub fn as_string(&self) -> Option<String> {
        self.json()
            .starts_with('"')
            .then(|| serde_json::from_str(self.json()).ok())?
    }
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.json()).unwrap_or(Value::Null)
    }
    /// A key for tables of in-flight requests: the same for every spelling of one id
    /// (a `requestId` in `notifications/cancelled` may escape a string differently).
    pub fn key(&self) -> String {
        self.to_value().to_string()
    }
    /// What MCP allows as a request id: a string, or an integer (no fraction, no
    /// exponent). Null, booleans, floats, objects and arrays are not ids.
    pub fn is_valid_request_id(&self) -> bool {
        let t = self.json();
        if t.starts_with('"') {
            return true;
        }
        let digits = t.strip_prefix('-').unwrap_or(t);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    }
}

impl PartialEq for Id {
    fn eq(&self, other: &Id) -> bool {
        self.json() == other.json()
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Id, D::Error> {
        Box::<RawValue>::deserialize(d).map(Id)
    }
}

/// `Some` whenever the member is there, `null` included (serde's `Option` would read
/// `"id": null` as absent, turning a request into a notification).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Any JSON-RPC message: request, notification or response.
#[derive(Debug, Deserialize)]
pub struct Message {
    #[serde(default, deserialize_with = "present")]
    pub id: Option<Id>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub params: Option<Value>,
    #[serde(default)]
    pub result: Option<Box<RawValue>>,
    #[serde(default)]
    pub error: Option<Value>,
}

impl Message {
    pub fn is_request(&self) -> bool {
        self.method.is_some() && self.id.as_ref().is_some_and(|i| !i.is_null())
    }
    pub fn is_response(&self) -> bool {
        self.method.is_none() && (self.result.is_some() || self.error.is_some())
    }
}

/// What a client POSTed: one message, or (2025-03-26 only) a batch of them.
#[derive(Debug)]
pub enum Frame {
    One(Message),
    /// The array's items, each still to be read with [`parse_message`].
    Batch(Vec<Box<RawValue>>),
}

/// Why a client message cannot be served, and the id to answer with (None → `null`:
/// the id could not be read).
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub id: Option<Id>,
    pub error: RpcError,
}

impl Refusal {
    fn new(id: Option<Id>, code: i64, message: String) -> Refusal {
        Refusal {
            id,
            error: RpcError::new(code, message),
        }
    }
    /// The error response to send.
    pub fn to_bytes(&self) -> Vec<u8> {
        error_response(self.id.as_ref(), &self.error.to_value())
    }
}

fn parse_failure(e: &serde_json::Error) -> Refusal {
    Refusal::new(None, PARSE_ERROR, format!("Parse error: {e}"))
}

/// Reads a client's body: invalid JSON is -32700; JSON that is neither an object nor
/// an array is -32600 (it is JSON, just not a request).
pub fn parse_frame(bytes: &[u8]) -> Result<Frame, Refusal> {
    let raw: Box<RawValue> = serde_json::from_slice(bytes).map_err(|e| parse_failure(&e))?;
    match raw.get().trim_start().as_bytes().first() {
        Some(b'{') => parse_message(raw.get()).map(Frame::One),
        Some(b'[') => serde_json::from_str(raw.get())
            .map(Frame::Batch)
            .map_err(|e| parse_failure(&e)),
        _ => Err(Refusal::new(
            None,
            INVALID_REQUEST,
            "Invalid Request: a JSON-RPC message is a JSON object".into(),
        )),
    }
}

/// Every member as raw JSON, so each can be checked for its type and an id kept as
/// written; `null` members count as present.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default, deserialize_with = "present")]
    jsonrpc: Option<Box<RawValue>>,
    #[serde(default, deserialize_with = "present")]
    id: Option<Id>,
    #[serde(default, deserialize_with = "present")]
    method: Option<Box<RawValue>>,
    #[serde(default, deserialize_with = "present")]
    params: Option<Box<RawValue>>,
    #[serde(default, deserialize_with = "present")]
    result: Option<Box<RawValue>>,
    #[serde(default, deserialize_with = "present")]
    error: Option<Box<RawValue>>,
}

/// What kind of JSON a text is, for error messages.
fn kind(json: &str) -> &'static str {
    match json.as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number that is not an integer",
    }
}

fn string_of(raw: &RawValue) -> Option<String> {
    serde_json::from_str(raw.get()).ok()
}

/// One message of a client (a whole body, or a batch item) checked against JSON-RPC
/// 2.0 and the MCP schema.
pub fn parse_message(text: &str) -> Result<Message, Refusal> {
    let env: Envelope = serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            Refusal::new(None, INVALID_REQUEST, format!("Invalid Request: {e}"))
        }
        _ => parse_failure(&e),
    })?;
    let readable = env.id.clone().filter(Id::is_valid_request_id);
    let refuse = |why: String| {
        Refusal::new(
            readable.clone(),
            INVALID_REQUEST,
            format!("Invalid Request: {why}"),
        )
    };
    if let Some(id) = env.id.as_ref().filter(|i| !i.is_valid_request_id()) {
        // Only an error response may carry `id: null` (it answers an unreadable request).
        let null_error = id.is_null() && env.method.is_none() && env.error.is_some();
        if !null_error {
            let what = kind(id.json());
            let extra = if id.is_null() {
                " (MCP request ids are never null; leave `id` out for a notification)"
            } else {
                ""
            };
            return Err(refuse(format!(
                "`id` must be a string or an integer, not {what}{extra}"
            )));
        }
    }
    if env.jsonrpc.as_deref().and_then(string_of).as_deref() != Some("2.0") {
        return Err(refuse("`jsonrpc` must be \"2.0\"".into()));
    }
    let method = match env.method.as_deref() {
        None => None,
        Some(raw) => match string_of(raw) {
            Some(m) if raw.get().starts_with('"') => Some(m),
            _ => {
                return Err(refuse(format!(
                    "`method` must be a string, not {}",
                    kind(raw.get())
                )))
            }
        },
    };
    let params = match (env.params.as_deref(), &method) {
        (Some(raw), Some(_)) => match raw.get().as_bytes().first() {
            Some(b'{') => Some(serde_json::from_str(raw.get()).map_err(|e| parse_failure(&e))?),
            Some(b'[') => {
                return Err(Refusal::new(
                    readable,
                    INVALID_PARAMS,
                    "Invalid params: MCP `params` is an object, not an array".into(),
                ))
            }
            _ => {
                return Err(refuse(format!(
                    "`params` must be an object, not {}",
                    kind(raw.get())
                )))
            }
        },
        _ => None,
    };
    if method.is_none() {
        match (&env.result, &env.error, &env.id) {
            (_, _, None) => return Err(refuse("no `method` (and no `id`)".into())),
            (None, None, _) => return Err(refuse("no `method`".into())),
            (Some(_), Some(_), _) => {
                return Err(refuse(
                    "a response carries `result` or `error`, not both".into(),
                ))
            }
            (None, Some(e), _) if !e.get().starts_with('{') => {
                return Err(refuse(format!(
                    "`error` must be an object, not {}",
                    kind(e.get())
                )))
            }
            _ => {}
        }
    }
    let error = match env.error.as_deref() {
        Some(raw) => Some(serde_json::from_str(raw.get()).map_err(|e| parse_failure(&e))?),
        None => None,
    };
    Ok(Message {
        id: env.id,
        method,
        params,
        result: env.result,
        error,
    })
}

/// `{"jsonrpc":"2.0","id":<id>,"<member>":<value>}`, the id and value spliced in as
/// they are.
fn frame_raw(id: Option<&Id>, member: &str, value: &str) -> Vec<u8> {
    let id = id.map_or("null", Id::json);
    let mut out = Vec::with_capacity(32 + id.len() + value.len());
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(b",\"");
    out.extend_from_slice(member.as_bytes());
    out.extend_from_slice(b"\":");
    out.extend_from_slice(value.as_bytes());
    out.push(b'}');
    out
}

/// `{"jsonrpc":"2.0","id":…,"result":…}` built without re-parsing the result.
pub fn response(id: &Id, result: &RawValue) -> Vec<u8> {
    frame_raw(Some(id), "result", result.get())
}

pub fn response_value(id: &Id, result: &Value) -> Vec<u8> {
    frame_raw(Some(id), "result", &result.to_string())
}

/// An error response; `id` is null when the request's id could not be read.
pub fn error_response(id: Option<&Id>, error: &Value) -> Vec<u8> {
    frame_raw(id, "error", &error.to_string())
}

pub fn request(id: u64, method: &str, params: Option<&Value>) -> Vec<u8> {
    let mut msg = serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method});
    if let (Some(p), Some(obj)) = (params, msg.as_object_mut()) {
        obj.insert("params".into(), p.clone());
    }
    serde_json::to_vec(&msg).unwrap_or_default()
}

pub fn notification(method: &str, params: Option<&Value>) -> Vec<u8> {
    let mut msg = serde_json::json!({"jsonrpc": "2.0", "method": method});
    if let (Some(p), Some(obj)) = (params, msg.as_object_mut()) {
        obj.insert("params".into(), p.clone());
    }
    serde_json::to_vec(&msg).unwrap_or_default()
}

/// A tool result that reports an error to the model (`isError: true`).
pub fn tool_error_result(text: &str) -> Value {
    serde_json::json!({"content": [{"type": "text", "text": text}], "isError": true})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_response_is_valid_json() {
        let raw = RawValue::from_string("{\"a\":1}".into()).unwrap();
        let bytes = response(&Id::from_u64(7), &raw);
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["id"], 7);
        assert_eq!(v["result"]["a"], 1);
    }

    #[test]
    fn classifies_messages() {
        let m: Message = serde_json::from_str(r#"{"jsonrpc":"2.0","id":1,"method":"x"}"#).unwrap();
        assert!(m.is_request());
        let m: Message = serde_json::from_str(r#"{"jsonrpc":"2.0","method":"x"}"#).unwrap();
        assert!(!m.is_request() && !m.is_response());
        let m: Message = serde_json::from_str(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#).unwrap();
        assert!(m.is_response());
        let m: Message =
            serde_json::from_str(r#"{"jsonrpc":"2.0","id":null,"method":"x"}"#).unwrap();
        assert!(!m.is_request() && m.id.is_some());
    }

    fn refused(body: &str) -> Refusal {
        match parse_frame(body.as_bytes()) {
            Err(r) => r,
            Ok(f) => panic!("{body} was accepted: {f:?}"),
        }
    }

    fn one(body: &str) -> Message {
        match parse_frame(body.as_bytes()) {
            Ok(Frame::One(m)) => m,
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn ids_come_back_byte_for_byte() {
        for id in [
            "1",
            "-5",
            "0",
            "9007199254740993",
            "18446744073709551617",
            "123456789012345678901234567890",
            r#""abc""#,
            r#""\u00e9\/x""#,
            r#""""#,
        ] {
            let m = one(&format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#));
            let id_back = m.id.clone().unwrap();
            assert!(m.is_request(), "{id}");
            let framed = response_value(&id_back, &serde_json::json!({}));
            let text = String::from_utf8(framed).unwrap();
            assert_eq!(
                text,
                format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#)
            );
            let err = error_response(Some(&id_back), &serde_json::json!({"code": 1}));
            assert!(String::from_utf8(err)
                .unwrap()
                .contains(&format!(r#""id":{id},"#)));
        }
    }

    #[test]
    fn ids_that_are_not_strings_or_integers_are_invalid_requests_with_a_null_id() {
        for id in [
            "null",
            "true",
            "false",
            "1.5",
            "1e3",
            "1.0",
            "{}",
            "[1]",
            r#"{"a":1}"#,
        ] {
            let r = refused(&format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#));
            assert_eq!(r.error.code, INVALID_REQUEST, "{id}");
            assert_eq!(r.id, None, "{id}");
            assert!(r.error.message.contains("`id`"), "{}", r.error.message);
            let bytes = String::from_utf8(r.to_bytes()).unwrap();
            assert!(bytes.contains(r#""id":null"#), "{bytes}");
        }
        // A notification has no id at all; `id: null` is not one.
        let m = one(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        assert!(m.id.is_none());
    }

    #[test]
    fn parse_errors_and_invalid_requests_are_told_apart() {
        for body in ["{", "", "nul", "{\"a\":}", "[1,", "\"abc"] {
            assert_eq!(refused(body).error.code, PARSE_ERROR, "{body}");
        }
        for body in [
            "\"a string\"",
            "42",
            "true",
            "null",
            r#"{"id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
            r#"{"jsonrpc":2.0,"id":1,"method":"ping"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":7}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":null}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":"x"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":null}"#,
            r#"{"jsonrpc":"2.0","id":1}"#,
            r#"{"jsonrpc":"2.0","method":"x","method":"y"}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{},"error":{}}"#,
            r#"{"jsonrpc":"2.0","result":{}}"#,
            r#"{"jsonrpc":"2.0","id":1,"error":"bad"}"#,
            r#"{}"#,
        ] {
            assert_eq!(refused(body).error.code, INVALID_REQUEST, "{body}");
        }
    }

    #[test]
    fn a_readable_id_is_echoed_on_an_invalid_request() {
        let r = refused(r#"{"jsonrpc":"1.0","id":"x-1","method":"ping"}"#);
        assert_eq!(r.id, Some(Id::from_string("x-1")));
        let r = refused(r#"{"jsonrpc":"2.0","id":7,"method":"ping","params":[1]}"#);
        assert_eq!(
            (r.error.code, r.id),
            (INVALID_PARAMS, Some(Id::from_u64(7)))
        );
    }

    #[test]
    fn responses_and_batches() {
        let m = one(r#"{"jsonrpc":"2.0","id":"mg-s-1","result":{"a":1}}"#);
        assert!(m.is_response());
        // An error about an unreadable request answers `id: null`.
        let m = one(r#"{"jsonrpc":"2.0","id":null,"error":{"code":-1,"message":"x"}}"#);
        assert!(m.is_response());
        match parse_frame(br#" [{"jsonrpc":"2.0","id":1,"method":"ping"}, 3]"#) {
            Ok(Frame::Batch(items)) => {
                assert_eq!(items.len(), 2);
                assert!(parse_message(items[0].get()).is_ok());
                assert_eq!(
                    parse_message(items[1].get()).unwrap_err().error.code,
                    INVALID_REQUEST
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ids_as_keys_and_numbers() {
        assert_eq!(Id::from_u64(12).as_u64(), Some(12));
        assert_eq!(Id::from_string("12").as_u64(), None);
        assert_eq!(Id::from_string("a\"b").as_string().as_deref(), Some("a\"b"));
        let written: Id = serde_json::from_str(r#""\u0061""#).unwrap();
        assert_eq!(written.key(), Id::from_string("a").key());
    }
}
