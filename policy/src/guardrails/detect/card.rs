//! Payment card numbers: 13–19 digits, alone or in the usual groups (`4-4-4-4`,
//! `4-6-5`…, spaces or dashes, one kind per number), a known issuer prefix, and the
//! Luhn check.

use super::{is_alnum, next_word, starts_word, Hit};
use crate::guardrails::entity::Builtin;

/// Groups of one digit run, at most this many looked at together.
const MAX_GROUPS: usize = 5;

#[derive(Clone, Copy)]
struct Group {
    start: usize,
    end: usize,
    /// Separator before this group (0 for the first).
    sep: u8,
}

/// The reference walk: every position the card scan stops at, in order.
#[cfg(test)]
pub(super) fn find(b: &[u8], out: &mut Vec<Hit>) {
    let mut i = 0;
    while i < b.len() {
        i = at(b, i, out);
    }
}

/// One step of the card scan at `i`: checks a number that starts there (pushing a
/// card it finds) and returns where the scan goes on. The shared walk calls it only at
/// the starts of words that begin with a digit; the positions it skips could not begin
/// a card.
pub(super) fn at(b: &[u8], i: usize, out: &mut Vec<Hit>) -> usize {
    at_with(b, i, false, out)
}

/// [`at`], where a comma before `i` may also end what comes before (in JSON text a
/// number follows a comma: `[1,4111111111111111]`).
pub(super) fn at_with(b: &[u8], i: usize, after_comma: bool, out: &mut Vec<Hit>) -> usize {
    if !b[i].is_ascii_digit() {
        return if is_alnum(b[i]) {
            next_word(b, i)
        } else {
            i + 1
        };
    }
    let glued = i > 0 && (b[i - 1] == b'.' || (b[i - 1] == b',' && !after_comma));
    if !starts_word(b, i) || glued {
        // Inside an identifier or a decimal: skip the whole run.
        let mut j = i;
        while j < b.len() && (is_alnum(b[j]) || b[j] == b'.') {
            j += 1;
        }
        return j;
    }
    // The run: digit groups joined by single spaces or dashes. Measured first without
    // keeping anything: most runs (counts, dates, ids) have too few digits for a card.
    let mut j = i;
    let mut digits = 0;
    loop {
        let start = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        digits += j - start;
        if j + 1 < b.len() && matches!(b[j], b' ' | b'-') && b[j + 1].is_ascii_digit() {
            j += 1;
            continue;
        }
        break;
    }
    // A run glued to letters or to a decimal point is not a number of its own.
    let run_ok = j >= b.len() || !(is_alnum(b[j]) || sep_digit(b, j, b'.'));
    if run_ok && digits >= MIN_DIGITS {
        check_windows(b, &groups(b, i, j), out);
    }
    j.max(i + 1)
}

/// The fewest digits of a card number.
const MIN_DIGITS: usize = 13;

/// The groups of the run `b[i..end]` (at most 24 looked at).
fn groups(b: &[u8], i: usize, end: usize) -> Vec<Group> {
    let mut groups = Vec::new();
    let mut j = i;
    let mut sep = 0u8;
    while j < end && groups.len() < 24 {
        let start = j;
        while j < end && b[j].is_ascii_digit() {
            j += 1;
        }
        groups.push(Group { start, end: j, sep });
        if j < end {
            sep = b[j];
            j += 1;
        }
    }
    groups
}

fn sep_digit(b: &[u8], i: usize, c: u8) -> bool {
    i + 1 < b.len() && b[i] == c && b[i + 1].is_ascii_digit()
}

/// Tries each window of up to [`MAX_GROUPS`] consecutive groups, longest first, so a
/// card after another number in the same run ("order 12 4111 1111 1111 1111") is found.
fn check_windows(b: &[u8], groups: &[Group], out: &mut Vec<Hit>) {
    let mut s = 0;
    while s < groups.len() {
        let mut matched = 0;
        for w in (1..=MAX_GROUPS.min(groups.len() - s)).rev() {
            let window = &groups[s..s + w];
            if is_card(b, window) {
                out.push(Hit {
                    entity: Builtin::CreditCard,
                    start: window[0].start,
                    end: window[w - 1].end,
                });
                matched = w;
                break;
            }
        }
        s += matched.max(1);
    }
}

fn is_card(b: &[u8], window: &[Group]) -> bool {
    let lens = window.iter().map(|g| g.end - g.start);
    let total: usize = lens.clone().sum();
    if !(13..=19).contains(&total) {
        return false;
    }
    if window.len() > 1 {
        let sep = window[1].sep;
        if window[1..].iter().any(|g| g.sep != sep) || !known_grouping(window) {
            return false;
        }
    }
    let mut digits = [0u8; 19];
    let mut n = 0;
    for g in window {
        for &d in &b[g.start..g.end] {
            digits[n] = d - b'0';
            n += 1;
        }
    }
    let digits = &digits[..n];
    issuer_accepts(digits) && luhn(digits)
}

/// `4-4-4-4(-1..4)`, `4-4-4-1..3`, Amex `4-6-5`, Diners `4-6-4`.
fn known_grouping(window: &[Group]) -> bool {
    let len = |g: &Group| g.end - g.start;
    let (last, init) = match window.split_last() {
        Some(x) => x,
        None => return false,
    };
    if init.iter().all(|g| len(g) == 4) && (1..=4).contains(&len(last)) {
        return true;
    }
    matches!(
        window.iter().map(len).collect::<ArrayLens>().as_slice(),
        [4, 6, 5] | [4, 6, 4]
    )
}

/// Up to five group lengths without allocating.
struct ArrayLens([usize; MAX_GROUPS], usize);
impl ArrayLens {
    fn as_slice(&self) -> &[usize] {
        &self.0[..self.1]
    }
}
impl FromIterator<usize> for ArrayLens {
    fn from_iter<I: IntoIterator<Item = usize>>(iter: I) -> Self {
        let mut a = ArrayLens([0; MAX_GROUPS], 0);
        for v in iter.into_iter().take(MAX_GROUPS) {
            a.0[a.1] = v;
            a.1 += 1;
        }
        a
    }
}

fn prefix(digits: &[u8], k: usize) -> u32 {
    digits
        .iter()
        .take(k)
        .fold(0u32, |acc, &d| acc * 10 + u32::from(d))
}

/// Issuer identification numbers of the major networks, with their lengths.
fn issuer_accepts(d: &[u8]) -> bool {
    let len = d.len();
    let (p1, p2, p3, p4) = (prefix(d, 1), prefix(d, 2), prefix(d, 3), prefix(d, 4));
    match p1 {
        // Visa
        4 => matches!(len, 13 | 16 | 19),
        // Mastercard (51–55, 2221–2720); Maestro 50xx, 56–58
        5 => {
            ((51..=55).contains(&p2) && len == 16)
                || ([5018, 5020, 5038, 5893].contains(&p4) && len >= 12)
                || ((56..=58).contains(&p2) && len >= 12)
        }
        2 => (2221..=2720).contains(&p4) && len == 16,
        // Amex 34/37, Diners 300–305/36/38/39, JCB 3528–3589
        3 => {
            (matches!(p2, 34 | 37) && len == 15)
                || (((300..=305).contains(&p3) || matches!(p2, 36 | 38 | 39)) && len >= 14)
                || ((3528..=3589).contains(&p4) && len >= 16)
        }
        // Discover 6011/644–649/65, UnionPay 62, Maestro 6304/6759/6761–6763
        6 => {
            ((p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 || p2 == 62) && len >= 16)
                || ([6304, 6759, 6761, 6762, 6763].contains(&p4) && len >= 12)
        }
        _ => false,
    }
}

fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (k, &d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d);
        if k % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::super::only;
    use crate::guardrails::entity::Builtin::CreditCard;

    #[test]
    fn cards_in_their_usual_forms_are_found() {
        for card in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "5500 0000 0000 0004",
            "5555555555554444",
            "2223000048400011",
            "378282246310005",
            "3782 822463 10005",
            "6011111111111117",
            "3530111333300000",
            "30569309025904",
            "3056 930902 5904",
            "6200000000000005",
            "4222222222222",
            "4000 0566 5566 5556",
        ] {
            for text in [
                card.to_string(),
                format!("card: {card}."),
                format!("pay with {card}, thanks"),
                format!("(\"{card}\")"),
                format!("order 12 {card}"),
            ] {
                assert_eq!(only(&text, CreditCard), [card], "{text}");
            }
        }
        assert_eq!(
            only("4111111111111111 and 5555555555554444", CreditCard),
            ["4111111111111111", "5555555555554444"]
        );
    }

    #[test]
    fn numbers_that_are_not_cards_are_not_found() {
        for text in [
            "4111111111111112",        // Luhn fails
            "1234567812345670",        // passes Luhn, no issuer
            "41111111111111111111",    // 20 digits
            "4111 1111 1111 111",      // Visa has no 15-digit numbers
            "4111-1111 1111-1111",     // mixed separators
            "41 11 11 11 11 11 11 11", // not a card grouping
            "id4111111111111111",      // inside an identifier
            "4111111111111111abc",
            "3.4111111111111111", // a decimal
            "1700000000000",      // a timestamp in ms
            "1733580000123456",   // µs timestamp
            "2024-01-15 10:30:00",
            "v4111111111111111",
            "123e4567-e89b-12d3-a456-426614174000",
            "ab4111111111111111cd",
        ] {
            assert!(only(text, CreditCard).is_empty(), "{text}");
        }
    }
}
