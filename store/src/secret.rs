//! Key material: generation, hashing, display form, and LiteLLM durations.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use crate::error::StoreError;

/// Lowercase hex SHA-256 of the whole key (identical to `meshgate_policy::auth::hash_key`).
pub fn hash_key(plaintext: &str) -> String {
    hex::encode(Sha256::digest(plaintext.as_bytes()))
}

/// A fresh `sk-` key: 32 random bytes from the OS, URL-safe base64 without padding (46 chars).
pub(crate) fn new_plaintext_key() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::Database(format!("no randomness available: {e}")))?;
    Ok(format!("sk-{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// LiteLLM's display form: `sk-...` and the last four characters.
pub(crate) fn abbreviate(plaintext: &str) -> String {
    let tail: String = {
        let chars: Vec<char> = plaintext.chars().collect();
        chars[chars.len().saturating_sub(4)..].iter().collect()
    };
    format!("sk-...{tail}")
}

/// Whether `s` looks like a stored key id (64 hex digits).
pub(crate) fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The stored id for what a caller passed: a plaintext `sk-…` key is hashed, a hash is lowercased.
/// `None` when it is neither (it cannot name a key).
pub(crate) fn key_id_from(input: &str) -> Option<String> {
    let input = input.trim();
    if input.starts_with("sk-") {
        Some(hash_key(input))
    } else if is_hash(input) {
        Some(input.to_ascii_lowercase())
    } else {
        None
    }
}

/// Parses a LiteLLM duration: a positive integer followed by `s`, `m`, `h`, `d`, `w`, `mo` or `y`
/// (`y` = 365 days, `mo` = 30 days).
pub fn parse_duration(s: &str) -> Result<Duration, StoreError> {
    let bad = || {
        StoreError::invalid(
            "duration",
            format!("`{s}` is not a duration like 30s, 15m, 12h, 7d, 2w, 1mo or 1y"),
        )
    };
    let s_trim = s.trim();
    let split = s_trim.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (num, unit) = s_trim.split_at(split);
    let n: i64 = num.parse().map_err(|_| bad())?;
    if n <= 0 {
        return Err(bad());
    }
    let seconds_per_unit: i64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "mo" => 30 * 86_400,
        "y" => 365 * 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(seconds_per_unit)
        .and_then(Duration::try_seconds)
        .ok_or_else(bad)
}

/// `now + duration`, refusing overflow.
pub(crate) fn expiry_after(
    now: DateTime<Utc>,
    duration: &str,
) -> Result<DateTime<Utc>, StoreError> {
    let d = parse_duration(duration)?;
    now.checked_add_signed(d)
        .ok_or_else(|| StoreError::invalid("duration", "too far in the future"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_lowercase_hex_sha256() {
        assert_eq!(
            hash_key("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn generated_keys_have_the_expected_shape() {
        let k = new_plaintext_key().unwrap();
        assert!(k.starts_with("sk-"));
        assert_eq!(k.len(), 3 + 43);
        assert!(k[3..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(k, new_plaintext_key().unwrap());
        assert_eq!(abbreviate(&k), format!("sk-...{}", &k[k.len() - 4..]));
    }

    #[test]
    fn key_ids() {
        let h = hash_key("sk-x");
        assert_eq!(key_id_from("sk-x"), Some(h.clone()));
        assert_eq!(key_id_from(&h.to_uppercase()), Some(h));
        assert_eq!(key_id_from("team-1"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::seconds(30));
        assert_eq!(parse_duration("15m").unwrap(), Duration::minutes(15));
        assert_eq!(parse_duration("2h").unwrap(), Duration::hours(2));
        assert_eq!(parse_duration("7d").unwrap(), Duration::days(7));
        assert_eq!(parse_duration("2w").unwrap(), Duration::days(14));
        assert_eq!(parse_duration("1mo").unwrap(), Duration::days(30));
        assert_eq!(parse_duration("1y").unwrap(), Duration::days(365));
        for bad in ["", "d", "0d", "-1d", "5x", "1.5h", "99999999999999999999y"] {
            assert!(
                matches!(parse_duration(bad), Err(StoreError::Invalid { ref field, .. }) if field == "duration"),
                "{bad}"
            );
        }
    }
}
