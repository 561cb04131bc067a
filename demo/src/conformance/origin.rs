//! DNS-rebinding protection: the fixture listens on loopback only, so it accepts only
//! requests whose `Host` (and `Origin`, when sent) name a loopback host.

const LOOPBACK: &[&str] = &["localhost", "127.0.0.1", "[::1]", "::1"];

/// The host part of `host[:port]` (IPv6 literals keep their brackets).
fn host_of(authority: &str) -> &str {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => &authority[..=end],
            None => authority,
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

fn is_loopback_authority(authority: &str) -> bool {
    let host = host_of(authority.trim()).to_ascii_lowercase();
    LOOPBACK.contains(&host.as_str())
}

/// `Host` must be a loopback name (with an optional port); a missing `Host` is refused.
pub fn host_allowed(host: Option<&str>) -> bool {
    host.is_some_and(is_loopback_authority)
}

/// `Origin`, when present, must be `http(s)://<loopback>[:port]`.
pub fn origin_allowed(origin: Option<&str>) -> bool {
    let Some(origin) = origin else {
        return true;
    };
    let rest = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    match rest {
        Some(rest) => is_loopback_authority(rest.split('/').next().unwrap_or("")),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for ok in [
            "localhost",
            "127.0.0.1:8080",
            "[::1]:3000",
            "LOCALHOST:1",
            "[::1]",
        ] {
            assert!(host_allowed(Some(ok)), "{ok}");
        }
        for bad in [
            "evil.example.com",
            "evil.example.com:80",
            "127.0.0.1.evil.com",
            "",
        ] {
            assert!(!host_allowed(Some(bad)), "{bad}");
        }
        assert!(!host_allowed(None));
    }

    #[test]
    fn origins() {
        assert!(origin_allowed(None));
        assert!(origin_allowed(Some("http://localhost:5173")));
        assert!(origin_allowed(Some("https://127.0.0.1")));
        assert!(!origin_allowed(Some("http://evil.example.com")));
        assert!(!origin_allowed(Some("null")));
    }
}
