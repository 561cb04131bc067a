//! Phone numbers, in the forms people write them — never a bare run of digits (that is
//! an id, a count or a timestamp far more often than a phone number):
//! - international: `+` country code, then digits with optional single separators
//!   (space, `-`, `.`, parentheses): 8–15 digits in all (E.164);
//! - North American: `(415) 555-0132`, `415-555-0132`, `415.555.0132`, `1-800-555-0199`
//!   (area code not starting with 0 or 1);
//! - national trunk-prefix forms: `020 7946 0958`, `06-12345678`: a leading `0`,
//!   groups of ≥ 2 digits, one separator kind, 10–11 digits.
//!
//! Dates (`2024-01-15`), versions (`1.2.3`), times and SSNs (`3-2-4`) do not have these
//! shapes.

use super::{is_alnum, next_word, starts_word, Hit};
use crate::guardrails::entity::Builtin;

const MAX_GROUPS: usize = 8;

#[derive(Clone, Copy, Default)]
struct Group {
    /// Index of the group's first digit.
    start: usize,
    len: usize,
    /// Separator before the group (0: none, b'(' for a parenthesised group).
    sep: u8,
    paren: bool,
}

/// The reference walk: every position the phone scan stops at, in order.
#[cfg(test)]
pub(super) fn find(b: &[u8], out: &mut Vec<Hit>) {
    let mut i = 0;
    while i < b.len() {
        i = at(b, i, out);
    }
}

/// One step of the phone scan at `i`: checks a number that starts there (pushing a
/// phone number it finds) and returns where the scan goes on. The shared walk calls it
/// only at the starts of words that begin with a digit and at `+` / `(` after a
/// non-word byte; the positions it skips could not begin a phone number.
pub(super) fn at(b: &[u8], i: usize, out: &mut Vec<Hit>) -> usize {
    let c = b[i];
    if c.is_ascii_alphabetic() {
        return next_word(b, i);
    }
    let anchor = c == b'+' || c == b'(' || c.is_ascii_digit();
    if anchor
        && starts_word(b, i)
        && !(i > 0 && matches!(b[i - 1], b'.' | b'-' | b'+'))
        && enough_digits(b, i)
    {
        if let Some(end) = parse(b, i) {
            out.push(Hit {
                entity: Builtin::PhoneNumber,
                start: i,
                end,
            });
            return end;
        }
    }
    i + if c.is_ascii_digit() {
        skip_digits(b, i)
    } else {
        1
    }
}

/// The fewest digits of any accepted form (E.164's 8; North American and national
/// forms have 10 or more).
const MIN_DIGITS: usize = 8;

/// Whether the characters a phone number can be made of, from `i` on, hold enough
/// digits: most candidates (counts, dates, versions) are turned away here, before any
/// parsing.
pub(super) fn enough_digits(b: &[u8], i: usize) -> bool {
    let mut digits = 0;
    for &c in &b[i..] {
        match c {
            b'0'..=b'9' => {
                digits += 1;
                if digits == MIN_DIGITS {
                    return true;
                }
            }
            b' ' | b'-' | b'.' | b'(' | b')' | b'+' => {}
            _ => return false,
        }
    }
    false
}

fn skip_digits(b: &[u8], i: usize) -> usize {
    b[i..]
        .iter()
        .position(|c| !c.is_ascii_alphanumeric())
        .unwrap_or(b.len() - i)
        .max(1)
}

/// Parses a candidate at `start`; its end when it is a phone number.
fn parse(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    let plus = b[i] == b'+';
    if plus {
        i += 1;
    }
    let mut groups = [Group::default(); MAX_GROUPS];
    let mut n = 0;
    let mut sep = 0u8;
    let mut end;
    loop {
        let paren = i < b.len() && b[i] == b'(';
        if paren {
            i += 1;
        }
        let g0 = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let len = i - g0;
        if len == 0 || (paren && (i >= b.len() || b[i] != b')')) {
            return None;
        }
        if paren {
            i += 1;
        }
        if n == MAX_GROUPS {
            return None;
        }
        groups[n] = Group {
            start: g0,
            len,
            sep,
            paren,
        };
        n += 1;
        end = i;
        // One separator (or a space after `)`), then the next group.
        let next = match b.get(i) {
            Some(&s @ (b' ' | b'-' | b'.')) => Some((s, i + 1)),
            _ if paren => Some((0, i)),
            _ => None,
        };
        match next {
            Some((s, j)) if j < b.len() && (b[j].is_ascii_digit() || b[j] == b'(') => {
                sep = s;
                i = j;
            }
            _ => break,
        }
    }
    // Glued to a word, or more number follows (`555-0132.5`, `1.2.3.4`): not a phone.
    if end < b.len()
        && (is_alnum(b[end])
            || (matches!(b[end], b'.' | b'-') && b.get(end + 1).is_some_and(u8::is_ascii_digit)))
    {
        return None;
    }
    let groups = &groups[..n];
    let total: usize = groups.iter().map(|g| g.len).sum();
    let ok = if plus {
        international(groups, total)
    } else {
        north_american(b, start, groups) || national(b, start, groups, total)
    };
    ok.then_some(end)
}

fn international(groups: &[Group], total: usize) -> bool {
    if !(8..=15).contains(&total) {
        return false;
    }
    // Dots only between groups of a number written with dots throughout.
    let seps = groups[1..].iter().filter(|g| g.sep == b'.').count();
    seps == 0 || seps == groups.len() - 1
}

fn north_american(b: &[u8], start: usize, groups: &[Group]) -> bool {
    let lens = |want: &[usize]| {
        groups.len() == want.len() && groups.iter().zip(want).all(|(g, w)| g.len == *w)
    };
    let k = if lens(&[3, 3, 4]) {
        0
    } else if lens(&[1, 3, 3, 4]) && b[start] == b'1' {
        1
    } else {
        return false;
    };
    let (area, exchange, line) = (groups[k], groups[k + 1], groups[k + 2]);
    if exchange.paren || line.paren || line.sep == 0 {
        return false;
    }
    // Without parentheses, one separator kind throughout (`415-555-0132`).
    if !area.paren && (exchange.sep != line.sep || (k == 1 && area.sep != line.sep)) {
        return false;
    }
    matches!(b.get(area.start), Some(b'2'..=b'9'))
}

fn national(b: &[u8], start: usize, groups: &[Group], total: usize) -> bool {
    b[start] == b'0'
        && groups.len() >= 2
        && (10..=11).contains(&total)
        && groups.iter().all(|g| g.len >= 2 && !g.paren)
        && groups[1..]
            .iter()
            .all(|g| g.sep == groups[1].sep && g.sep != 0)
}

#[cfg(test)]
mod tests {
    use super::super::only;
    use crate::guardrails::entity::Builtin::PhoneNumber;

    #[test]
    fn phone_numbers_are_found() {
        for phone in [
            "+1 415 555 0132",
            "+1-415-555-0132",
            "+1 (415) 555-0132",
            "+14155550132",
            "+44 20 7946 0958",
            "+49 30 1234567",
            "+33 1 23 45 67 89",
            "+81-3-1234-5678",
            "+91 98765 43210",
            "(415) 555-0132",
            "(415)555-0132",
            "415-555-0132",
            "415.555.0132",
            "415 555 0132",
            "1-800-555-0199",
            "020 7946 0958",
            "06-12345678",
            "07700 900123",
        ] {
            for text in [
                phone.to_string(),
                format!("call {phone} now"),
                format!("tel: {phone}."),
                format!("(\"{phone}\")"),
            ] {
                assert_eq!(only(&text, PhoneNumber), [phone], "{text}");
            }
        }
    }

    #[test]
    fn numbers_that_are_not_phones_are_not_found() {
        for text in [
            "4155550132",
            "14155550132",
            "1234567890123",
            "2024-01-15",
            "2024.01.15",
            "12:30:45",
            "1.2.3",
            "10.15.7",
            "192.168.1.100",
            "123-45-6789",
            "4111-1111-1111-1111",
            "415-555-0132-7",
            "v415-555-0132",
            "+123",
            "+1 2 3",
            "version 3.10.12 build 20240115",
            "1 000 000",
            "price 12 345 678",
            "page 1-2-3",
            "123e4567-e89b-12d3-a456-426614174000",
            "978-3-16-148410-0",
            "x+14155550132",
        ] {
            assert!(only(text, PhoneNumber).is_empty(), "{text}");
        }
    }
}
