//! IBANs (ISO 13616): country code, two check digits, the country's BBAN length,
//! upper-case letters and digits, compact or in groups of four separated by single
//! spaces; the mod-97 check must give 1.

use super::{is_alnum, next_word, starts_word, Hit};
use crate::guardrails::entity::Builtin;

/// IBAN length per country (SWIFT IBAN registry).
const LENGTHS: &[(&[u8; 2], u8)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BI", 27),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DJ", 27),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FK", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"LY", 25),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MN", 20),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NI", 28),
    (b"NL", 18),
    (b"NO", 15),
    (b"OM", 23),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"RU", 33),
    (b"SA", 24),
    (b"SC", 31),
    (b"SD", 18),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"SO", 23),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
    (b"YE", 30),
];

fn expected_len(cc: &[u8]) -> Option<usize> {
    LENGTHS
        .iter()
        .find(|(c, _)| c.as_slice() == cc)
        .map(|(_, n)| usize::from(*n))
}

/// The reference walk: every position the IBAN scan stops at, in order.
#[cfg(test)]
pub(super) fn find(b: &[u8], out: &mut Vec<Hit>) {
    let mut i = 0;
    while i < b.len() {
        i = at(b, i, out);
    }
}

/// One step of the IBAN scan at `i`: checks an IBAN there (pushing it when its check
/// digits verify) and returns where the scan goes on (the text's end when no IBAN fits
/// any more). The shared walk calls it only at the starts of words that begin with an
/// upper-case letter.
pub(super) fn at(b: &[u8], i: usize, out: &mut Vec<Hit>) -> usize {
    if i + 15 > b.len() {
        return b.len();
    }
    let head = &b[i..i + 4];
    if !is_alnum(head[0]) {
        return i + 1;
    }
    if !(head[0].is_ascii_uppercase()
        && head[1].is_ascii_uppercase()
        && head[2].is_ascii_digit()
        && head[3].is_ascii_digit()
        && starts_word(b, i))
    {
        return next_word(b, i);
    }
    match expected_len(&head[..2]).and_then(|n| parse(b, i, n)) {
        Some(end) => {
            out.push(Hit {
                entity: Builtin::IbanCode,
                start: i,
                end,
            });
            end
        }
        None => next_word(b, i),
    }
}

/// The end of an IBAN of `len` characters at `start` (compact, or grouped by four with
/// single spaces), when its check digits verify.
fn parse(b: &[u8], start: usize, len: usize) -> Option<usize> {
    let mut chars = [0u8; 34];
    let mut n = 0;
    let mut i = start;
    let spaced = b.get(start + 4) == Some(&b' ');
    while n < len {
        if spaced && n > 0 && n % 4 == 0 {
            if b.get(i) != Some(&b' ') {
                return None;
            }
            i += 1;
        }
        let c = *b.get(i)?;
        if !(c.is_ascii_uppercase() || c.is_ascii_digit()) {
            return None;
        }
        chars[n] = c;
        n += 1;
        i += 1;
    }
    if i < b.len() && is_alnum(b[i]) {
        return None;
    }
    mod97(&chars[..n]).then_some(i)
}

/// The rearranged number (BBAN, country, check digits; letters as 10–35) mod 97 == 1.
fn mod97(iban: &[u8]) -> bool {
    let (head, bban) = iban.split_at(4);
    let mut rem: u32 = 0;
    for &c in bban.iter().chain(head) {
        if c.is_ascii_digit() {
            rem = (rem * 10 + u32::from(c - b'0')) % 97;
        } else {
            let v = u32::from(c - b'A') + 10;
            rem = (rem * 100 + v) % 97;
        }
    }
    rem == 1
}

#[cfg(test)]
mod tests {
    use super::super::only;
    use crate::guardrails::entity::Builtin::IbanCode;

    #[test]
    fn ibans_are_found() {
        for iban in [
            "DE89370400440532013000",
            "DE89 3704 0044 0532 0130 00",
            "GB82WEST12345698765432",
            "GB82 WEST 1234 5698 7654 32",
            "FR1420041010050500013M02606",
            "NL91ABNA0417164300",
            "NO9386011117947",
            "CH9300762011623852957",
        ] {
            for text in [
                iban.to_string(),
                format!("IBAN: {iban}."),
                format!("\"{iban}\""),
            ] {
                assert_eq!(only(&text, IbanCode), [iban], "{text}");
            }
        }
    }

    #[test]
    fn lookalikes_are_not_found() {
        for text in [
            "DE89370400440532013001",  // check fails
            "DE8937040044053201300",   // short
            "DE893704004405320130000", // long
            "XX89370400440532013000",  // no such country
            "de89370400440532013000",
            "ADE89370400440532013000",
            "DE89 3704 0044 0532 013000",
            "AB12CDEF34567890GHIJ",
        ] {
            assert!(only(text, IbanCode).is_empty(), "{text}");
        }
    }
}
