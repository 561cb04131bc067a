//! Built-in detectors: hand-written byte scanners (no regex engine in this path), one
//! file per entity family. Each reports byte ranges that start and end on ASCII bytes,
//! so masking never splits a UTF-8 character. Candidates are cheap to reject: a scanner
//! only looks further at its own anchor bytes (a digit, `@`, `:`, a key prefix).

mod card;
mod email;
mod iban;
mod ip;
mod phone;
mod secrets;
mod ssn;
mod stops;
mod walk;

use super::entity::{Builtin, BuiltinSet};

/// One built-in match: entity and byte range in the scanned text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub entity: Builtin,
    pub start: usize,
    pub end: usize,
}

/// Runs the detectors of `set` over `text`, appending to `out` (unsorted; overlaps
/// are resolved by the caller), in one walk over the text ([`walk`]).
pub fn find_builtins(text: &str, set: BuiltinSet, out: &mut Vec<Hit>) {
    walk::find(text.as_bytes(), set, out);
}

/// Whether `json` (a JSON text) may hold something the detectors of `set` find in its
/// values: true when it has a backslash (an escape could hide an entity from a plain
/// read), mentions `guardrails` (a request naming its own in `_meta`), or when the
/// detectors find anything in it read as plain text. Without escapes every string is
/// its own bytes between two quotes, and a quote ends a match for every detector as the
/// end of a string does, so what they find in any value — and in any card-sized integer
/// — they find in the whole text too (keys and punctuation can only add findings).
pub fn json_text_may_hold_findings(json: &[u8], set: BuiltinSet) -> bool {
    let mut out = Vec::new();
    walk::find_in_json(json, set, &mut out) || !out.is_empty()
}

/// A credit-card number written as a JSON number (`4111111111111111`): its digits are
/// checked like a string's. Only cards: other entities are not numbers.
pub fn number_is_card(digits: &str) -> bool {
    let mut out = Vec::new();
    card::at(digits.as_bytes(), 0, &mut out);
    out.iter().any(|h| h.start == 0 && h.end == digits.len())
}

/// ASCII letters and digits, by byte: one load in the walks' inner loops.
static ALNUM: [bool; 256] = {
    let mut table = [false; 256];
    let mut c = 0;
    while c < 256 {
        table[c] = (c as u8).is_ascii_alphanumeric();
        c += 1;
    }
    table
};

fn is_alnum(b: u8) -> bool {
    ALNUM[usize::from(b)]
}

/// Whether the byte before `i` cannot continue a word (start of text, punctuation,
/// space, or a non-ASCII byte).
fn starts_word(b: &[u8], i: usize) -> bool {
    i == 0 || !is_alnum(b[i - 1])
}

/// Whether the byte at `i` cannot continue a word.
fn ends_word(b: &[u8], i: usize) -> bool {
    i >= b.len() || !is_alnum(b[i])
}

/// Index after the run of ASCII letters and digits that starts at `i` (at least
/// `i + 1`): where the next word can start.
fn next_word(b: &[u8], i: usize) -> usize {
    let rest = b.get(i + 1..).unwrap_or_default();
    i + 1
        + rest
            .iter()
            .position(|&c| !is_alnum(c))
            .unwrap_or(rest.len())
}

#[cfg(test)]
pub(crate) fn entities(text: &str, set: BuiltinSet) -> Vec<(Builtin, String)> {
    let mut out = Vec::new();
    find_builtins(text, set, &mut out);
    out.sort_by_key(|h| (h.start, h.end));
    out.into_iter()
        .map(|h| (h.entity, text[h.start..h.end].to_string()))
        .collect()
}

#[cfg(test)]
pub(crate) fn only(text: &str, entity: Builtin) -> Vec<String> {
    let set: BuiltinSet = [entity].into_iter().collect();
    entities(text, set).into_iter().map(|(_, s)| s).collect()
}
