//! One rule for error texts that clients see: no URL survives (a spec or upstream URL
//! carries hosts, paths and sometimes tokens). Every site that turns an upstream failure
//! into text for a client passes it through [`scrub_urls`]; operators find the full
//! detail in the sidecar log.

/// What a URL is replaced with.
pub const URL_MARK: &str = "<url>";

/// Replaces every `scheme://…` run (up to whitespace or a closing quote or bracket) with
/// [`URL_MARK`].
pub fn scrub_urls(text: &str) -> String {
    if !text.contains("://") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        // The scheme: letters, digits, `+ . -` right before `://`.
        let head = &rest[..at];
        let scheme_start = head
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
            .last()
            .map_or(at, |(i, _)| i);
        out.push_str(&rest[..scheme_start]);
        let after = &rest[at + 3..];
        let end = after
            .find(|c: char| {
                c.is_whitespace() || matches!(c, '"' | '\'' | '`' | ')' | ']' | '>' | ',')
            })
            .unwrap_or(after.len());
        out.push_str(URL_MARK);
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_go_text_stays() {
        assert_eq!(scrub_urls("no url here"), "no url here");
        assert_eq!(
            scrub_urls(
                "cannot load spec http://10.0.0.5:8080/internal/spec.yaml?token=x: HTTP 404"
            ),
            "cannot load spec <url> HTTP 404"
        );
        assert_eq!(
            scrub_urls("`https://h/a` and (file:///etc/x) end"),
            "`<url>` and (<url>) end"
        );
        assert_eq!(scrub_urls("://odd"), "<url>");
    }
}
