//! Upstream sessions carried inside a client's session id, so another sidecar replica
//! (same key) continues them instead of opening new ones. Packed small: a UUID-shaped
//! id takes 16 bytes, anything else its length; servers and credential sets are named
//! by 4-byte tags.

use sha2::{Digest, Sha256};

/// Protocol versions an upstream session may have negotiated, by index.
const VERSIONS: &[&str] = &[
    "2024-11-05",
    "2025-03-26",
    "2025-06-18",
    "2025-11-25",
    "2026-07-28",
];
/// More are not carried: the id must stay small; the rest re-initialize elsewhere.
pub const MAX_CARRIED: usize = 16;
const UUID_FLAG: u8 = 0x80;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarriedSession {
    /// [`server_tag`] of the server's name.
    pub server: u32,
    /// The low 32 bits of the session key (credentials + client capabilities): a
    /// session is only continued for the same credentials.
    pub key: u32,
    pub protocol: &'static str,
    pub id: String,
}

pub fn server_tag(name: &str) -> u32 {
    let digest = Sha256::digest(name.as_bytes());
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

pub fn key_tag(key: u64) -> u32 {
    key as u32
}

pub fn protocol(version: &str) -> Option<&'static str> {
    VERSIONS.iter().copied().find(|v| *v == version)
}

/// Appends `sessions` (count first) to `out`.
pub fn encode(sessions: &[CarriedSession], out: &mut Vec<u8>) {
    let carried: Vec<(&CarriedSession, u8)> = sessions
        .iter()
        .filter_map(|s| {
            let index = VERSIONS.iter().position(|v| *v == s.protocol)? as u8;
            (s.id.len() <= u8::MAX as usize).then_some((s, index))
        })
        .take(MAX_CARRIED)
        .collect();
    out.push(carried.len() as u8);
    for (s, index) in carried {
        out.extend_from_slice(&s.server.to_be_bytes());
        out.extend_from_slice(&s.key.to_be_bytes());
        match uuid_bytes(&s.id) {
            Some(raw) => {
                out.push(index | UUID_FLAG);
                out.extend_from_slice(&raw);
            }
            None => {
                out.push(index);
                out.push(s.id.len() as u8);
                out.extend_from_slice(s.id.as_bytes());
            }
        }
    }
}

/// Reads what [`encode`] wrote; None when malformed or not all of `input` is used.
pub fn decode(mut input: &[u8]) -> Option<Vec<CarriedSession>> {
    let (&count, rest) = input.split_first()?;
    // `encode` never writes more; a larger count is not an id we minted.
    if count as usize > MAX_CARRIED {
        return None;
    }
    input = rest;
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let (head, rest) = input.split_at_checked(9)?;
        input = rest;
        let server = u32::from_be_bytes(head[0..4].try_into().ok()?);
        let key = u32::from_be_bytes(head[4..8].try_into().ok()?);
        let protocol = VERSIONS.get((head[8] & !UUID_FLAG) as usize)?;
        let id = if head[8] & UUID_FLAG != 0 {
            let (raw, rest) = input.split_at_checked(16)?;
            input = rest;
            uuid_text(raw)
        } else {
            let (&len, rest) = input.split_first()?;
            let (raw, rest) = rest.split_at_checked(len as usize)?;
            input = rest;
            String::from_utf8(raw.to_vec()).ok()?
        };
        out.push(CarriedSession {
            server,
            key,
            protocol,
            id,
        });
    }
    input.is_empty().then_some(out)
}

/// The 16 bytes of a lowercase hyphenated UUID (only that form, so decoding gives the
/// same text back).
fn uuid_bytes(id: &str) -> Option<[u8; 16]> {
    let b = id.as_bytes();
    if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
        return None;
    }
    let hex: Vec<u8> = b.iter().copied().filter(|c| *c != b'-').collect();
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

fn uuid_text(raw: &[u8]) -> String {
    let hex = hex::encode(raw);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fuzz finding F2 (docs/security.md): a count above what `encode` ever writes is
    /// refused, not read (an id carries at most `MAX_CARRIED` upstream sessions).
    #[test]
    fn more_entries_than_ever_minted_are_refused() {
        let entry = |bytes: &mut Vec<u8>| {
            bytes.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 7, 2, 0]);
        };
        let mut within = vec![MAX_CARRIED as u8];
        (0..MAX_CARRIED).for_each(|_| entry(&mut within));
        assert_eq!(decode(&within).map(|v| v.len()), Some(MAX_CARRIED));
        let mut over = vec![MAX_CARRIED as u8 + 1];
        (0..=MAX_CARRIED).for_each(|_| entry(&mut over));
        assert_eq!(decode(&over), None);
    }

    fn session(id: &str) -> CarriedSession {
        CarriedSession {
            server: server_tag("github"),
            key: 7,
            protocol: "2025-11-25",
            id: id.into(),
        }
    }

    #[test]
    fn round_trips_uuid_and_other_ids() {
        let sessions = vec![
            session("0f8e6a3c-1b2d-4e5f-8a9b-0c1d2e3f4a5b"),
            session("demo-1234-7"),
            session("0F8E6A3C-1B2D-4E5F-8A9B-0C1D2E3F4A5B"),
        ];
        let mut out = Vec::new();
        encode(&sessions, &mut out);
        assert_eq!(out.len(), 1 + (9 + 16) + (9 + 1 + 11) + (9 + 1 + 36));
        assert_eq!(decode(&out), Some(sessions));
        assert_eq!(decode(&out[..out.len() - 1]), None);
        let mut longer = out.clone();
        longer.push(0);
        assert_eq!(decode(&longer), None);
        assert_eq!(decode(&[]), None);
    }

    #[test]
    fn skips_what_cannot_be_carried() {
        let mut odd = session("x");
        odd.protocol = "2025-11-25";
        let long = session(&"y".repeat(300));
        let mut out = Vec::new();
        encode(&[long, odd.clone()], &mut out);
        assert_eq!(decode(&out), Some(vec![odd]));
    }
}
