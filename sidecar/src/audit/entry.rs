//! One Envoy access-log entry → one audit row: the time, request id, HTTP method, path
//! (without its query string), status, and the filter's record (filter state
//! `wasm.meshgate_audit`: decision, reason, principal, MCP method, server, tool). An entry
//! without the record is a request the filter never decided (Envoy answered it before
//! the filter ran, e.g. no route): kept as `unrecorded` with Envoy's response details.

use envoy_types::pb::envoy::data::accesslog::v3::HttpAccessLogEntry;
use envoy_types::pb::google::protobuf::{Any, BytesValue};
use meshgate_policy::audit::{AuditRecord, FILTER_STATE_KEY};
use meshgate_store::NewAuditRow;
use prost::Message;

/// Decision of an entry that carries no record of the filter.
pub const UNRECORDED: &str = "unrecorded";

/// The audit row of one entry (alias, team and organization are filled later, from the
/// key's record).
pub fn row_of(entry: &HttpAccessLogEntry) -> NewAuditRow {
    let common = entry.common_properties.as_ref();
    let request = entry.request.as_ref();
    let response = entry.response.as_ref();
    let at_ms = common
        .and_then(|c| c.start_time.as_ref())
        .map_or(0, |t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000);
    let record = common
        .and_then(|c| c.filter_state_objects.get(FILTER_STATE_KEY))
        .and_then(record_of);
    let mut row = NewAuditRow {
        at_ms,
        request_id: request
            .map(|r| r.request_id.as_str())
            .filter(|id| !id.is_empty())
            .map(|id| clip(id, 128)),
        http_status: response
            .and_then(|r| r.response_code.as_ref())
            .map(|c| i64::from(c.value)),
        http_method: request.and_then(|r| method_name(r.request_method)),
        path: request
            .map(|r| r.path.split(['?', '#']).next().unwrap_or_default())
            .filter(|p| !p.is_empty())
            .map(|p| clip(p, 512)),
        ..NewAuditRow::default()
    };
    match record {
        Some(r) => {
            row.decision = r.decision.as_str().to_string();
            row.reason = r.reason;
            row.principal = r
                .principal
                .or_else(|| r.unknown_key.map(|k| format!("unknown:{k}")));
            row.mcp_method = r.method;
            row.server = r.server;
            row.tool = r.tool;
            row.guardrail = r.guardrail;
            row.arguments = r.arguments;
        }
        None => {
            row.decision = UNRECORDED.to_string();
            row.reason = response
                .map(|r| r.response_code_details.as_str())
                .filter(|d| !d.is_empty())
                .map_or_else(|| "-".to_string(), |d| clip(d, 128));
        }
    }
    row
}

/// Envoy packs the filter's value (a `CelState` of bytes) as `google.protobuf.BytesValue`.
fn record_of(any: &Any) -> Option<AuditRecord> {
    let bytes = BytesValue::decode(any.value.as_slice()).ok()?.value;
    match AuditRecord::parse(&bytes) {
        Ok(record) => Some(record),
        Err(e) => {
            crate::log_limit::warn_limited!(
                "audit",
                "record",
                "audit: ignoring a malformed filter record: {e}"
            );
            None
        }
    }
}

fn method_name(method: i32) -> Option<String> {
    use envoy_types::pb::envoy::config::core::v3::RequestMethod;
    match RequestMethod::try_from(method).ok()? {
        RequestMethod::MethodUnspecified => None,
        m => Some(m.as_str_name().to_string()),
    }
}

fn clip(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::data::accesslog::v3::{
        AccessLogCommon, HttpRequestProperties, HttpResponseProperties,
    };
    use envoy_types::pb::google::protobuf::{Timestamp, UInt32Value};

    fn entry(state: Option<&[u8]>, path: &str, status: u32) -> HttpAccessLogEntry {
        let mut common = AccessLogCommon {
            start_time: Some(Timestamp {
                seconds: 1_800_000_000,
                nanos: 250_000_000,
            }),
            ..Default::default()
        };
        if let Some(bytes) = state {
            common.filter_state_objects.insert(
                FILTER_STATE_KEY.to_string(),
                Any {
                    type_url: "type.googleapis.com/google.protobuf.BytesValue".into(),
                    value: BytesValue {
                        value: bytes.to_vec(),
                    }
                    .encode_to_vec(),
                },
            );
        }
        HttpAccessLogEntry {
            common_properties: Some(common),
            request: Some(HttpRequestProperties {
                request_method: 3,
                path: path.into(),
                request_id: "req-1".into(),
                ..Default::default()
            }),
            response: Some(HttpResponseProperties {
                response_code: Some(UInt32Value { value: status }),
                response_code_details: "route_not_found".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_refusal_of_the_filter_becomes_a_row_with_its_reason_and_no_query() {
        let record = br#"{"v":1,"decision":"refused","reason":"invalid_key","unknown_key":"0123456789abcdef"}"#;
        let row = row_of(&entry(Some(record), "/mcp?token=secret", 401));
        assert_eq!(row.at_ms, 1_800_000_000_250);
        assert_eq!(row.decision, "refused");
        assert_eq!(row.reason, "invalid_key");
        assert_eq!(row.principal.as_deref(), Some("unknown:0123456789abcdef"));
        assert_eq!(row.http_status, Some(401));
        assert_eq!(row.http_method.as_deref(), Some("POST"));
        assert_eq!(row.path.as_deref(), Some("/mcp"));
        assert_eq!(row.request_id.as_deref(), Some("req-1"));
    }

    #[test]
    fn an_allowed_call_carries_server_and_tool() {
        let record = br#"{"v":1,"decision":"allowed","reason":"ok","principal":"key:abc","method":"tools/call","server":"web","tool":"add"}"#;
        let row = row_of(&entry(Some(record), "/mcp", 200));
        assert_eq!(
            (row.decision.as_str(), row.principal.as_deref()),
            ("allowed", Some("key:abc"))
        );
        assert_eq!(
            (
                row.mcp_method.as_deref(),
                row.server.as_deref(),
                row.tool.as_deref()
            ),
            (Some("tools/call"), Some("web"), Some("add"))
        );
    }

    #[test]
    fn without_a_record_or_with_garbage_the_row_says_unrecorded() {
        for state in [None, Some(&b"{not json"[..]), Some(&[0xff, 0x00][..])] {
            let row = row_of(&entry(state, "/nowhere", 404));
            assert_eq!(row.decision, UNRECORDED);
            assert_eq!(row.reason, "route_not_found");
            assert_eq!(row.principal, None);
        }
        // An Any that is not a BytesValue at all.
        let mut e = entry(None, "/x", 500);
        e.common_properties
            .as_mut()
            .unwrap()
            .filter_state_objects
            .insert(
                FILTER_STATE_KEY.into(),
                Any {
                    type_url: "x".into(),
                    value: vec![0xff; 7],
                },
            );
        assert_eq!(row_of(&e).decision, UNRECORDED);
        // An empty entry.
        let row = row_of(&HttpAccessLogEntry::default());
        assert_eq!((row.at_ms, row.decision.as_str()), (0, UNRECORDED));
    }
}
