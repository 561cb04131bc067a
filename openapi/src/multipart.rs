//! `multipart/form-data` bodies (RFC 7578). The boundary is derived from the content (no
//! randomness in a pure crate) and is guaranteed not to occur in any part.

pub(crate) struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

fn fnv1a64(h: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *h ^= u64::from(*b);
        *h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
}

/// Quote a header parameter value the way browsers do (`"` → `%22`, CR/LF → `%0D`/`%0A`).
fn quote(s: &str) -> String {
    s.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Returns (boundary, body).
pub(crate) fn encode(parts: &[Part]) -> (String, Vec<u8>) {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        fnv1a64(&mut h, p.name.as_bytes());
        fnv1a64(&mut h, &p.data);
    }
    let mut boundary = format!("meshgate-boundary-{h:016x}");
    let mut n = 0u32;
    while parts.iter().any(|p| contains(&p.data, boundary.as_bytes())) {
        n += 1;
        boundary = format!("meshgate-boundary-{h:016x}-{n}");
    }
    let mut body = Vec::new();
    for p in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!(
            "Content-Disposition: form-data; name=\"{}\"",
            quote(&p.name)
        );
        if let Some(f) = &p.filename {
            disposition.push_str(&format!("; filename=\"{}\"", quote(f)));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(ct) = &p.content_type {
            body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(&p.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (boundary, body)
}
