//! What a client declared it can do, packed into bits small enough to ride in its
//! session id, and turned back into the `capabilities` object sent upstream.

use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ClientCaps(pub u8);

const ROOTS: u8 = 1;
const ROOTS_LIST_CHANGED: u8 = 2;
const SAMPLING: u8 = 4;
const SAMPLING_CONTEXT: u8 = 8;
const SAMPLING_TOOLS: u8 = 16;
const ELICITATION_FORM: u8 = 32;
const ELICITATION_URL: u8 = 64;

impl ClientCaps {
    /// Reads an `initialize` request's (or a 2026 `_meta`'s) `capabilities` object.
    pub fn from_json(caps: Option<&Value>) -> Self {
        let Some(caps) = caps.and_then(Value::as_object) else {
            return ClientCaps(0);
        };
        let mut bits = 0;
        if let Some(roots) = caps.get("roots") {
            bits |= ROOTS;
            if roots.get("listChanged").and_then(Value::as_bool) == Some(true) {
                bits |= ROOTS_LIST_CHANGED;
            }
        }
        if let Some(sampling) = caps.get("sampling") {
            bits |= SAMPLING;
            if sampling.get("context").is_some() {
                bits |= SAMPLING_CONTEXT;
            }
            if sampling.get("tools").is_some() {
                bits |= SAMPLING_TOOLS;
            }
        }
        if let Some(elicitation) = caps.get("elicitation") {
            let form = elicitation.get("form").is_some();
            let url = elicitation.get("url").is_some();
            // An empty object (2025-06-18) means form mode.
            if form || !url {
                bits |= ELICITATION_FORM;
            }
            if url {
                bits |= ELICITATION_URL;
            }
        }
        ClientCaps(bits)
    }

    /// The capabilities object the gateway declares upstream on this client's behalf.
    pub fn to_json(self) -> Value {
        let mut out = Map::new();
        if self.has(ROOTS) {
            out.insert(
                "roots".into(),
                json!({"listChanged": self.has(ROOTS_LIST_CHANGED)}),
            );
        }
        if self.has(SAMPLING) {
            let mut s = Map::new();
            if self.has(SAMPLING_CONTEXT) {
                s.insert("context".into(), json!({}));
            }
            if self.has(SAMPLING_TOOLS) {
                s.insert("tools".into(), json!({}));
            }
            out.insert("sampling".into(), Value::Object(s));
        }
        if self.has(ELICITATION_FORM) || self.has(ELICITATION_URL) {
            let mut e = Map::new();
            if self.has(ELICITATION_FORM) {
                e.insert("form".into(), json!({}));
            }
            if self.has(ELICITATION_URL) {
                e.insert("url".into(), json!({}));
            }
            out.insert("elicitation".into(), Value::Object(e));
        }
        Value::Object(out)
    }

    fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    /// Whether the client can answer this server→client request.
    pub fn answers(self, method: &str) -> bool {
        match method {
            "sampling/createMessage" => self.has(SAMPLING),
            "elicitation/create" => self.has(ELICITATION_FORM | ELICITATION_URL),
            "roots/list" => self.has(ROOTS),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_what_clients_declare() {
        let declared = json!({"roots": {"listChanged": true}, "sampling": {}, "elicitation": {}});
        let caps = ClientCaps::from_json(Some(&declared));
        assert!(caps.answers("sampling/createMessage"));
        assert!(caps.answers("elicitation/create"));
        assert!(caps.answers("roots/list"));
        assert_eq!(
            caps.to_json(),
            json!({"roots": {"listChanged": true}, "sampling": {}, "elicitation": {"form": {}}})
        );
        let url_only = ClientCaps::from_json(Some(&json!({"elicitation": {"url": {}}})));
        assert_eq!(url_only.to_json(), json!({"elicitation": {"url": {}}}));
        let none = ClientCaps::from_json(Some(&json!({"experimental": {}})));
        assert!(!none.answers("sampling/createMessage"));
        assert_eq!(none.to_json(), json!({}));
        assert_eq!(ClientCaps::from_json(None), ClientCaps(0));
    }
}
