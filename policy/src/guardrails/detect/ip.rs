//! IP addresses. IPv4: exactly four decimal octets 0–255 without leading zeros, not
//! part of a longer dotted run (`1.3.6.1.4.1`, `10.0.0.1.2`) and not after `v`
//! (`v1.2.3.4`): versions (`1.2.3`) have three parts. IPv6: hex groups of 1–4 digits
//! and colons, eight groups, or fewer with one `::` and at least two groups written, three
//! unless one has four digits (so `::`, `a::b` paths and `12:30:45` times are not taken), optionally
//! ending in an IPv4 address.

use super::{is_alnum, next_word, starts_word, Hit};
use crate::guardrails::entity::Builtin;

/// The reference walk: every position the IPv4 scan stops at, in order.
#[cfg(test)]
pub(super) fn find_v4(b: &[u8], out: &mut Vec<Hit>) {
    let mut i = 0;
    while i < b.len() {
        i = v4_step(b, i, out);
    }
}

/// One step of the IPv4 scan at `i`: checks a dotted quad there (pushing it) and
/// returns where the scan goes on. The shared walk calls it only at the starts of
/// words that begin with a digit.
pub(super) fn v4_step(b: &[u8], i: usize, out: &mut Vec<Hit>) -> usize {
    if !b[i].is_ascii_digit() {
        // A word cannot contain an address that starts a word.
        return if is_alnum(b[i]) {
            next_word(b, i)
        } else {
            i + 1
        };
    }
    let boundary = starts_word(b, i) && !(i > 0 && matches!(b[i - 1], b'.' | b':'));
    if boundary {
        if let Some(end) = v4_at(b, i) {
            // A fifth part or a word glued on: part of something else.
            let glued = end < b.len()
                && (is_alnum(b[end])
                    || (b[end] == b'.' && b.get(end + 1).is_some_and(u8::is_ascii_digit)));
            if !glued {
                out.push(Hit {
                    entity: Builtin::IpAddress,
                    start: i,
                    end,
                });
                return end;
            }
        }
    }
    // Skip the rest of this dotted run.
    let mut j = i;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'.') {
        j += 1;
    }
    j
}

/// End of a dotted quad at `i`.
fn v4_at(b: &[u8], mut i: usize) -> Option<usize> {
    for part in 0..4 {
        if part > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut value: u32 = 0;
        while i < b.len() && b[i].is_ascii_digit() && i - start < 3 {
            value = value * 10 + u32::from(b[i] - b'0');
            i += 1;
        }
        let len = i - start;
        if len == 0 || value > 255 || (len > 1 && b[start] == b'0') {
            return None;
        }
        if i < b.len() && b[i].is_ascii_digit() {
            return None; // four or more digits
        }
    }
    Some(i)
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

/// The reference walk: every `:` the IPv6 scan stops at, in order.
#[cfg(test)]
pub(super) fn find_v6(b: &[u8], out: &mut Vec<Hit>) {
    let mut from = 0;
    while let Some(off) = b[from..].iter().position(|&c| c == b':') {
        from = v6_step(b, from + off, out);
    }
}

/// One step of the IPv6 scan at the `:` at `colon`: pushes the address it is part of,
/// if any, and returns where the scan goes on (past the hex digits, colons and dots
/// around it).
pub(super) fn v6_step(b: &[u8], colon: usize, out: &mut Vec<Hit>) -> usize {
    // Walk back to the start of the candidate: hex digits and colons.
    let mut start = colon;
    while start > 0 && (is_hex(b[start - 1]) || b[start - 1] == b':') {
        start -= 1;
    }
    let mut end = colon;
    while end < b.len() && (is_hex(b[end]) || b[end] == b':' || b[end] == b'.') {
        end += 1;
    }
    let next = end.max(colon + 1);
    if !starts_word(b, start) || (start > 0 && b[start - 1] == b'.') {
        return next;
    }
    // Trailing sentence dots and colons are not part of the address.
    while end > start && matches!(b[end - 1], b'.') {
        end -= 1;
    }
    if end < b.len() && (is_alnum(b[end]) || b[end] == b'_') {
        return next;
    }
    if v6_valid(&b[start..end]) {
        out.push(Hit {
            entity: Builtin::IpAddress,
            start,
            end,
        });
    }
    next
}

fn v6_valid(s: &[u8]) -> bool {
    // An embedded IPv4 tail counts as two groups.
    let (head, v4_groups) = match s.iter().rposition(|&c| c == b':') {
        Some(p) if s[p + 1..].contains(&b'.') => {
            let tail = &s[p + 1..];
            if v4_at(tail, 0) != Some(tail.len()) {
                return false;
            }
            (&s[..=p], 2)
        }
        _ => (s, 0),
    };
    if head.contains(&b'.') {
        return false;
    }
    let compressed = match head.windows(2).filter(|w| w == b"::").count() {
        0 => false,
        1 => true,
        _ => return false,
    };
    if head.windows(3).any(|w| w == b":::") {
        return false;
    }
    let mut groups = 0;
    let mut full_group = v4_groups > 0;
    for part in head.split(|&c| c == b':') {
        if part.is_empty() {
            continue;
        }
        if part.len() > 4 {
            return false;
        }
        full_group |= part.len() == 4;
        groups += 1;
    }
    // A lone `:` at either end is not allowed (only `::`).
    let bad_edge = |s: &[u8], at_end: bool| {
        let (one, two) = if at_end {
            (s.last(), s.len() >= 2 && s[s.len() - 2] == b':')
        } else {
            (s.first(), s.len() >= 2 && s[1] == b':')
        };
        one == Some(&b':') && !two
    };
    if bad_edge(head, false) || (v4_groups == 0 && bad_edge(head, true)) {
        return false;
    }
    let total = groups + v4_groups;
    if compressed {
        // `a::b` reads as a path more often than an address.
        (2..=7).contains(&total) && (total >= 3 || full_group)
    } else {
        total == 8
    }
}

#[cfg(test)]
mod tests {
    use super::super::only;
    use crate::guardrails::entity::Builtin::IpAddress;

    #[test]
    fn addresses_are_found() {
        for ip in [
            "192.168.1.10",
            "10.0.0.1",
            "8.8.8.8",
            "255.255.255.255",
            "0.0.0.0",
            "1.2.3.4",
            "2001:db8:85a3:0:0:8a2e:370:7334",
            "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
            "2001:db8::1",
            "fe80::1ff:fe23:4567:890a",
            "::ffff:192.0.2.128",
            "2001:db8::",
            "FE80::0202:B3FF:FE1E:8329",
        ] {
            for text in [
                ip.to_string(),
                format!("host {ip}."),
                format!("\"{ip}\""),
                format!("[{ip}]:443"),
                format!("from {ip}, to"),
            ] {
                assert_eq!(only(&text, IpAddress), [ip], "{text}");
            }
        }
    }

    #[test]
    fn lookalikes_are_not_found() {
        for text in [
            "1.2.3",
            "v1.2.3.4",
            "1.2.3.4.5",
            "1.3.6.1.4.1.311",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3.4a",
            "version 10.0.19041",
            "12:30:45",
            "2024-01-15T10:30:00Z",
            "std::vector",
            "a::b",
            "::",
            "de:ad:be:ef",
            "00:1a:2b:3c:4d:5e",
            "1:2:3:4:5:6:7:8:9",
            "2001:db8::1::2",
            "12345::1",
            "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "urn:uuid:123e4567-e89b-12d3-a456-426614174000",
        ] {
            assert!(only(text, IpAddress).is_empty(), "{text}");
        }
    }
}
