//! One walk over a text for every built-in detector. Cards, phones, SSNs, IBANs, IPv4
//! and credentials only ever start a match at the start of a word (phones also at `+` /
//! `(`, PEM headers at `-`); e-mail is anchored on `@`, IPv6 on `:`. So the walk
//! stops only at those positions — found 16 bytes at a time ([`stops`]) — and lets each
//! detector look at the ones that can anchor its entity. A detector's step says where
//! its own scan goes on (past its match, or past a run it has ruled out) and is not
//! asked again before that point; the positions the walk passes without asking it are
//! ones its own scan would have skipped or rejected, so it finds exactly what it finds
//! alone (the `fused_walk_finds_what_each_detector_finds_alone` test checks it). Most
//! bytes of typical arguments are letters inside words: no byte-by-byte look at all.

use super::{card, email, iban, ip, is_alnum, phone, secrets, ssn, stops, Hit};
use crate::guardrails::entity::{Builtin, BuiltinSet};

/// Which detectors run, and the next position each of them wants to look at.
struct Detector {
    on: bool,
    next: usize,
}

impl Detector {
    fn new(on: bool) -> Self {
        Detector { on, next: 0 }
    }

    /// Runs `step` at `i` when this detector is on and not still inside its last run.
    fn visit(&mut self, i: usize, step: impl FnOnce() -> usize) {
        if self.on && self.next <= i {
            self.next = step();
        }
    }
}

/// What a byte between words can begin (0: nothing).
const PHONE_START: u8 = 1;
const DASH: u8 = 2;
const AT_SIGN: u8 = 3;
const COLON: u8 = 4;
const BACKSLASH: u8 = 5;

static BETWEEN_WORDS: [u8; 256] = {
    let mut table = [0u8; 256];
    table[b'+' as usize] = PHONE_START;
    table[b'(' as usize] = PHONE_START;
    table[b'-' as usize] = DASH;
    table[b'@' as usize] = AT_SIGN;
    table[b':' as usize] = COLON;
    table[b'\\' as usize] = BACKSLASH;
    table
};

// Checks the walk makes before asking a detector (a call saved at most stops). Each is
// true wherever its detector could find something starting at `i`; where it is false,
// the detector would find nothing there, nor at any later stop its own scan would have
// jumped over from `i` — so not asking it changes nothing the walk finds (the
// `fused_walk…` test). Phone numbers, cards and SSNs all hold ≥ 8 digits among
// `0-9 space - . ( ) +` from their first byte (`phone::enough_digits`); a PEM header
// begins `--`.

/// A dotted quad begins with 1–3 digits and a dot.
fn may_start_v4(b: &[u8], i: usize) -> bool {
    let digits = b[i..]
        .iter()
        .take(4)
        .take_while(|c| c.is_ascii_digit())
        .count();
    (1..=3).contains(&digits) && b.get(i + digits) == Some(&b'.')
}

/// An IBAN: two upper-case letters, two check digits, 15 characters at least.
fn may_start_iban(b: &[u8], i: usize) -> bool {
    b.get(i..i + 15).is_some_and(|h| {
        h[1].is_ascii_uppercase() && h[2].is_ascii_digit() && h[3].is_ascii_digit()
    })
}

/// The credentials' fixed prefixes, by first letter (`secrets`).
fn may_start_secret(b: &[u8], i: usize) -> bool {
    let rest = &b[i..];
    match b[i] {
        b'A' => rest.starts_with(b"AKIA") || rest.starts_with(b"ASIA"),
        b'g' => rest.starts_with(b"gh") || rest.starts_with(b"github_pat_"),
        b'x' => rest.starts_with(b"xox"),
        b's' => rest.starts_with(b"sk-"),
        b'e' => rest.starts_with(b"eyJ"),
        _ => false,
    }
}

/// Runs the detectors of `set` over `b`, appending what they find to `out`.
pub(super) fn find(b: &[u8], set: BuiltinSet, out: &mut Vec<Hit>) {
    find_with(b, set, false, out);
}

/// [`find`] over a JSON text read as plain text (`super::json_text_may_hold_findings`):
/// numbers may follow commas (`card::at_with`); true, and no further look, at a
/// backslash or at the word `guardrails`.
pub(super) fn find_in_json(b: &[u8], set: BuiltinSet, out: &mut Vec<Hit>) -> bool {
    find_with(b, set, true, out)
}

/// The walk; in `json` mode it stops early (true) at what a plain read cannot decide.
fn find_with(b: &[u8], set: BuiltinSet, json: bool, out: &mut Vec<Hit>) -> bool {
    let mut card = Detector::new(set.contains(Builtin::CreditCard));
    let mut phone = Detector::new(set.contains(Builtin::PhoneNumber));
    let mut ssn = Detector::new(set.contains(Builtin::UsSsn));
    let mut iban = Detector::new(set.contains(Builtin::IbanCode));
    let mut v4 = Detector::new(set.contains(Builtin::IpAddress));
    let mut v6 = Detector::new(set.contains(Builtin::IpAddress));
    let mut email = Detector::new(set.contains(Builtin::EmailAddress));
    let mut secret = Detector::new(secrets::ENTITIES.iter().any(|&e| set.contains(e)));
    // The walk stops only where something can begin (`stops`): word starts that are a
    // digit, an upper-case letter or a credential's first letter, and `+ ( - @ :`.
    let (mut base, mut prev_alnum) = (0, false);
    while base < b.len() {
        let (mut stops, last_alnum) = stops::block(b, base, prev_alnum);
        while stops != 0 {
            let i = base + stops.trailing_zeros() as usize;
            stops &= stops - 1;
            let c = b[i];
            if !is_alnum(c) {
                match BETWEEN_WORDS[usize::from(c)] {
                    PHONE_START if phone::enough_digits(b, i) => {
                        phone.visit(i, || phone::at(b, i, out))
                    }
                    DASH if b.get(i + 1) == Some(&b'-') => {
                        secret.visit(i, || secrets::at(b, i, set, out))
                    }
                    AT_SIGN => email.visit(i, || email::at(b, i, out)),
                    COLON => v6.visit(i, || ip::v6_step(b, i, out)),
                    BACKSLASH if json => return true,
                    _ => {}
                }
            } else if c.is_ascii_digit() {
                if phone::enough_digits(b, i) {
                    card.visit(i, || card::at_with(b, i, json, out));
                    phone.visit(i, || phone::at(b, i, out));
                    ssn.visit(i, || ssn::at(b, i, out));
                }
                if may_start_v4(b, i) {
                    v4.visit(i, || ip::v4_step(b, i, out));
                }
            } else {
                if c.is_ascii_uppercase() && may_start_iban(b, i) {
                    iban.visit(i, || iban::at(b, i, out));
                }
                if may_start_secret(b, i) {
                    secret.visit(i, || secrets::at(b, i, set, out));
                }
                if json && c == b'g' && b[i..].starts_with(b"guardrails") {
                    return true;
                }
            }
        }
        prev_alnum = last_alnum;
        base += stops::BLOCK;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the detectors find each on their own, with their own scans.
    fn alone(b: &[u8], set: BuiltinSet) -> Vec<Hit> {
        let mut out = Vec::new();
        if set.contains(Builtin::CreditCard) {
            card::find(b, &mut out);
        }
        if set.contains(Builtin::PhoneNumber) {
            phone::find(b, &mut out);
        }
        if set.contains(Builtin::UsSsn) {
            ssn::find(b, &mut out);
        }
        if set.contains(Builtin::IbanCode) {
            iban::find(b, &mut out);
        }
        if set.contains(Builtin::IpAddress) {
            ip::find_v4(b, &mut out);
            ip::find_v6(b, &mut out);
        }
        if set.contains(Builtin::EmailAddress) {
            email::find(b, &mut out);
        }
        secrets::find(b, set, &mut out);
        out
    }

    fn sorted(mut hits: Vec<Hit>) -> Vec<(usize, usize, Builtin)> {
        hits.sort_by_key(|h| (h.start, h.end, h.entity as u8));
        hits.into_iter()
            .map(|h| (h.start, h.end, h.entity))
            .collect()
    }

    /// Pieces that are, almost are, or are glued into the entities, to be strung
    /// together at random.
    const PIECES: &[&str] = &[
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5555555555554444",
        "378282246310005",
        "order 12 ",
        "+44 20 7946 0958",
        "(415) 555-0132",
        "415.555.0132",
        "1-800-555-0199",
        "020 7946 0958",
        "123-45-6789",
        "078-05-1120",
        "DE89 3704 0044 0532 0130 00",
        "GB82WEST12345698765432",
        "NO9386011117947",
        "192.168.1.20",
        "10.0.0.1.2",
        "v1.2.3.4",
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "github_pat_11ABCDEFG0_x7Yx7Yx7Yx7Yx7Yx7Yx7Yx7Yx7Yx7Yx7Yx7Yx7Yx7Yx7Yx7Yx7Yx7Yx7Yx7Y",
        "xoxp-12345678901",
        "(020) 7946 0958",
        "+1 (415) 555-0132",
        "4111-1111 1111-1111",
        "1.2.3.4.5",
        "999.1.1.1",
        "xoxb-1234567890-abcdefghij",
        "sk-proj-abc123def456ghi789jkl012",
        "sk-ant-api03-abcdefghijklmnopqrstuv",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        "2026-12-07T10:00:00Z",
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "1.2.3",
        "3.14",
        "12,345",
        "id42",
        "A1",
        "e",
        "s",
        "x",
        "g",
        "-",
        "--",
        "+",
        "(",
        ")",
        "é",
        "0",
        "99",
        "1234",
        "GB82",
        "ann.lee@example.com",
        "a@b.com@c",
        "x@y.com-z",
        "@",
        "fe80::1",
        "2001:db8::8a2e:370:7334",
        "::ffff:192.0.2.1",
        "12:30:45",
        "a::b",
        ":",
    ];
    const GLUE: &[&str] = &[
        " ", "", "-", ".", ",", "(", ")", "+", ":", "\n", "a", "7", " - ", "/", "\"",
    ];

    #[test]
    fn fused_walk_finds_what_each_detector_finds_alone() {
        let all: BuiltinSet = Builtin::ALL.iter().copied().collect();
        let numbers: BuiltinSet = [
            Builtin::CreditCard,
            Builtin::PhoneNumber,
            Builtin::EmailAddress,
        ]
        .into_iter()
        .collect();
        let secrets_only: BuiltinSet = secrets::ENTITIES.iter().copied().collect();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            // xorshift64*: deterministic, so a failure reproduces.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
        };
        let mut found = 0;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..1 + next(8) {
                text.push_str(PIECES[next(PIECES.len())]);
                text.push_str(GLUE[next(GLUE.len())]);
            }
            let b = text.as_bytes();
            for set in [all, numbers, secrets_only] {
                let mut fused = Vec::new();
                find(b, set, &mut fused);
                let expected = sorted(alone(b, set));
                found += expected.len();
                assert_eq!(sorted(fused), expected, "{text:?}");
            }
        }
        // The corpus really holds entities (a walk that finds nothing would pass too).
        assert!(found > 10_000, "{found}");
    }
}
