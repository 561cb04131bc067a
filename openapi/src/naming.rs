//! Tool names: SEP-986-safe (`[A-Za-z0-9_.-]`), at most `max` characters (default
//! [`MAX_NAME_LEN`]), unique. Two schemes ([`ToolNaming`]); every tool gets a name in both,
//! the configured one is listed, the other one still resolves calls when unambiguous.
//!
//! * [`ToolNaming::LiteLlm`] (LiteLLM's `sanitize_openapi_tool_name`): `operationId`, or
//!   `{method}_{path}` without one; every character outside `[A-Za-z0-9_-]` becomes `_`
//!   (no collapsing), then lowercased: `GET /pets/{petId}` → `get__pets__petid_`.
//!   De-duplicated like LiteLLM: paths in document order, methods in LiteLLM's order
//!   (get, post, put, delete, patch); `head`/`options` (which LiteLLM does not expose) are
//!   named after all of those, so they never shift a LiteLLM name.
//! * [`ToolNaming::Exact`]: `operationId` with its case kept, `.` kept; without one,
//!   `{method}_{path}` with runs of `_` collapsed, e.g. `get_pets_petId`. De-duplicated in
//!   document order (methods in the order written).
//! * Longer than `max`: the first `max - 9` characters, `_`, and 8 hex digits of a FNV-1a
//!   hash of the untruncated name (deterministic, independent of the rest of the document).
//! * Duplicates (after all the above) get `_2`, `_3`, …; a suffixed name is itself kept
//!   within `max` characters and checked against every name already taken.

use std::collections::HashSet;

/// Default longest name: the gateway prefixes `{server}-` and must stay within 128.
pub const MAX_NAME_LEN: usize = 64;

/// Which tool names a spec's operations get.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ToolNaming {
    /// LiteLLM's names (lowercased), so configs, agents and prompts written for LiteLLM work.
    #[default]
    LiteLlm,
    /// `operationId` as written (case and `.` kept).
    Exact,
}

fn safe_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-'
}

/// Replace every character outside `[A-Za-z0-9_.-]` with `_`.
pub fn sanitize(raw: &str) -> String {
    raw.chars()
        .map(|c| if safe_char(c) { c } else { '_' })
        .collect()
}

/// LiteLLM's rule: every character outside `[A-Za-z0-9_-]` becomes `_`, then lowercase.
pub fn sanitize_litellm(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// `{method}_{path}` for operations without an operationId.
pub fn name_from_path(method: &str, path: &str) -> String {
    let raw = format!("{}_{}", method.to_ascii_lowercase(), path);
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = if safe_char(c) && c != '.' { c } else { '_' };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    out.trim_end_matches('_').to_string()
}

/// 32-bit FNV-1a.
fn fnv1a(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// Shorten to `max` characters (ASCII after sanitizing) keeping a prefix and a hash.
pub fn truncate(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let hash = format!("{:08x}", fnv1a(name));
    let mut keep = max.saturating_sub(hash.len() + 1);
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}_{}", &name[..keep], hash)
}

/// The base (not yet de-duplicated) name of an operation in the exact scheme.
#[cfg(test)]
pub fn base_name(operation_id: Option<&str>, method: &str, path: &str) -> String {
    base_name_in(ToolNaming::Exact, operation_id, method, path, MAX_NAME_LEN)
}

/// The base (not yet de-duplicated) name of an operation in `scheme`, within `max`.
pub fn base_name_in(
    scheme: ToolNaming,
    operation_id: Option<&str>,
    method: &str,
    path: &str,
    max: usize,
) -> String {
    let name = match scheme {
        ToolNaming::Exact => match operation_id.map(str::trim).filter(|s| !s.is_empty()) {
            Some(id) => sanitize(id),
            None => name_from_path(method, path),
        },
        // LiteLLM takes the operationId as written (an empty one would give an empty name:
        // the path form is used instead, as for a missing one).
        ToolNaming::LiteLlm => match operation_id.filter(|s| !s.is_empty()) {
            Some(id) => sanitize_litellm(id),
            None => sanitize_litellm(&format!("{}_{}", method.to_ascii_lowercase(), path)),
        },
    };
    let name = if name.is_empty() {
        "operation".to_string()
    } else {
        name
    };
    truncate(&name, max)
}

/// Hands out unique names in the order it is asked.
pub struct Namer {
    taken: HashSet<String>,
    max: usize,
}

impl Default for Namer {
    fn default() -> Self {
        Namer::new(MAX_NAME_LEN)
    }
}

impl Namer {
    pub fn new(max: usize) -> Self {
        Namer {
            taken: HashSet::new(),
            max,
        }
    }

    pub fn unique(&mut self, base: String) -> String {
        if self.taken.insert(base.clone()) {
            return base;
        }
        let mut n = 2u32;
        loop {
            let suffix = format!("_{n}");
            let stem = if base.len() + suffix.len() > self.max {
                truncate(&base, self.max.saturating_sub(suffix.len()))
            } else {
                base.clone()
            };
            let candidate = format!("{stem}{suffix}");
            if self.taken.insert(candidate.clone()) {
                return candidate;
            }
            n += 1;
        }
    }
}
