//! The reserved `_meta` keys of 2026-07-28 (protocol version, client capabilities and
//! info, log level, server info) and cleaning a request's params of what only the
//! gateway reads (those keys and the MRTR fields `inputResponses` / `requestState`).

use serde_json::{Map, Value};

use crate::jsonrpc::RpcError;

pub(super) const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
pub(super) const META_CAPS: &str = "io.modelcontextprotocol/clientCapabilities";
pub(super) const META_CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
pub(super) const META_LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
pub(super) const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// Removes what only the gateway reads from a 2026-07-28 request's params before they
/// go upstream (the reserved `_meta` keys, `inputResponses`, `requestState`); returns
/// the MRTR resumption when the request carries `requestState`.
#[allow(clippy::type_complexity)]
pub(super) fn clean_params(
    params: Option<Value>,
) -> Result<(Option<Value>, Option<(String, Map<String, Value>)>), RpcError> {
    let Some(Value::Object(mut p)) = params else {
        return Ok((params, None));
    };
    if let Some(Value::Object(meta)) = p.get_mut("_meta") {
        for key in [META_VERSION, META_CAPS, META_CLIENT_INFO, META_LOG_LEVEL] {
            meta.remove(key);
        }
        if meta.is_empty() {
            p.remove("_meta");
        }
    }
    let responses = p.remove("inputResponses");
    let resume = match p.remove("requestState") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match responses {
            Some(Value::Object(r)) => Some((s, r)),
            None | Some(Value::Null) => Some((s, Map::new())),
            Some(_) => {
                return Err(RpcError::invalid_params(
                    "inputResponses must be an object keyed like inputRequests",
                ))
            }
        },
        Some(_) => return Err(RpcError::invalid_params("requestState must be a string")),
    };
    Ok((Some(Value::Object(p)), resume))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::stateless::VERSION;
    use serde_json::json;

    #[test]
    fn reserved_meta_and_mrtr_fields_stay_at_the_gateway() {
        let params = json!({"name": "a-b", "_meta": {META_VERSION: VERSION, META_CAPS: {}, "progressToken": 3},
                            "inputResponses": {"k": {"action": "accept"}}, "requestState": "s"});
        let (p, resume) = clean_params(Some(params)).unwrap();
        assert_eq!(
            p.unwrap(),
            json!({"name": "a-b", "_meta": {"progressToken": 3}})
        );
        let (state, responses) = resume.unwrap();
        assert_eq!(state, "s");
        assert_eq!(responses["k"]["action"], "accept");
        let (p, resume) = clean_params(Some(json!({"_meta": {META_VERSION: VERSION}}))).unwrap();
        assert_eq!(p.unwrap(), json!({}));
        assert!(resume.is_none());
        assert!(clean_params(Some(json!({"requestState": 1}))).is_err());
    }
}
