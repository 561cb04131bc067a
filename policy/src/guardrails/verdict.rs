//! The decision for one document: block, mask, or pass, over the guardrails selected
//! for a call. A BLOCK finding anywhere wins over every MASK; the first one in
//! document order (guardrail order within a value) is named.

use serde_json::Value;

use super::entity::Action;
use super::matcher::Guardrail;
use super::scan::{mask_in_place, scan_at, JsonFinding, Seg};

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict<'g> {
    /// Nothing found: forward unchanged.
    Pass,
    /// Refuse: this finding's guardrail and entity are named to the client.
    Block(JsonFinding<'g>),
    /// Forward `value`, in which each match is `<ENTITY>`; `masked` lists what was
    /// masked where (for counters and logs).
    Mask {
        value: Value,
        masked: Vec<JsonFinding<'g>>,
    },
}

/// `tools/call` arguments (pre_mcp_call / during_mcp_call): every value.
pub fn check_arguments<'g>(guardrails: &[&'g Guardrail], arguments: &Value) -> Verdict<'g> {
    let mut findings = Vec::new();
    scan_at(guardrails, arguments, &mut Vec::new(), &mut findings);
    decide(findings, || {
        let mut value = arguments.clone();
        mask_in_place(guardrails, &mut value);
        value
    })
}

/// A `tools/call` result (post_mcp_call): the `text` of `content` items (and of
/// embedded text resources) and all of `structuredContent`. Other parts (images,
/// `_meta`) are left as they are.
pub fn check_result<'g>(guardrails: &[&'g Guardrail], result: &Value) -> Verdict<'g> {
    let mut findings = Vec::new();
    for_result_parts(result, &mut |value, path| {
        scan_at(guardrails, value, path, &mut findings);
    });
    decide(findings, || {
        let mut value = result.clone();
        for_result_parts_mut(&mut value, &mut |part| {
            mask_in_place(guardrails, part);
        });
        value
    })
}

fn decide<'g>(findings: Vec<JsonFinding<'g>>, masked: impl FnOnce() -> Value) -> Verdict<'g> {
    if findings.is_empty() {
        return Verdict::Pass;
    }
    if let Some(block) = findings.iter().find(|f| f.action == Action::Block) {
        return Verdict::Block(block.clone());
    }
    Verdict::Mask {
        value: masked(),
        masked: findings,
    }
}

fn for_result_parts<'v>(result: &'v Value, f: &mut dyn FnMut(&'v Value, &mut Vec<Seg<'v>>)) {
    if let Some(items) = result.get("content").and_then(Value::as_array) {
        for (i, item) in items.iter().enumerate() {
            if let Some(text) = item.get("text") {
                f(
                    text,
                    &mut vec![Seg::Key("content"), Seg::Index(i), Seg::Key("text")],
                );
            }
            if let Some(text) = item.get("resource").and_then(|r| r.get("text")) {
                f(
                    text,
                    &mut vec![
                        Seg::Key("content"),
                        Seg::Index(i),
                        Seg::Key("resource"),
                        Seg::Key("text"),
                    ],
                );
            }
        }
    }
    if let Some(structured) = result.get("structuredContent") {
        f(structured, &mut vec![Seg::Key("structuredContent")]);
    }
}

fn for_result_parts_mut(result: &mut Value, f: &mut dyn FnMut(&mut Value)) {
    if let Some(items) = result.get_mut("content").and_then(Value::as_array_mut) {
        for item in items {
            if let Some(text) = item.get_mut("text") {
                f(text);
            }
            if let Some(text) = item.get_mut("resource").and_then(|r| r.get_mut("text")) {
                f(text);
            }
        }
    }
    if let Some(structured) = result.get_mut("structuredContent") {
        f(structured);
    }
}
