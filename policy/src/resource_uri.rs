//! The resource URIs the gateway hands out: `meshgate://{prefix}/{upstream uri}`. The
//! upstream's own URI stays readable inside, and the prefix names the server that owns
//! it, so a read routes by URI with any number of servers. Formatted and parsed here
//! only (the sidecar rewrites lists and routes reads; the filter reads `Mcp-Name`).

use std::fmt;

/// Scheme of the gateway's resource URIs.
pub const SCHEME: &str = "meshgate://";

/// A gateway resource URI: the server prefix and the upstream's URI, both non-empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayUri<'a> {
    pub prefix: &'a str,
    pub uri: &'a str,
}

impl<'a> GatewayUri<'a> {
    pub fn new(prefix: &'a str, uri: &'a str) -> Self {
        GatewayUri { prefix, uri }
    }

    /// None for anything that is not `meshgate://{prefix}/{uri}` with both parts
    /// non-empty (a plain upstream URI, `meshgate://fs/`, `meshgate:///x`).
    pub fn parse(text: &'a str) -> Option<Self> {
        let (prefix, uri) = text.strip_prefix(SCHEME)?.split_once('/')?;
        (!prefix.is_empty() && !uri.is_empty()).then_some(GatewayUri { prefix, uri })
    }
}

impl fmt::Display for GatewayUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.prefix, self.uri)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_back() {
        let text = GatewayUri::new("fs", "file:///tmp/a b.txt").to_string();
        assert_eq!(text, "meshgate://fs/file:///tmp/a b.txt");
        assert_eq!(
            GatewayUri::parse(&text),
            Some(GatewayUri::new("fs", "file:///tmp/a b.txt"))
        );
    }

    #[test]
    fn the_upstream_uri_keeps_its_slashes_and_scheme() {
        let g = GatewayUri::parse("meshgate://my-gh/meshgate://inner/x").unwrap();
        assert_eq!((g.prefix, g.uri), ("my-gh", "meshgate://inner/x"));
    }

    #[test]
    fn refuses_what_is_not_a_gateway_uri() {
        for text in [
            "demo://resource/static/1",
            "meshgate://fs/",
            "meshgate:///x",
            "meshgate://fs",
            "meshgate://",
            "MESHGATE://fs/a",
            "",
        ] {
            assert_eq!(GatewayUri::parse(text), None, "{text}");
        }
    }
}
