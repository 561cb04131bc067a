//! `Origin` validation (MCP transport security, DNS rebinding): a browser origin is
//! accepted when it is local or listed in `meshgate.allowed_origins` ("*" allows all).
//! Requests without `Origin` (non-browser clients) are not affected.

pub fn origin_allowed(origin: &str, allowed: &[String]) -> bool {
    let origin = origin.trim();
    if allowed
        .iter()
        .any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let Some((_, rest)) = origin.split_once("://") else {
        return false; // "null" and other opaque origins
    };
    let host = if let Some(v6) = rest.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        rest.split([':', '/']).next().unwrap_or_default()
    };
    matches!(
        host.to_ascii_lowercase().as_str(),
        "localhost" | "127.0.0.1" | "::1"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_listed_and_foreign_origins() {
        let none: Vec<String> = vec![];
        assert!(origin_allowed("http://localhost:6274", &none));
        assert!(origin_allowed("http://127.0.0.1", &none));
        assert!(origin_allowed("http://[::1]:8080", &none));
        assert!(!origin_allowed("http://evil.example.com", &none));
        assert!(!origin_allowed("http://localhost.evil.com", &none));
        assert!(!origin_allowed("null", &none));
        let listed = vec!["https://app.example.com".to_string()];
        assert!(origin_allowed("https://APP.example.com", &listed));
        assert!(!origin_allowed("https://other.example.com", &listed));
        assert!(origin_allowed("https://anything", &["*".to_string()]));
    }
}
