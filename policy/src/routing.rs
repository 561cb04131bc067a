//! The one rule that finds the server a name addresses (a tool, a prompt, a resource's
//! server prefix), written once for every method that routes:
//!
//! 1. the name's prefix (split at the longest known server prefix followed by the
//!    separator, see [`crate::names::split_known`]) names an allowed server: exactly,
//!    else ASCII case-insensitively;
//! 2. it names a known server this request may not reach: not allowed;
//! 3. else the name is bare: it belongs to the one allowed server that offers it
//!    ([`unique_owner`]), not found when none does, ambiguous when several do.
//!
//! Which servers offer a bare name is the caller's to find (it may have to ask them).

use std::sync::Arc;

use crate::names::split_known;

/// Anything routed to by a server prefix.
pub trait Prefixed {
    fn prefix(&self) -> &str;
}

impl<T: Prefixed + ?Sized> Prefixed for &T {
    fn prefix(&self) -> &str {
        (**self).prefix()
    }
}

impl<T: Prefixed + ?Sized> Prefixed for Arc<T> {
    fn prefix(&self) -> &str {
        (**self).prefix()
    }
}

/// Where a name points before any server is asked what it offers.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolution<'t, 'n, T> {
    /// An allowed server, and the name inside it.
    Prefixed { target: &'t T, rest: &'n str },
    /// A known server's prefix, but this request may not reach that server.
    NotAllowed { prefix: &'n str },
    /// No prefix of a known server: a bare name, for [`unique_owner`].
    Bare,
}

/// Why a bare name has no single owner.
#[derive(Debug, PartialEq, Eq)]
pub enum Unowned<T> {
    NotFound,
    /// Every allowed server that offers it, in the order given.
    Ambiguous(Vec<T>),
}

/// Steps 1 and 2 of the rule for `name`, split with `separator` at the longest of the
/// `known` prefixes (every configured server's, allowed or not).
pub fn resolve<'t, 'n, T: Prefixed>(
    name: &'n str,
    separator: &str,
    known: &[&str],
    allowed: &'t [T],
) -> Resolution<'t, 'n, T> {
    let Some((prefix, rest)) = split_known(name, separator, known.iter().copied()) else {
        return Resolution::Bare;
    };
    if let Some(target) = by_prefix(allowed, prefix) {
        return Resolution::Prefixed { target, rest };
    }
    if known.iter().any(|k| k.eq_ignore_ascii_case(prefix)) {
        return Resolution::NotAllowed { prefix };
    }
    Resolution::Bare
}

/// The allowed server with this prefix: exact, else ASCII case-insensitive.
pub fn by_prefix<'t, T: Prefixed>(allowed: &'t [T], prefix: &str) -> Option<&'t T> {
    allowed.iter().find(|t| t.prefix() == prefix).or_else(|| {
        allowed
            .iter()
            .find(|t| t.prefix().eq_ignore_ascii_case(prefix))
    })
}

/// Step 3: the one server among `owners` (those that offer a bare name).
pub fn unique_owner<T>(mut owners: Vec<T>) -> Result<T, Unowned<T>> {
    match owners.len() {
        0 => Err(Unowned::NotFound),
        1 => owners.pop().ok_or(Unowned::NotFound),
        _ => Err(Unowned::Ambiguous(owners)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    struct Server(&'static str);

    impl Prefixed for Server {
        fn prefix(&self) -> &str {
            self.0
        }
    }

    fn prefixed<'t, 'n>(target: &'t Server, rest: &'n str) -> Resolution<'t, 'n, Server> {
        Resolution::Prefixed { target, rest }
    }

    #[test]
    fn an_exact_prefix_wins_over_a_case_insensitive_one() {
        let allowed = [Server("GH"), Server("gh")];
        let known = ["GH", "gh"];
        assert_eq!(
            resolve("gh-search", "-", &known, &allowed),
            prefixed(&allowed[1], "search")
        );
        assert_eq!(
            resolve("GH-search", "-", &known, &allowed),
            prefixed(&allowed[0], "search")
        );
    }

    #[test]
    fn a_prefix_matches_case_insensitively() {
        let allowed = [Server("github")];
        assert_eq!(
            resolve("GitHub-search", "-", &["github"], &allowed),
            prefixed(&allowed[0], "search")
        );
    }

    #[test]
    fn the_longest_known_prefix_is_taken() {
        let allowed = [Server("my"), Server("my-gh")];
        let known = ["my", "my-gh"];
        assert_eq!(
            resolve("my-gh-search", "-", &known, &allowed),
            prefixed(&allowed[1], "search")
        );
        assert_eq!(
            resolve("my-search", "-", &known, &allowed),
            prefixed(&allowed[0], "search")
        );
    }

    #[test]
    fn a_configured_separator_splits() {
        let allowed = [Server("gh")];
        assert_eq!(
            resolve("gh__search-issues", "__", &["gh"], &allowed),
            prefixed(&allowed[0], "search-issues")
        );
        assert_eq!(
            resolve("gh-search", "__", &["gh"], &allowed),
            Resolution::Bare
        );
    }

    #[test]
    fn a_known_server_out_of_scope_is_not_allowed() {
        let allowed = [Server("web")];
        assert_eq!(
            resolve("Secret-read", "-", &["web", "secret"], &allowed),
            Resolution::NotAllowed { prefix: "Secret" }
        );
    }

    #[test]
    fn names_without_a_known_prefix_are_bare() {
        let allowed = [Server("web")];
        for name in ["search", "other-search", "-search", "web-"] {
            assert_eq!(
                resolve(name, "-", &["web"], &allowed),
                Resolution::Bare,
                "{name}"
            );
        }
    }

    #[test]
    fn by_prefix_alone() {
        let allowed = [Server("fs"), Server("FS2")];
        assert_eq!(by_prefix(&allowed, "fs"), Some(&allowed[0]));
        assert_eq!(by_prefix(&allowed, "fs2"), Some(&allowed[1]));
        assert_eq!(by_prefix(&allowed, "f"), None);
    }

    #[test]
    fn a_bare_name_needs_exactly_one_owner() {
        assert_eq!(unique_owner(vec!["a"]), Ok("a"));
        assert_eq!(unique_owner::<&str>(vec![]), Err(Unowned::NotFound));
        assert_eq!(
            unique_owner(vec!["a", "b"]),
            Err(Unowned::Ambiguous(vec!["a", "b"]))
        );
    }

    #[test]
    fn works_through_arcs_and_references() {
        let allowed = [Arc::new(Server("fs"))];
        assert!(matches!(
            resolve("fs-read", "-", &["fs"], &allowed),
            Resolution::Prefixed { rest: "read", .. }
        ));
        let refs = [&Server("fs")];
        assert_eq!(by_prefix(&refs, "FS").map(|s| s.0), Some("fs"));
    }
}
