//! Scanning JSON: every string **value** (never a key), recursively through arrays
//! and objects, reported as entity + JSON path (`$.user.emails[1]`), never the value.
//!
//! Numbers: a JSON integer is checked as a credit-card number (and only that — other
//! entities are not numbers, and phone-like or SSN-like integers are ids far more
//! often). Masking replaces such a number with the string `"<CREDIT_CARD>"`.

use serde_json::{Map, Value};

use super::entity::Action;
use super::matcher::{mask_text, Finding, Guardrail};

/// One finding in a JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonFinding<'g> {
    pub guardrail: &'g str,
    pub entity: &'g str,
    pub action: Action,
    /// JSONPath of the value (`$`, `.key` or `['odd key']`, `[index]`).
    pub path: String,
}

/// A step of the path to the value being scanned.
#[derive(Debug, Clone, Copy)]
pub enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// Renders a path: `$.a.b[2]['x y']`.
pub fn render_path(path: &[Seg<'_>]) -> String {
    let mut out = String::from("$");
    for seg in path {
        match seg {
            Seg::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
            Seg::Key(k) if plain_key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Seg::Key(k) => {
                out.push_str("['");
                for c in k.chars() {
                    if c == '\'' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push_str("']");
            }
        }
    }
    out
}

/// Card numbers have 13–19 digits: smaller, negative or fractional numbers are not
/// even turned into text.
fn may_be_card(n: &serde_json::Number) -> bool {
    n.as_u64().is_some_and(|v| v >= 1_000_000_000_000)
}

fn plain_key(k: &str) -> bool {
    let mut chars = k.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Appends the findings of `guardrails` in `value` (at `path`) to `out`, in document
/// order, guardrail order within one value.
pub fn scan_at<'v, 'g>(
    guardrails: &[&'g Guardrail],
    value: &'v Value,
    path: &mut Vec<Seg<'v>>,
    out: &mut Vec<JsonFinding<'g>>,
) {
    let mut buf: Vec<Finding<'g>> = Vec::new();
    walk(guardrails, value, path, out, &mut buf);
}

/// The findings of `guardrails` in a whole document.
pub fn scan_value<'g>(guardrails: &[&'g Guardrail], value: &Value) -> Vec<JsonFinding<'g>> {
    let mut out = Vec::new();
    scan_at(guardrails, value, &mut Vec::new(), &mut out);
    out
}

fn walk<'v, 'g>(
    guardrails: &[&'g Guardrail],
    value: &'v Value,
    path: &mut Vec<Seg<'v>>,
    out: &mut Vec<JsonFinding<'g>>,
    buf: &mut Vec<Finding<'g>>,
) {
    match value {
        Value::String(s) => {
            for &g in guardrails {
                buf.clear();
                g.find(s, buf);
                for f in buf.iter() {
                    out.push(JsonFinding {
                        guardrail: g.name(),
                        entity: f.entity,
                        action: f.action,
                        path: render_path(path),
                    });
                }
            }
        }
        Value::Number(n) if may_be_card(n) => {
            let digits = n.to_string();
            for &g in guardrails {
                if let Some(action) = g.number_finding(&digits) {
                    out.push(JsonFinding {
                        guardrail: g.name(),
                        entity: super::entity::Builtin::CreditCard.name(),
                        action,
                        path: render_path(path),
                    });
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(Seg::Index(i));
                walk(guardrails, item, path, out, buf);
                path.pop();
            }
        }
        Value::Object(map) => walk_object(guardrails, map, path, out, buf),
        _ => {}
    }
}

fn walk_object<'v, 'g>(
    guardrails: &[&'g Guardrail],
    map: &'v Map<String, Value>,
    path: &mut Vec<Seg<'v>>,
    out: &mut Vec<JsonFinding<'g>>,
    buf: &mut Vec<Finding<'g>>,
) {
    for (k, v) in map {
        path.push(Seg::Key(k));
        walk(guardrails, v, path, out, buf);
        path.pop();
    }
}

/// Masks every finding of `guardrails` in `value`, in place: strings get `<ENTITY>`
/// for each match, card numbers become `"<CREDIT_CARD>"`. Guardrails apply in order,
/// each to the text the previous one left. Returns how many values changed.
pub fn mask_in_place(guardrails: &[&Guardrail], value: &mut Value) -> usize {
    let mut buf = Vec::new();
    mask_walk(guardrails, value, &mut buf)
}

fn mask_walk<'g>(
    guardrails: &[&'g Guardrail],
    value: &mut Value,
    buf: &mut Vec<Finding<'g>>,
) -> usize {
    match value {
        Value::String(s) => {
            let mut changed = 0;
            for &g in guardrails {
                buf.clear();
                g.find(s, buf);
                if !buf.is_empty() {
                    *s = mask_text(s, buf);
                    changed = 1;
                }
            }
            changed
        }
        Value::Number(n) if may_be_card(n) => {
            let digits = n.to_string();
            if guardrails
                .iter()
                .any(|g| g.number_finding(&digits).is_some())
            {
                *value = Value::String(format!("<{}>", super::entity::Builtin::CreditCard.name()));
                1
            } else {
                0
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .map(|v| mask_walk(guardrails, v, buf))
            .sum(),
        Value::Object(map) => map
            .values_mut()
            .map(|v| mask_walk(guardrails, v, buf))
            .sum(),
        _ => 0,
    }
}
