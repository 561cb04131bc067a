//! Credentials in their providers' formats, found in one pass over the text by their
//! fixed prefixes:
//! - `AWS_ACCESS_KEY`: `AKIA` / `ASIA` + 16 upper-case letters or digits;
//! - `GITHUB_TOKEN`: `ghp_` / `gho_` / `ghu_` / `ghs_` / `ghr_` + ≥ 36 letters or digits,
//!   `github_pat_` + ≥ 50 letters, digits or `_`;
//! - `SLACK_TOKEN`: `xoxa-` / `xoxb-` / `xoxp-` / `xoxr-` + ≥ 10 of `[A-Za-z0-9-]`,
//!   with a digit (placeholders such as `xoxb-your-token-here` have none);
//! - `ANTHROPIC_API_KEY`: `sk-ant-` + ≥ 20 of `[A-Za-z0-9_-]`;
//! - `OPENAI_API_KEY`: `sk-`, optionally `proj-` / `svcacct-` / `admin-`, + ≥ 20 of
//!   `[A-Za-z0-9_-]` with at least one digit and one letter (so prose such as
//!   `sk-learn-…` is not taken);
//! - `PRIVATE_KEY`: `-----BEGIN [RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP ]PRIVATE KEY[ BLOCK]-----`,
//!   through its `-----END …-----` line when present (the whole block is the secret);
//! - `JWT`: `eyJ…` `.` `eyJ…` `.` signature (base64url), whose first part decodes to a
//!   JSON object naming `alg`.
//!
//! Every token must start and end at a word boundary.

use super::{is_alnum, next_word, starts_word, Hit};
use crate::guardrails::entity::{Builtin, BuiltinSet};

fn token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

fn run(b: &[u8], i: usize, ok: impl Fn(u8) -> bool) -> usize {
    b[i..]
        .iter()
        .position(|&c| !ok(c))
        .map_or(b.len(), |p| i + p)
}

/// The credential entities, all found by [`at`].
pub(super) const ENTITIES: [Builtin; 7] = [
    Builtin::AwsAccessKey,
    Builtin::GithubToken,
    Builtin::SlackToken,
    Builtin::OpenaiApiKey,
    Builtin::AnthropicApiKey,
    Builtin::PrivateKey,
    Builtin::Jwt,
];

/// The reference walk: every position the credential scan stops at, in order.
#[cfg(test)]
pub(super) fn find(b: &[u8], set: BuiltinSet, out: &mut Vec<Hit>) {
    if !ENTITIES.iter().any(|&w| set.contains(w)) {
        return;
    }
    let mut i = 0;
    while i < b.len() {
        i = at(b, i, set, out);
    }
}

/// One step of the credential scan at `i`: checks a token starting there (pushing it)
/// and returns where the scan goes on. Tokens start a word (the PEM header starts with
/// dashes): inside a word, the scan skips to its end at once.
pub(super) fn at(b: &[u8], i: usize, set: BuiltinSet, out: &mut Vec<Hit>) -> usize {
    let c = b[i];
    let word = is_alnum(c);
    if word && !starts_word(b, i) {
        return next_word(b, i);
    }
    let found = match c {
        b'A' if set.contains(Builtin::AwsAccessKey) => aws(b, i),
        b'g' if set.contains(Builtin::GithubToken) => github(b, i),
        b'x' if set.contains(Builtin::SlackToken) => slack(b, i),
        b's' => sk(b, i, set),
        b'-' if set.contains(Builtin::PrivateKey) => private_key(b, i),
        b'e' if set.contains(Builtin::Jwt) => jwt(b, i),
        _ => None,
    };
    match found {
        Some((entity, end)) => {
            out.push(Hit {
                entity,
                start: i,
                end,
            });
            end
        }
        None if word => next_word(b, i),
        None => i + 1,
    }
}

type Found = Option<(Builtin, usize)>;

fn aws(b: &[u8], i: usize) -> Found {
    let rest = &b[i..];
    if !(rest.starts_with(b"AKIA") || rest.starts_with(b"ASIA")) || !starts_word(b, i) {
        return None;
    }
    let end = run(b, i, |c| c.is_ascii_uppercase() || c.is_ascii_digit());
    (end - i == 20 && !b.get(end).is_some_and(|&c| token_char(c)))
        .then_some((Builtin::AwsAccessKey, end))
}

fn github(b: &[u8], i: usize) -> Found {
    let rest = &b[i..];
    if !starts_word(b, i) {
        return None;
    }
    if rest.starts_with(b"github_pat_") {
        let end = run(b, i + 11, |c| c.is_ascii_alphanumeric() || c == b'_');
        return (end - (i + 11) >= 50).then_some((Builtin::GithubToken, end));
    }
    let classic = rest.len() > 4
        && rest.starts_with(b"gh")
        && matches!(rest[2], b'p' | b'o' | b'u' | b's' | b'r')
        && rest[3] == b'_';
    if !classic {
        return None;
    }
    let end = run(b, i + 4, |c| c.is_ascii_alphanumeric());
    (end - (i + 4) >= 36 && !b.get(end).is_some_and(|&c| token_char(c)))
        .then_some((Builtin::GithubToken, end))
}

fn slack(b: &[u8], i: usize) -> Found {
    let rest = &b[i..];
    let prefixed = rest.len() > 5
        && rest.starts_with(b"xox")
        && matches!(rest[3], b'a' | b'b' | b'p' | b'r')
        && rest[4] == b'-';
    if !prefixed || !starts_word(b, i) {
        return None;
    }
    let end = run(b, i + 5, |c| c.is_ascii_alphanumeric() || c == b'-');
    // Real tokens carry numeric ids; `xoxb-your-token-here` placeholders do not.
    let body = &b[i + 5..end];
    (body.len() >= 10 && body.iter().any(u8::is_ascii_digit)).then_some((Builtin::SlackToken, end))
}

fn sk(b: &[u8], i: usize, set: BuiltinSet) -> Found {
    let rest = &b[i..];
    if !rest.starts_with(b"sk-") || !starts_word(b, i) {
        return None;
    }
    let body_from = |skip: usize| {
        let from = i + skip;
        let end = run(b, from, token_char);
        let body = &b[from..end];
        let mixed = body.iter().any(u8::is_ascii_digit) && body.iter().any(u8::is_ascii_alphabetic);
        (body.len() >= 20 && mixed).then_some(end)
    };
    if rest.starts_with(b"sk-ant-") {
        return if set.contains(Builtin::AnthropicApiKey) {
            body_from(7).map(|end| (Builtin::AnthropicApiKey, end))
        } else {
            None
        };
    }
    if !set.contains(Builtin::OpenaiApiKey) {
        return None;
    }
    let skip = [&b"sk-proj-"[..], b"sk-svcacct-", b"sk-admin-"]
        .iter()
        .find(|p| rest.starts_with(p))
        .map_or(3, |p| p.len());
    body_from(skip).map(|end| (Builtin::OpenaiApiKey, end))
}

fn private_key(b: &[u8], i: usize) -> Found {
    const BEGIN: &[u8] = b"-----BEGIN ";
    let rest = &b[i..];
    if !rest.starts_with(BEGIN) {
        return None;
    }
    // The label: upper-case words up to the closing dashes, ending in PRIVATE KEY.
    let label_from = i + BEGIN.len();
    let label_end = run(b, label_from, |c| c.is_ascii_uppercase() || c == b' ');
    let label = &b[label_from..label_end];
    let is_private = label.ends_with(b"PRIVATE KEY") || label.ends_with(b"PRIVATE KEY BLOCK");
    if !is_private || !b[label_end..].starts_with(b"-----") {
        return None;
    }
    let header_end = label_end + 5;
    // Through the END line when one follows; else the header alone.
    let end = find_from(b, header_end, b"-----END ")
        .and_then(|at| find_from(b, at + 9, b"-----").map(|close| close + 5))
        .unwrap_or(header_end);
    Some((Builtin::PrivateKey, end))
}

fn find_from(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    b.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

fn b64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

fn jwt(b: &[u8], i: usize) -> Found {
    if !b[i..].starts_with(b"eyJ") || !starts_word(b, i) {
        return None;
    }
    let header_end = run(b, i, b64url);
    if b.get(header_end) != Some(&b'.') || !b[header_end + 1..].starts_with(b"eyJ") {
        return None;
    }
    let payload_end = run(b, header_end + 1, b64url);
    if b.get(payload_end) != Some(&b'.') {
        return None;
    }
    let end = run(b, payload_end + 1, b64url);
    if b.get(end) == Some(&b'.') || !header_names_alg(&b[i..header_end]) {
        return None;
    }
    Some((Builtin::Jwt, end))
}

/// Decodes the base64url header (first 96 bytes at most, no allocation) and checks it
/// reads as a JSON object with an `"alg"` member.
fn header_names_alg(part: &[u8]) -> bool {
    let mut decoded = [0u8; 96];
    let mut n = 0;
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &c in part.iter().take(128) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return false,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            decoded[n] = (acc >> bits) as u8;
            n += 1;
            acc &= (1 << bits) - 1;
        }
    }
    let text = &decoded[..n];
    text.first() == Some(&b'{') && text.windows(5).any(|w| w == b"\"alg\"")
}

#[cfg(test)]
mod tests {
    use super::super::entities;
    use crate::guardrails::entity::{Builtin, BuiltinSet};

    const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

    fn found(text: &str) -> Vec<(Builtin, String)> {
        entities(text, BuiltinSet::all())
    }

    #[test]
    fn secrets_are_found_by_format() {
        let pem =
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1234\n-----END RSA PRIVATE KEY-----";
        let cases: Vec<(String, Builtin)> = vec![
            ("AKIAIOSFODNN7EXAMPLE".into(), Builtin::AwsAccessKey),
            ("ASIAY34FZKBOKMUTVV7A".into(), Builtin::AwsAccessKey),
            (format!("ghp_{}", "a1B2".repeat(9)), Builtin::GithubToken),
            (format!("gho_{}", "Z9y8".repeat(9)), Builtin::GithubToken),
            (format!("ghs_{}", "0aA1".repeat(9)), Builtin::GithubToken),
            (format!("github_pat_11ABCDEFG0_{}", "x7Y".repeat(20)), Builtin::GithubToken),
            ("xoxb-1234567890-0987654321-AbCdEfGhIjKl".into(), Builtin::SlackToken),
            ("xoxp-12345678901".into(), Builtin::SlackToken),
            (format!("sk-{}", "Ab3dE".repeat(10)), Builtin::OpenaiApiKey),
            (format!("sk-proj-{}_{}", "Xy9-".repeat(10), "q1W2".repeat(5)), Builtin::OpenaiApiKey),
            (format!("sk-svcacct-{}", "z8Y7x".repeat(6)), Builtin::OpenaiApiKey),
            (format!("sk-ant-api03-{}-AA", "Q1w2E3r4".repeat(11)), Builtin::AnthropicApiKey),
            (pem.into(), Builtin::PrivateKey),
            ("-----BEGIN PRIVATE KEY-----".into(), Builtin::PrivateKey),
            ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----".into(), Builtin::PrivateKey),
            ("-----BEGIN PGP PRIVATE KEY BLOCK-----".into(), Builtin::PrivateKey),
            (JWT.into(), Builtin::Jwt),
        ];
        for (secret, entity) in cases {
            for text in [
                secret.clone(),
                format!("token={secret}"),
                format!("Authorization: Bearer {secret}"),
                format!("{{\"key\":\"{secret}\"}}"),
            ] {
                assert_eq!(found(&text), [(entity, secret.clone())], "{text}");
            }
        }
    }

    #[test]
    fn lookalikes_are_not_secrets() {
        for text in [
            "AKIA",
            "AKIAIOSFODNN7EXAMPL",
            "AKIAIOSFODNN7EXAMPLE1",
            "XAKIAIOSFODNN7EXAMPLE",
            "ghp_short",
            "ghx_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "xoxz-1234567890-abc",
            "xoxb-123",
            "xoxa-access-token-string",
            "xoxp-XXXXXXXX-XXXXXXXX-XXXXX",
            "sk-learn-is-a-python-library",
            "task-1234567890abcdefghijk",
            "sk-ant-short",
            "-----BEGIN PUBLIC KEY-----",
            "-----BEGIN CERTIFICATE-----",
            "eyJhbGciOiJIUzI1NiJ9",
            "eyJub3RhIjoiand0In0.eyJzdWIiOiIxIn0.sig",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig.extra",
        ] {
            assert!(found(text).is_empty(), "{text}: {:?}", found(text));
        }
        // Only the chosen entities are looked for.
        let only_aws: BuiltinSet = [Builtin::AwsAccessKey].into_iter().collect();
        assert!(entities(JWT, only_aws).is_empty());
    }
}
