//! The common case of a pre-call check in one pass: a single JSON-RPC message whose
//! `tools/call` arguments hold nothing. The message is read once, by a visitor that
//! notes the method and whether `params._meta` names guardrails, and runs the detectors
//! on the arguments' values as the parser meets them (building no tree). Anything else
//! — a finding, guardrails named in `_meta` (which change what runs), text that is not a
//! JSON object — is left to the full check, which then decides as before.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use super::detect::json_text_may_hold_findings;
use super::entity::BuiltinSet;
use super::matcher::Guardrail;
use super::raw::Scanner;

/// What one pass over a message found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageScan {
    /// Nothing to do: not a `tools/call`, or a call whose arguments hold nothing the
    /// given guardrails find, and no guardrail named in `params._meta`.
    Clean,
    /// The full check must decide (a finding, `_meta.guardrails`, not a JSON object).
    Undecided,
}

/// Scans the message in `body` with `guardrails` (the ones selected without looking at
/// the body). See the module comment.
pub fn scan_message(guardrails: &[&Guardrail], body: &[u8]) -> MessageScan {
    if clean_as_text(guardrails, body) {
        return MessageScan::Clean;
    }
    scan_parsed(guardrails, body)
}

/// The quickest "clean", with no parse at all (most calls end here): a body without a
/// backslash (no escapes, so every string is its own bytes) and without the word
/// `guardrails` (so `_meta` names none), in which the detectors find nothing even when
/// they read it as plain text — keys, punctuation and all
/// (`detect::json_text_may_hold_findings`).
fn clean_as_text(guardrails: &[&Guardrail], body: &[u8]) -> bool {
    let mut set = BuiltinSet::default();
    for g in guardrails {
        if !g.is_builtin() {
            continue;
        }
        match g.plain_builtins() {
            Some(s) => set = set.union(s),
            None => return false,
        }
    }
    !json_text_may_hold_findings(body, set)
}

/// [`scan_message`] by parsing the message.
fn scan_parsed(guardrails: &[&Guardrail], body: &[u8]) -> MessageScan {
    let mut reader = MessageReader {
        scanner: Scanner::new(guardrails),
        method: None,
        meta_guardrails: false,
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = (&mut reader).deserialize(&mut de).and_then(|()| de.end());
    let call = reader.method.as_deref() == Some("tools/call");
    match parsed {
        Ok(()) if !call => MessageScan::Clean,
        Ok(()) if !reader.meta_guardrails => MessageScan::Clean,
        _ => MessageScan::Undecided,
    }
}

struct MessageReader<'a, 'g> {
    scanner: Scanner<'a, 'g>,
    /// The last `method` (a duplicate key wins, as in a parsed tree).
    method: Option<String>,
    meta_guardrails: bool,
}

impl<'de> DeserializeSeed<'de> for &mut MessageReader<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for &mut MessageReader<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON-RPC message")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                // A method that is not a string is not `tools/call`.
                "method" => self.method = map.next_value::<Value>()?.as_str().map(str::to_string),
                "params" => map.next_value_seed(ParamsReader(&mut *self))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// `params`: every `arguments` member is scanned (duplicates included, so whichever one
/// a later parse keeps was checked); `_meta` is read for `guardrails`.
struct ParamsReader<'r, 'a, 'g>(&'r mut MessageReader<'a, 'g>);

impl<'de> DeserializeSeed<'de> for ParamsReader<'_, '_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ParamsReader<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("params")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "arguments" => map.next_value_seed(&mut self.0.scanner)?,
                "_meta" => {
                    let meta = map.next_value::<Value>()?;
                    self.0.meta_guardrails |= meta.get("guardrails").is_some();
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    // `params` that is not an object has no arguments and no `_meta`.
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guardrails::{parse_guardrails, GuardrailSet};
    use serde_json::json;

    fn scan(body: &str) -> MessageScan {
        scan_bytes(body.as_bytes())
    }

    fn guardrails() -> GuardrailSet {
        let specs = parse_guardrails(&[json!({
            "guardrail_name": "all",
            "litellm_params": {"guardrail": "meshgate", "mode": "pre_mcp_call"}
        })])
        .unwrap_or_default();
        GuardrailSet::compile(&specs).unwrap_or_default()
    }

    fn scan_bytes(body: &[u8]) -> MessageScan {
        let set = guardrails();
        let all: Vec<&Guardrail> = set.iter().collect();
        assert_eq!(all.len(), 1);
        scan_message(&all, body)
    }

    #[test]
    fn a_call_with_nothing_to_find_is_clean_in_one_pass() {
        for body in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a-b","arguments":{"q":"plain","n":[1,2]}}}"#,
            r#"{"params":{"arguments":{"q":"plain"},"name":"x"},"method":"tools/call","id":"s"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","_meta":{"progressToken":1}}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":[1,"x"]}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"c"}}"#,
        ] {
            assert_eq!(scan(body), MessageScan::Clean, "{body}");
        }
    }

    #[test]
    fn anything_the_full_check_must_see_is_left_to_it() {
        for body in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"to":"ann@example.com"}}}"#,
            // A finding wherever the method comes, in every copy of a duplicated member.
            r#"{"params":{"arguments":{"to":"ann@example.com"}},"method":"tools/call"}"#,
            r#"{"method":"tools/call","params":{"arguments":{"to":"ann@example.com"},"arguments":{}}}"#,
            r#"{"method":"tools/call","params":{"argu\u006dents":{"to":"ann@example.com"}}}"#,
            r#"{"method":"tools/call","params":{"name":"x","arguments":{},"_meta":{"guardrails":["other"]}}}"#,
            r#"{"method":"tools/call","params":{"_meta":{"guardrails":5}}}"#,
            // The pass stops at a finding, before it may know the method.
            r#"{"params":{"arguments":"ann@example.com"},"method":"tools/list"}"#,
            // An entity behind an escape: the plain read sees the backslash and parses.
            r#"{"method":"tools/call","params":{"arguments":{"to":"ann\u0040example.com"}}}"#,
            r#"{"method":"tools/call","params":{"arguments":{"k":"x\tAKIAIOSFODNN7EXAMPLE"}}}"#,
            // A card as a number after a comma.
            r#"{"method":"tools/call","params":{"arguments":{"n":[1,4111111111111111]}}}"#,
        ] {
            assert_eq!(scan(body), MessageScan::Undecided, "{body}");
        }
    }

    /// Text in which nothing can be found is clean without a parse, JSON or not (a
    /// batch, trailing bytes, not UTF-8): the parse would only have found nothing
    /// either, and what is not JSON is refused after the filter.
    #[test]
    fn text_with_nothing_to_find_is_clean_without_a_parse() {
        let not_utf8: &[u8] =
            b"{\"method\":\"tools/call\",\"params\":{\"arguments\":{\"q\":\"\xff\"}}}";
        for body in [
            br#"[{"method":"tools/call","params":{"arguments":{}}}]"#.as_slice(),
            br#"{"method":"tools/call","params":{"arguments":{}}} trailing"#,
            b"not json",
            not_utf8,
        ] {
            assert_eq!(scan_bytes(body), MessageScan::Clean);
            // The parse alone leaves them to the full check, which passes them.
            let all = guardrails();
            let all: Vec<&Guardrail> = all.iter().collect();
            assert_eq!(scan_parsed(&all, body), MessageScan::Undecided);
        }
    }

    /// Whatever the parse would find in a message, the plain read of its text finds
    /// too: over generated messages (entities, near-entities, numbers after commas,
    /// keys that look like entities, nesting), plain "clean" is never wrong.
    #[test]
    fn the_plain_read_never_calls_clean_what_the_parse_would_not() {
        const PIECES: &[&str] = &[
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "5555555555554444",
            "+44 20 7946 0958",
            "(415) 555-0132",
            "415.555.0132",
            "123-45-6789",
            "DE89 3704 0044 0532 0130 00",
            "GB82WEST12345698765432",
            "192.168.1.20",
            "2001:db8::8a2e:370:7334",
            "fe80::1",
            "AKIAIOSFODNN7EXAMPLE",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "xoxb-1234567890-abcdefghij",
            "sk-proj-abc123def456ghi789jkl012",
            "sk-ant-api03-abcdefghijklmnopqrstuv",
            "-----BEGIN RSA PRIVATE KEY-----",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
            "ann.lee@example.com",
            "2026-12-07T10:00:00Z",
            "0f8fad5b-d9cb-469f-a165-70867728950e",
            "v1.2.3",
            "12:30",
            "order 12",
            "1,234",
            "A1",
            "e",
            "s",
            "-",
            "(",
            "+",
            ":",
            "@",
            "é",
            "0",
            "1234",
            " ",
        ];
        let mut state: u64 = 0x51_7cc1_b727_220a;
        let mut next = |n: usize| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
        };
        fn text(next: &mut impl FnMut(usize) -> usize) -> String {
            (0..1 + next(3))
                .map(|_| PIECES[next(PIECES.len())])
                .collect::<Vec<_>>()
                .join([" ", "", "-", ",", "/"][next(5)])
        }
        fn value(next: &mut impl FnMut(usize) -> usize, depth: usize) -> Value {
            match next(if depth > 2 { 3 } else { 5 }) {
                0 | 1 => Value::String(text(next)),
                2 => {
                    let n: [u64; 5] = [
                        7,
                        4111111111111111,
                        5555555555554444,
                        378282246310005,
                        1234567890123,
                    ];
                    serde_json::json!(n[next(5)])
                }
                3 => Value::Array((0..next(4)).map(|_| value(next, depth + 1)).collect()),
                _ => Value::Object(
                    (0..next(4))
                        .map(|_| (text(next), value(next, depth + 1)))
                        .collect(),
                ),
            }
        }
        let set = guardrails();
        let all: Vec<&Guardrail> = set.iter().collect();
        let (mut plain_clean, mut found) = (0, 0);
        for _ in 0..20_000 {
            let message = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "a-b", "arguments": value(&mut next, 0)}});
            let body = message.to_string();
            let parsed = scan_parsed(&all, body.as_bytes());
            if parsed == MessageScan::Undecided {
                found += 1;
            }
            if clean_as_text(&all, body.as_bytes()) {
                plain_clean += 1;
                assert_eq!(parsed, MessageScan::Clean, "{body}");
            }
        }
        // Both answers happen often (a generator of only one kind would prove nothing).
        assert!(
            plain_clean > 2_000 && found > 2_000,
            "{plain_clean} {found}"
        );
    }
}
