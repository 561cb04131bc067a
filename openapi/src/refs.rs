//! `$ref` resolution: local JSON pointers (`#/a/b~1c`, percent-encoded or not).
//!
//! Non-schema objects (parameters, request bodies, responses, path items, headers) are
//! dereferenced by following `$ref` chains ([`Refs::deref`]). Schemas are inlined by
//! `schema.rs`, which uses [`Refs::lookup`] and does its own cycle handling.
//! Unresolvable references (external files or URLs, dangling pointers) never fail the load:
//! they are recorded as warnings and the caller substitutes something harmless.

use std::cell::RefCell;
use std::collections::HashMap;

use percent_encoding::percent_decode_str;
use serde_json::Value;

/// How many `$ref` hops a non-schema object may take before we call it a cycle.
const MAX_HOPS: usize = 32;

pub(crate) struct Refs<'a> {
    pub root: &'a Value,
    warnings: RefCell<Vec<String>>,
    cache: RefCell<HashMap<String, Result<&'a Value, String>>>,
}

impl<'a> Refs<'a> {
    pub fn new(root: &'a Value) -> Refs<'a> {
        Refs {
            root,
            warnings: RefCell::new(Vec::new()),
            cache: RefCell::new(HashMap::new()),
        }
    }

    pub fn warn(&self, msg: String) {
        let mut w = self.warnings.borrow_mut();
        if !w.contains(&msg) {
            w.push(msg);
        }
    }

    pub fn into_warnings(self) -> Vec<String> {
        self.warnings.into_inner()
    }

    /// Resolve one reference string to the value it points at.
    pub fn lookup(&self, reference: &str) -> Result<&'a Value, String> {
        if let Some(hit) = self.cache.borrow().get(reference) {
            return hit.clone();
        }
        let found = lookup(self.root, reference);
        self.cache
            .borrow_mut()
            .insert(reference.to_string(), found.clone());
        found
    }

    /// Follow `$ref` chains until a non-reference object. `None` (plus a warning) when a
    /// reference cannot be resolved or the chain loops.
    pub fn deref(&self, v: &'a Value) -> Option<&'a Value> {
        let mut cur = v;
        for _ in 0..MAX_HOPS {
            match cur.get("$ref").and_then(Value::as_str) {
                None => return Some(cur),
                Some(r) => match self.lookup(r) {
                    Ok(next) => cur = next,
                    Err(reason) => {
                        self.warn(format!("cannot resolve $ref `{r}`: {reason}"));
                        return None;
                    }
                },
            }
        }
        self.warn(format!(
            "$ref chain starting at `{}` does not end (cycle)",
            v.get("$ref").and_then(Value::as_str).unwrap_or("")
        ));
        None
    }
}

/// Resolve a local reference (`#/...`) against `root`.
pub(crate) fn lookup<'v>(root: &'v Value, reference: &str) -> Result<&'v Value, String> {
    let Some(fragment) = reference.strip_prefix('#') else {
        return Err("external references (other documents or URLs) are not supported".into());
    };
    let decoded = percent_decode_str(fragment).decode_utf8_lossy();
    if decoded.is_empty() {
        return Ok(root);
    }
    let Some(pointer) = decoded.strip_prefix('/') else {
        return Err("only JSON-pointer fragments (`#/...`) are supported".into());
    };
    let mut cur = root;
    for raw in pointer.split('/') {
        let token = raw.replace("~1", "/").replace("~0", "~");
        cur = match cur {
            Value::Object(m) => m.get(&token),
            Value::Array(a) => token.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        }
        .ok_or_else(|| format!("`{token}` not found"))?;
    }
    Ok(cur)
}

/// The last segment of a reference, for messages: `#/components/schemas/Pet` → `Pet`.
pub(crate) fn ref_name(reference: &str) -> String {
    let decoded = percent_decode_str(reference).decode_utf8_lossy();
    decoded
        .rsplit('/')
        .next()
        .unwrap_or("")
        .replace("~1", "/")
        .replace("~0", "~")
}
