//! JSON-RPC 2.0 framing. Results from upstreams are kept as raw JSON so they pass
//! through byte for byte, without a parse/re-serialize round trip.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;

/// Any JSON-RPC message: request, notification or response.
#[derive(Debug, Deserialize)]
pub struct Message {
    #[serde(default)]
    pub jsonrpc: Option<String>,
    #[serde(default)]
    pub id: Option<Value>,
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
        self.method.is_some() && self.id.is_some()
    }
    pub fn is_response(&self) -> bool {
        self.method.is_none() && (self.result.is_some() || self.error.is_some())
    }
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }
    pub fn to_value(&self) -> Value {
        let mut v = serde_json::json!({"code": self.code, "message": self.message});
        if let (Some(data), Some(obj)) = (&self.data, v.as_object_mut()) {
            obj.insert("data".into(), data.clone());
        }
        v
    }
}

/// `{"jsonrpc":"2.0","id":…,"result":…}` built without re-parsing the result.
pub fn response(id: &Value, result: &RawValue) -> Vec<u8> {
    let id = serde_json::to_string(id).unwrap_or_else(|_| "null".into());
    let result = result.get();
    let mut out = Vec::with_capacity(32 + id.len() + result.len());
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(b",\"result\":");
    out.extend_from_slice(result.as_bytes());
    out.push(b'}');
    out
}

pub fn response_value(id: &Value, result: &Value) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"jsonrpc": "2.0", "id": id, "result": result}))
        .unwrap_or_default()
}

/// An error response; `id` is null when the request's id could not be read.
pub fn error_response(id: Option<&Value>, error: &Value) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "jsonrpc": "2.0",
        "id": id.cloned().unwrap_or(Value::Null),
        "error": error,
    }))
    .unwrap_or_default()
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
        let bytes = response(&Value::from(7), &raw);
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
    }
}
