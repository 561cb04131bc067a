//! US Social Security numbers in the written form `AAA-GG-SSSS` (dashes or spaces,
//! one kind): area not 000, 666 or 9xx; group not 00; serial not 0000; and not the
//! two numbers published in advertising (078-05-1120, 219-09-9999). Nine bare digits
//! are not taken: they are ids far more often.

use super::{ends_word, is_alnum, next_word, starts_word, Hit};
use crate::guardrails::entity::Builtin;

/// The reference walk: every position the SSN scan stops at, in order.
#[cfg(test)]
pub(super) fn find(b: &[u8], out: &mut Vec<Hit>) {
    let mut i = 0;
    while i < b.len() {
        i = at(b, i, out);
    }
}

/// One step of the SSN scan at `i`: checks `AAA-GG-SSSS` there (pushing it when valid)
/// and returns where the scan goes on (the text's end when no SSN fits any more). The
/// shared walk calls it only at the starts of words that begin with a digit.
pub(super) fn at(b: &[u8], i: usize, out: &mut Vec<Hit>) -> usize {
    if i + 11 > b.len() {
        return b.len();
    }
    if !is_alnum(b[i]) {
        return i + 1;
    }
    if !b[i].is_ascii_digit()
        || !starts_word(b, i)
        || (i > 0 && matches!(b[i - 1], b'-' | b'.' | b'+'))
    {
        return next_word(b, i);
    }
    let s = &b[i..i + 11];
    let digits_at = |r: std::ops::Range<usize>| s[r].iter().all(u8::is_ascii_digit);
    let sep = s[3];
    let shaped = digits_at(0..3)
        && matches!(sep, b'-' | b' ')
        && digits_at(4..6)
        && s[6] == sep
        && digits_at(7..11);
    let end = i + 11;
    let free_end = ends_word(b, end)
        && !(end + 1 < b.len() && matches!(b[end], b'-' | b'.') && b[end + 1].is_ascii_digit());
    if shaped && free_end && valid(s) {
        out.push(Hit {
            entity: Builtin::UsSsn,
            start: i,
            end,
        });
        end
    } else {
        next_word(b, i)
    }
}

fn valid(s: &[u8]) -> bool {
    let area = &s[0..3];
    let group = &s[4..6];
    let serial = &s[7..11];
    area != b"000"
        && area != b"666"
        && area[0] != b'9'
        && group != b"00"
        && serial != b"0000"
        && s != b"078-05-1120"
        && s != b"219-09-9999"
}

#[cfg(test)]
mod tests {
    use super::super::only;
    use crate::guardrails::entity::Builtin::UsSsn;

    #[test]
    fn ssns_are_found() {
        for ssn in ["123-45-6789", "123 45 6789", "536-22-1234", "001-01-0001"] {
            for text in [
                ssn.to_string(),
                format!("SSN: {ssn}."),
                format!("{{\"ssn\":\"{ssn}\"}}"),
            ] {
                assert_eq!(only(&text, UsSsn), [ssn], "{text}");
            }
        }
    }

    #[test]
    fn invalid_or_lookalike_numbers_are_not_found() {
        for text in [
            "000-12-3456",
            "666-12-3456",
            "900-12-3456",
            "123-00-4567",
            "123-45-0000",
            "078-05-1120",
            "219-09-9999",
            "123456789",
            "123-45 6789",
            "1123-45-6789",
            "123-45-67890",
            "a123-45-6789",
            "123-45-6789-1",
            "2024-01-15",
            "12-345-6789",
        ] {
            assert!(only(text, UsSsn).is_empty(), "{text}");
        }
    }
}
