//! Tool names: SEP-986-safe (`[A-Za-z0-9_.-]`), at most [`MAX_NAME_LEN`] characters, unique.
//!
//! * From `operationId`, case kept; every other character becomes `_`.
//! * Without `operationId` (or an empty one): `{method}_{path}` with `{}`/`/` and other
//!   characters turned into `_`, runs of `_` collapsed, e.g. `get_pets_petId`.
//! * Longer than 64: the first 55 characters, `_`, and 8 hex digits of a FNV-1a hash of the
//!   untruncated name (deterministic, independent of the rest of the document).
//! * Duplicates (after all the above) get `_2`, `_3`, … in document order; a suffixed name
//!   is itself kept within 64 characters and checked against every name already taken.

use std::collections::HashSet;

pub const MAX_NAME_LEN: usize = 64;

fn safe_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-'
}

/// Replace every character outside `[A-Za-z0-9_.-]` with `_`.
pub fn sanitize(raw: &str) -> String {
    raw.chars()
        .map(|c| if safe_char(c) { c } else { '_' })
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

/// The base (not yet de-duplicated) name of an operation.
pub fn base_name(operation_id: Option<&str>, method: &str, path: &str) -> String {
    let name = match operation_id.map(str::trim).filter(|s| !s.is_empty()) {
        Some(id) => sanitize(id),
        None => name_from_path(method, path),
    };
    let name = if name.is_empty() {
        "operation".to_string()
    } else {
        name
    };
    truncate(&name, MAX_NAME_LEN)
}

/// Hands out unique names in the order it is asked.
#[derive(Default)]
pub struct Namer {
    taken: HashSet<String>,
}

impl Namer {
    pub fn unique(&mut self, base: String) -> String {
        if self.taken.insert(base.clone()) {
            return base;
        }
        let mut n = 2u32;
        loop {
            let suffix = format!("_{n}");
            let stem = if base.len() + suffix.len() > MAX_NAME_LEN {
                truncate(&base, MAX_NAME_LEN - suffix.len())
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
