//! E-mail addresses: `local@domain.tld`, anchored on `@`. The local part is the common
//! subset (`A-Z a-z 0-9 . _ % + -`, no leading, trailing or double dot, ≤ 64); the
//! domain has at least two labels (letters, digits, inner dashes) and an alphabetic
//! top-level label of 2–24 letters — so `pkg@1.2.3` and `user@localhost` are not found.

use super::{is_alnum, Hit};
use crate::guardrails::entity::Builtin;

fn local_char(c: u8) -> bool {
    is_alnum(c) || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// The reference walk: every `@` the e-mail scan stops at, in order.
#[cfg(test)]
pub(super) fn find(b: &[u8], out: &mut Vec<Hit>) {
    let mut from = 0;
    while let Some(off) = b[from..].iter().position(|&c| c == b'@') {
        from = at(b, from + off, out);
    }
}

/// One step of the e-mail scan at the `@` at `at_sign`: pushes the address around it,
/// if any, and returns where the scan goes on.
pub(super) fn at(b: &[u8], at_sign: usize, out: &mut Vec<Hit>) -> usize {
    let Some(start) = local_start(b, at_sign) else {
        return at_sign + 1;
    };
    let Some(end) = domain_end(b, at_sign + 1) else {
        return at_sign + 1;
    };
    // `a@b.com@c`, `x@y.com-z`: part of something else.
    if end < b.len() && matches!(b[end], b'@' | b'-' | b'_') {
        return at_sign + 1;
    }
    out.push(Hit {
        entity: Builtin::EmailAddress,
        start,
        end,
    });
    end
}

fn local_start(b: &[u8], at: usize) -> Option<usize> {
    let mut k = at;
    while k > 0 && local_char(b[k - 1]) && at - k < 64 {
        k -= 1;
    }
    if k > 0 && local_char(b[k - 1]) {
        return None; // longer than 64
    }
    // No leading dot (trim it as sentence punctuation would be wrong: refuse).
    while k < at && b[k] == b'.' {
        k += 1;
    }
    let local = &b[k..at];
    if local.is_empty() || local.last() == Some(&b'.') || local.windows(2).any(|w| w == b"..") {
        return None;
    }
    Some(k)
}

/// End of `label(.label)+` starting at `i`, when the last label is a plausible TLD.
fn domain_end(b: &[u8], mut i: usize) -> Option<usize> {
    let mut labels = 0;
    let mut last;
    loop {
        let start = i;
        while i < b.len() && (is_alnum(b[i]) || b[i] == b'-') && i - start < 63 {
            i += 1;
        }
        if i == start || b[start] == b'-' || b[i - 1] == b'-' {
            return None;
        }
        labels += 1;
        last = (start, i);
        if i + 1 < b.len() && b[i] == b'.' && is_alnum(b[i + 1]) {
            i += 1;
            continue;
        }
        break;
    }
    let tld = &b[last.0..last.1];
    if labels < 2 || !(2..=24).contains(&tld.len()) || !tld.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::super::only;
    use crate::guardrails::entity::Builtin::EmailAddress;

    #[test]
    fn addresses_are_found() {
        for (text, want) in [
            ("jane.doe@example.com", "jane.doe@example.com"),
            (
                "mail Jane <jane+tag@mail.example.co.uk>.",
                "jane+tag@mail.example.co.uk",
            ),
            (
                "to: a_b-c%d@sub-domain.example.org, cc",
                "a_b-c%d@sub-domain.example.org",
            ),
            ("\"x@y.io\"", "x@y.io"),
            ("JOHN.SMITH@EXAMPLE.COM", "JOHN.SMITH@EXAMPLE.COM"),
            ("mailto:ops@corp.example", "ops@corp.example"),
        ] {
            assert_eq!(only(text, EmailAddress), [want], "{text}");
        }
        assert_eq!(
            only("a@example.com;b@example.net", EmailAddress),
            ["a@example.com", "b@example.net"]
        );
    }

    #[test]
    fn lookalikes_are_not_found() {
        for text in [
            "@scope/pkg@1.2.3",
            "user@localhost",
            "a@b",
            "@handle",
            "x@y.c",
            "me@.com",
            "me@-x.com",
            "a..b@example.com",
            "name.@example.com",
            "node@18",
            "sha256@abcdef0123",
            "a@b.com@c",
            "git@github.com-x",
            "1.2.3@4.5.6",
        ] {
            assert!(only(text, EmailAddress).is_empty(), "{text}");
        }
    }
}
