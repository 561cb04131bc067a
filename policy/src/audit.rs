//! The audit record of one request: what the filter decided, for whom, and on what.
//!
//! The filter stores it as Envoy filter state (proxy-wasm `set_property`), Envoy sends it
//! with the request's access-log entry to the sidecar (AccessLogService), and the sidecar
//! turns it into an audit row — so refusals the sidecar never saw are in the trail too.
//! The record never carries a secret, nor an argument value unless the configuration asks
//! for them (`meshgate.audit_arguments`): the principal is its wire form (`master`,
//! `key:<16 hex of the key's SHA-256>`), an unknown key only the first 16 hex digits of its
//! SHA-256.

use serde::{Deserialize, Serialize};

use crate::auth::{find_gateway_key, hash_key, hashes_equal};
use crate::decision::Rejection;
use crate::mcp_headers::RequestIntent;
use crate::principal::Principal;
use crate::snapshot::PolicySnapshot;

/// The property the filter sets; Envoy keeps it as the filter state object
/// [`FILTER_STATE_KEY`].
pub const PROPERTY: &str = "meshgate_audit";
/// Envoy's name for the filter's property (`wasm.` + [`PROPERTY`]), listed in the access
/// logger's `filter_state_objects_to_log`.
pub const FILTER_STATE_KEY: &str = "wasm.meshgate_audit";
/// Response header the sidecar sets on an answered request: `<method> <name>` (the name a
/// `tools/call` or `prompts/get` addressed). The filter moves it into the record and
/// removes it, so it never reaches the client.
pub const CALL_HEADER: &str = "x-meshgate-call";
/// Response header the sidecar sets, when `meshgate.audit_arguments` is on, on an
/// answered `tools/call`: its arguments as [`arguments_for_audit`] writes them. Moved into
/// the record and removed by the filter like [`CALL_HEADER`].
pub const ARGUMENTS_HEADER: &str = "x-meshgate-call-arguments";
/// Most bytes of arguments an audit record keeps; longer ones are cut and marked.
pub const MAX_ARGUMENTS: usize = 2048;
/// Room for the mark after cut arguments (`...[truncated, N bytes]`).
const MARK_ROOM: usize = 48;
/// Reason of an allowed request.
pub const OK: &str = "ok";
/// Reason of a call a pre_mcp_call guardrail blocked in the filter.
pub const GUARDRAIL_BLOCKED: &str = "guardrail_blocked";
/// Version of the record's JSON form.
pub const VERSION: u8 = 1;
/// Longest method, server, tool or guardrail name kept (longer ones are cut).
pub const MAX_FIELD: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Allowed,
    Refused,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::Refused => "refused",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub v: u8,
    pub decision: Verdict,
    /// `ok`, or the refusal's error kind (`authentication_required`, `invalid_key`,
    /// `server_not_allowed`, `rate_limited`, [`GUARDRAIL_BLOCKED`], …).
    pub reason: String,
    /// The principal's wire form ([`Principal::encode`]), when the key was recognised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// First 16 hex digits of the SHA-256 of a presented key that was not recognised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guardrail: Option<String>,
    /// The call's arguments (only with `meshgate.audit_arguments`): JSON with every
    /// non-ASCII character escaped, cut at [`MAX_ARGUMENTS`] bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

impl AuditRecord {
    /// A request the filter forwarded, with what its `Mcp-Method` / `Mcp-Name` headers
    /// (MCP 2026-07-28) say it does.
    pub fn allowed(
        snapshot: Option<&PolicySnapshot>,
        principal: &Principal,
        headers: &[(String, String)],
    ) -> Self {
        let mut record = Self::new(Verdict::Allowed, OK);
        record.principal = Some(principal.encode());
        record.note_intent(snapshot, headers);
        record
    }

    /// A request the filter refused at header time: who it was (read from the headers as
    /// `decide` read them) and what it addressed.
    pub fn refused(
        snapshot: Option<&PolicySnapshot>,
        rejection: &Rejection,
        headers: &[(String, String)],
    ) -> Self {
        let mut record = Self::new(Verdict::Refused, rejection.error);
        if let Some(snapshot) = snapshot {
            match who(snapshot, headers) {
                Who::Known(principal) => record.principal = Some(principal.encode()),
                Who::Unknown(prefix) => record.unknown_key = Some(prefix),
                Who::Nobody => {}
            }
        }
        record.note_intent(snapshot, headers);
        record
    }

    /// The request was refused after the headers passed (its body: a guardrail block, a
    /// batch over the rate limit, a body too large).
    pub fn refuse(&mut self, reason: &str) {
        self.decision = Verdict::Refused;
        self.reason = clip(reason);
    }

    /// A pre_mcp_call guardrail blocked a call to `server`.
    pub fn guardrail_blocked(&mut self, guardrail: &str, server: &str, tool: Option<&str>) {
        self.refuse(GUARDRAIL_BLOCKED);
        self.method = Some("tools/call".to_string());
        self.guardrail = Some(clip(guardrail));
        if server != "-" && !server.is_empty() {
            self.server = Some(clip(server));
        }
        if let Some(tool) = tool {
            self.tool = Some(clip(tool));
        }
    }

    /// The sidecar's [`CALL_HEADER`] on the response: the method, and the server and
    /// tool its name addresses (split as the sidecar splits it). A malformed value is
    /// ignored.
    pub fn note_call(&mut self, snapshot: Option<&PolicySnapshot>, value: &str) {
        let mut parts = value.splitn(2, ' ');
        let Some(method) = parts.next().filter(|m| valid_token(m)) else {
            return;
        };
        self.method = Some(clip(method));
        if let Some(name) = parts.next().filter(|n| !n.is_empty()) {
            self.note_name(snapshot, name);
        }
    }

    /// The sidecar's [`ARGUMENTS_HEADER`]: kept (cut to [`MAX_ARGUMENTS`] bytes and
    /// marked, should a longer value arrive).
    pub fn note_arguments(&mut self, value: &str) {
        // The sidecar cut it already (its mark makes it a little longer than the limit).
        self.arguments = Some(if value.len() <= MAX_ARGUMENTS + MARK_ROOM {
            value.to_string()
        } else {
            cut_arguments(value.to_string())
        });
    }

    /// The JSON text Envoy carries.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a record back (the sidecar, from Envoy's access log).
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let record: AuditRecord =
            serde_json::from_slice(bytes).map_err(|e| format!("not an audit record: {e}"))?;
        if record.v != VERSION {
            return Err(format!(
                "audit record version {} is not {VERSION}",
                record.v
            ));
        }
        Ok(record)
    }

    fn new(decision: Verdict, reason: &str) -> Self {
        AuditRecord {
            v: VERSION,
            decision,
            reason: clip(reason),
            principal: None,
            unknown_key: None,
            method: None,
            server: None,
            tool: None,
            guardrail: None,
            arguments: None,
        }
    }

    fn note_intent(&mut self, snapshot: Option<&PolicySnapshot>, headers: &[(String, String)]) {
        let Ok(intent) = RequestIntent::from_headers(headers) else {
            return;
        };
        if let Some(method) = intent.method() {
            self.method = Some(clip(method));
        }
        if let Some(name) = intent.name() {
            let name = name.to_string();
            self.note_name(snapshot, &name);
        }
    }

    /// `{prefix}{sep}{tool}` → server and tool; a name with no known prefix is kept as
    /// the tool.
    fn note_name(&mut self, snapshot: Option<&PolicySnapshot>, name: &str) {
        let split = snapshot.and_then(|s| {
            let (prefix, tool) = s.split_name(name)?;
            let server = s.server_by_any_name(prefix)?;
            Some((server.name.clone(), tool.to_string()))
        });
        match split {
            Some((server, tool)) => {
                self.server = Some(clip(&server));
                self.tool = Some(clip(&tool));
            }
            None => self.tool = Some(clip(name)),
        }
    }
}

enum Who {
    Known(Principal),
    /// First 16 hex digits of the presented key's hash.
    Unknown(String),
    Nobody,
}

/// Whose key the headers carry. Two keys (a 400) or none: nobody.
fn who(snapshot: &PolicySnapshot, headers: &[(String, String)]) -> Who {
    let Ok(presented) = find_gateway_key(headers, &snapshot.key_header) else {
        return Who::Nobody;
    };
    if presented.key.is_empty() {
        return Who::Nobody;
    }
    let hashed = hash_key(presented.key);
    if snapshot
        .master_key_hash
        .as_deref()
        .is_some_and(|m| hashes_equal(m, &hashed))
    {
        return Who::Known(Principal::Master);
    }
    match snapshot.key_by_hash(&hashed) {
        Some(key) => Who::Known(Principal::Key(key.id.clone())),
        None => Who::Unknown(hashed.get(..16).unwrap_or_default().to_string()),
    }
}

/// A call's arguments as an audit record keeps them: compact JSON with every non-ASCII
/// character written `\uXXXX` (so a header can carry it), cut at [`MAX_ARGUMENTS`] bytes
/// and then ending `...[truncated, N bytes]` (no longer JSON).
pub fn arguments_for_audit(arguments: &serde_json::Value) -> String {
    let json = serde_json::to_string(arguments).unwrap_or_default();
    let mut ascii = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            ascii.push(c);
        } else {
            // Non-ASCII only occurs inside JSON strings, where `\uXXXX` means the same.
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                ascii.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    cut_arguments(ascii)
}

fn cut_arguments(text: String) -> String {
    if text.len() <= MAX_ARGUMENTS {
        return text;
    }
    let mut end = MAX_ARGUMENTS;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}...[truncated, {} bytes]",
        text.get(..end).unwrap_or_default(),
        text.len()
    )
}

/// A method name: printable ASCII without spaces.
fn valid_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic())
}

/// At most [`MAX_FIELD`] bytes, cut at a character boundary.
fn clip(s: &str) -> String {
    if s.len() <= MAX_FIELD {
        return s.to_string();
    }
    let mut end = MAX_FIELD;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{decide, Decision};
    use crate::ratelimit::RateGate;
    use crate::snapshot::SnapshotKey;
    use crate::GatewayConfig;

    struct NoLimits;
    impl RateGate for NoLimits {
        fn admit_n(&mut self, _: &str, _: u32, _: u32, _: u64) -> Result<(), u64> {
            Ok(())
        }
    }

    const MASTER: &str = "sk-master-audit";
    const KEY: &str = "sk-virtual-audit";

    fn snapshot() -> PolicySnapshot {
        let cfg = GatewayConfig::parse(&format!(
            "general_settings: {{master_key: {MASTER}}}\nmcp_servers:\n  github_mcp: {{url: 'http://x/mcp', transport: http, alias: gh}}\n  web_mcp: {{url: 'http://y/mcp', transport: http, alias: web}}\n"
        ))
        .unwrap();
        let hash = hash_key(KEY);
        let key = SnapshotKey {
            id: hash[..16].to_string(),
            hash,
            servers: vec![1],
            ..SnapshotKey::default()
        };
        PolicySnapshot::compile_with_keys(&cfg, vec![key])
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut h = vec![(":method".to_string(), "POST".to_string())];
        h.extend(pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        h
    }

    /// Decides as the filter does and builds the record from the outcome.
    fn record_of(s: &PolicySnapshot, path: &str, h: &[(String, String)]) -> AuditRecord {
        match decide(Some(s), path, h, 0, &mut NoLimits) {
            Decision::Forward(f) => AuditRecord::allowed(Some(s), &f.principal, h),
            Decision::Reject(r) => AuditRecord::refused(Some(s), &r, h),
        }
    }

    #[test]
    fn a_missing_key_is_refused_with_nobody() {
        let s = snapshot();
        let r = record_of(&s, "/mcp", &headers(&[]));
        assert_eq!(r.decision, Verdict::Refused);
        assert_eq!(r.reason, "authentication_required");
        assert_eq!((r.principal, r.unknown_key), (None, None));
    }

    #[test]
    fn an_invalid_key_is_recorded_by_a_hash_prefix_never_the_key() {
        let s = snapshot();
        let bad = "sk-not-a-real-key";
        let auth = format!("Bearer {bad}");
        let r = record_of(&s, "/mcp", &headers(&[("authorization", &auth)]));
        assert_eq!(r.reason, "invalid_key");
        assert_eq!(r.unknown_key.as_deref(), Some(&hash_key(bad)[..16]));
        assert!(r.principal.is_none());
        assert!(!r.encode().contains(bad));
    }

    #[test]
    fn a_forbidden_server_names_the_key_and_the_server() {
        let s = snapshot();
        let auth = format!("Bearer {KEY}");
        let h = headers(&[
            ("authorization", &auth),
            ("mcp-method", "tools/call"),
            ("mcp-name", "gh-create_issue"),
        ]);
        let r = record_of(&s, "/mcp", &h);
        assert_eq!(r.decision, Verdict::Refused);
        assert_eq!(r.reason, "server_not_allowed");
        assert_eq!(r.principal, Some(format!("key:{}", &hash_key(KEY)[..16])));
        assert_eq!(r.method.as_deref(), Some("tools/call"));
        assert_eq!(r.server.as_deref(), Some("github_mcp"));
        assert_eq!(r.tool.as_deref(), Some("create_issue"));
        assert!(!r.encode().contains(KEY));
    }

    #[test]
    fn an_empty_servers_header_is_refused_for_the_known_key() {
        let s = snapshot();
        let auth = format!("Bearer {MASTER}");
        let h = headers(&[("authorization", &auth), ("x-mcp-servers", " , ")]);
        let r = record_of(&s, "/mcp", &h);
        assert_eq!(r.reason, "no_matching_servers");
        assert_eq!(r.principal.as_deref(), Some("master"));
    }

    #[test]
    fn an_allowed_request_takes_method_and_name_from_the_sidecar() {
        let s = snapshot();
        let auth = format!("Bearer {KEY}");
        let mut r = record_of(&s, "/mcp", &headers(&[("authorization", &auth)]));
        assert_eq!((r.decision, r.reason.as_str()), (Verdict::Allowed, OK));
        assert_eq!(r.method, None);
        r.note_call(Some(&s), "tools/call web-fetch");
        assert_eq!(r.method.as_deref(), Some("tools/call"));
        assert_eq!(r.server.as_deref(), Some("web_mcp"));
        assert_eq!(r.tool.as_deref(), Some("fetch"));
        // A bare name stays the tool; garbage changes nothing.
        let mut bare = r.clone();
        bare.note_call(Some(&s), "tools/call add");
        assert_eq!(bare.tool.as_deref(), Some("add"));
        let mut junk = r.clone();
        junk.note_call(Some(&s), "");
        junk.note_call(Some(&s), "\u{7f} x");
        assert_eq!(junk, r);
    }

    #[test]
    fn a_guardrail_block_turns_the_record_into_a_refusal() {
        let s = snapshot();
        let auth = format!("Bearer {MASTER}");
        let mut r = record_of(&s, "/mcp", &headers(&[("authorization", &auth)]));
        r.guardrail_blocked("no-cards", "web_mcp", Some("fetch"));
        assert_eq!(r.decision, Verdict::Refused);
        assert_eq!(r.reason, GUARDRAIL_BLOCKED);
        assert_eq!(r.guardrail.as_deref(), Some("no-cards"));
        assert_eq!(r.server.as_deref(), Some("web_mcp"));
    }

    #[test]
    fn records_round_trip_and_foreign_text_is_refused() {
        let s = snapshot();
        let r = record_of(&s, "/mcp", &headers(&[]));
        assert_eq!(AuditRecord::parse(r.encode().as_bytes()), Ok(r));
        assert!(AuditRecord::parse(b"not json").is_err());
        assert!(AuditRecord::parse(br#"{"v":9,"decision":"allowed","reason":"ok"}"#).is_err());
        assert!(AuditRecord::parse(br#"{"v":1,"decision":"maybe","reason":"ok"}"#).is_err());
    }

    #[test]
    fn long_names_are_clipped_at_a_character_boundary() {
        let s = snapshot();
        let mut r = record_of(&s, "/mcp", &headers(&[]));
        let long = "é".repeat(MAX_FIELD);
        r.note_call(None, &format!("tools/call {long}"));
        let tool = r.tool.unwrap();
        assert!(tool.len() <= MAX_FIELD && tool.chars().all(|c| c == 'é'));
    }

    #[test]
    fn arguments_are_ascii_json_that_reads_back_the_same() {
        let args = serde_json::json!({"q": "café 😀 \"quoted\"\n", "n": 1});
        let text = arguments_for_audit(&args);
        assert!(text.is_ascii(), "{text}");
        assert!(text.contains("caf\\u00e9 \\ud83d\\ude00"), "{text}");
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, args);
        // A header value can carry it: visible ASCII and spaces only.
        assert!(text.bytes().all(|b| (0x20..0x7f).contains(&b)), "{text}");
    }

    #[test]
    fn long_arguments_are_cut_and_marked() {
        let args = serde_json::json!({"blob": "é".repeat(5000)});
        let text = arguments_for_audit(&args);
        assert!(text.starts_with("{\"blob\":\"\\u00e9"), "{}", &text[..40]);
        assert!(
            text.ends_with("...[truncated, 30011 bytes]"),
            "{}",
            &text[text.len() - 40..]
        );
        assert!(text.len() <= MAX_ARGUMENTS + 40);
        // A hostile header is cut too, at a character boundary.
        let mut r = AuditRecord::new(Verdict::Allowed, OK);
        r.note_arguments(&text);
        assert_eq!(r.arguments.as_deref(), Some(text.as_str()), "kept as cut");
        r.note_arguments(&"ü".repeat(3000));
        let kept = r.arguments.clone().unwrap();
        assert!(kept.ends_with("...[truncated, 6000 bytes]"), "{kept}");
        assert!(kept.len() <= MAX_ARGUMENTS + 40);
    }

    #[test]
    fn arguments_travel_only_when_noted() {
        let mut r = AuditRecord::new(Verdict::Allowed, OK);
        assert!(!r.encode().contains("arguments"));
        r.note_arguments(r#"{"a":1}"#);
        let back = AuditRecord::parse(r.encode().as_bytes()).unwrap();
        assert_eq!(back.arguments.as_deref(), Some(r#"{"a":1}"#));
    }
}
