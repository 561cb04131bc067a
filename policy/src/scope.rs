//! Which servers a request may reach, as the filter seals it (`x-meshgate-decision`'s
//! servers field, `*` or a comma list) and the sidecar reads it back: written by
//! [`Scope::encode`], read by [`Scope::parse`] and nowhere else.

use std::fmt;

/// Wire form of "every configured server".
pub const ALL: &str = "*";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every configured server (the master key, not narrowed).
    All,
    /// Only these servers, by name, in configuration order (possibly none).
    Only(Vec<String>),
}

impl Scope {
    pub fn only<S: AsRef<str>>(names: &[S]) -> Scope {
        Scope::Only(names.iter().map(|n| n.as_ref().to_string()).collect())
    }

    pub fn allows(&self, server: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Only(names) => names.iter().any(|n| n == server),
        }
    }

    /// `*`, or the names joined by commas (server names contain neither commas nor spaces).
    pub fn encode(&self) -> String {
        match self {
            Scope::All => ALL.to_string(),
            Scope::Only(names) => names.join(","),
        }
    }

    /// Reads the wire form; empty items are dropped (`""` is no server at all).
    pub fn parse(text: &str) -> Scope {
        match text {
            ALL => Scope::All,
            list => Scope::Only(
                list.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            ),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip() {
        for scope in [
            Scope::All,
            Scope::Only(vec![]),
            Scope::only(&["a"]),
            Scope::only(&["a", "b-c"]),
        ] {
            assert_eq!(Scope::parse(&scope.encode()), scope, "{scope}");
        }
        assert_eq!(Scope::only(&["a", "b"]).encode(), "a,b");
        assert_eq!(Scope::All.encode(), "*");
        assert_eq!(Scope::parse("a,,b,"), Scope::only(&["a", "b"]));
    }

    #[test]
    fn allows_is_exact() {
        let only = Scope::only(&["github"]);
        assert!(only.allows("github"));
        assert!(!only.allows("GitHub"));
        assert!(!only.allows("git"));
        assert!(!Scope::Only(vec![]).allows("github"));
        assert!(Scope::All.allows("anything"));
    }
}
