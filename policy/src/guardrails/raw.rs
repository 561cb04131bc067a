//! Checking `tools/call` arguments straight from their JSON text. Most calls have
//! nothing to find: the text is walked once by a serde visitor that runs the
//! detectors on each string value (and each card-sized integer) as the parser meets
//! it, builds no tree and stops at the first finding. Only then is the tree built and
//! the usual check (paths, block or mask) run on it.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::matcher::{Finding, Guardrail};
use super::verdict::{check_arguments, Verdict};

/// The error message that ends the walk at a finding (not a parse error).
const FOUND: &str = "guardrail finding";

/// Like [`check_arguments`] on the parsed `raw` JSON, without parsing it into a
/// tree when nothing is found. Text that is not JSON passes (the caller refuses it).
pub fn check_arguments_raw<'g>(guardrails: &[&'g Guardrail], raw: &str) -> Verdict<'g> {
    if guardrails.is_empty() || !has_finding(guardrails, raw) {
        return Verdict::Pass;
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(value) => check_arguments(guardrails, &value),
        Err(_) => Verdict::Pass,
    }
}

/// Whether any guardrail finds anything in any value of `raw` (false for text that
/// is not JSON).
pub fn has_finding(guardrails: &[&Guardrail], raw: &str) -> bool {
    let mut scanner = Scanner::new(guardrails);
    let mut de = serde_json::Deserializer::from_str(raw);
    // The walk ends in an error at a finding or at bad JSON: `found` tells which.
    let _ = (&mut scanner).deserialize(&mut de);
    scanner.found
}

/// Runs the detectors on every value it is fed; its walk ends in an error at the first
/// finding.
pub(super) struct Scanner<'a, 'g> {
    guardrails: &'a [&'g Guardrail],
    buf: Vec<Finding<'g>>,
    found: bool,
}

impl<'a, 'g> Scanner<'a, 'g> {
    pub(super) fn new(guardrails: &'a [&'g Guardrail]) -> Self {
        Scanner {
            guardrails,
            buf: Vec::new(),
            found: false,
        }
    }

    fn stop<E: de::Error>(&mut self) -> Result<(), E> {
        self.found = true;
        Err(E::custom(FOUND))
    }
}

impl<'de> DeserializeSeed<'de> for &mut Scanner<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for &mut Scanner<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<(), E> {
        for &g in self.guardrails {
            self.buf.clear();
            g.find(text, &mut self.buf);
            if !self.buf.is_empty() {
                return self.stop();
            }
        }
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<(), E> {
        // As `scan`: only integers of card size are read as card numbers.
        if n < 1_000_000_000_000 {
            return Ok(());
        }
        let digits = n.to_string();
        if self
            .guardrails
            .iter()
            .any(|g| g.number_finding(&digits).is_some())
        {
            return self.stop();
        }
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

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(&mut *self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Keys are never scanned.
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(&mut *self)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guardrails::{parse_guardrails, GuardrailSet};
    use serde_json::json;

    fn all_builtins() -> GuardrailSet {
        let specs = parse_guardrails(&[json!({
            "guardrail_name": "all",
            "litellm_params": {"guardrail": "meshgate", "mode": "pre_mcp_call"}
        })])
        .unwrap_or_default();
        GuardrailSet::compile(&specs).unwrap_or_default()
    }

    #[test]
    fn the_raw_check_decides_like_the_tree_check() {
        let set = all_builtins();
        let all: Vec<&Guardrail> = set.iter().collect();
        assert_eq!(all.len(), 1);
        let documents = [
            r#"{"q": "plain text", "n": [1, 2.5, -3, true, null], "o": {}}"#,
            r#"{"to": "ann@example.com", "body": "hi"}"#,
            r#"{"to": "ann\u0040example.com"}"#,
            r#"{"ann@example.com": "keys are not scanned"}"#,
            r#"{"card": 5555555555554444, "qty": 3}"#,
            r#"{"card": 5555555555554445}"#,
            r#"{"deep": [[{"x": ["call +44 20 7946 0958"]}]]}"#,
            r#"{"key": "AKIAIOSFODNN7EXAMPLE", "mail": "bob@example.org"}"#,
            r#""4111 1111 1111 1111""#,
            r#"null"#,
            r#"[]"#,
        ];
        for raw in documents {
            let tree: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
            assert_eq!(
                check_arguments_raw(&all, raw),
                check_arguments(&all, &tree),
                "{raw}"
            );
        }
    }

    #[test]
    fn text_that_is_not_json_passes() {
        let set = all_builtins();
        let all: Vec<&Guardrail> = set.iter().collect();
        assert_eq!(check_arguments_raw(&all, "{\"a\": "), Verdict::Pass);
        assert_eq!(check_arguments_raw(&all, "\"ok\" trailing"), Verdict::Pass);
        assert!(!has_finding(&all, "{\"a\": \"plain\"}"));
    }
}
