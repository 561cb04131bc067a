//! The common case of a pre-call check in one pass: a single JSON-RPC message whose
//! `tools/call` arguments hold nothing. The message is read once, by a visitor that
//! notes the method and whether `params._meta` names guardrails, and runs the detectors
//! on the arguments' values as the parser meets them (building no tree). Anything else
//! — a finding, guardrails named in `_meta` (which change what runs), text that is not a
//! JSON object — is left to the full check, which then decides as before.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

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

    fn scan_bytes(body: &[u8]) -> MessageScan {
        let specs = parse_guardrails(&[json!({
            "guardrail_name": "all",
            "litellm_params": {"guardrail": "meshgate", "mode": "pre_mcp_call"}
        })])
        .unwrap_or_default();
        let set = GuardrailSet::compile(&specs).unwrap_or_default();
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
            r#"[{"method":"tools/call","params":{"arguments":{}}}]"#,
            r#"{"method":"tools/call","params":{"arguments":{}}} trailing"#,
            "not json",
        ] {
            assert_eq!(scan(body), MessageScan::Undecided, "{body}");
        }
        let not_utf8 = b"{\"method\":\"tools/call\",\"params\":{\"arguments\":{\"q\":\"\xff\"}}}";
        assert_eq!(scan_bytes(not_utf8), MessageScan::Undecided);
    }
}
