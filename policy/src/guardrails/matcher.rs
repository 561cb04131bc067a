//! A guardrail compiled for scanning: its built-in entity set, its user regexes, its
//! allow-list, and the action per entity. [`Guardrail::find`] turns a text into
//! non-overlapping findings.

use regex_lite::{Regex, RegexBuilder};

use super::config::{GuardrailSpec, Provider};
use super::detect::{find_builtins, number_is_card, Hit};
use super::entity::{Action, Builtin, BuiltinSet};

/// Compiled size limit of one user regex (every filter VM holds them).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// One user regex, by regex-lite (a fraction of the `regex` crate's size in the
/// filter's wasm): `\d`, `\w`, `\s` and case folding are ASCII-only.
pub(crate) fn build_regex(pattern: &str, whole: bool) -> Result<Regex, regex_lite::Error> {
    let pattern = if whole {
        format!("^(?:{pattern})$")
    } else {
        pattern.to_string()
    };
    RegexBuilder::new(&pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// A match in one text: entity name, what to do, byte range. Never the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finding<'g> {
    pub entity: &'g str,
    pub action: Action,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone)]
struct Pattern {
    name: String,
    regex: Regex,
    action: Action,
    /// A literal every match starts with: texts without it are not run through the
    /// regex engine (regex-lite has no prefilter of its own).
    prefix: Option<String>,
}

/// The literal a pattern's every match starts with, when it is plain to see: the
/// leading run of ordinary characters, without a last one a quantifier makes
/// optional; none when the pattern has an alternation or flags anywhere.
pub(crate) fn literal_prefix(pattern: &str) -> Option<String> {
    if pattern.contains('|') || pattern.contains("(?") {
        return None;
    }
    let mut prefix = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_alphanumeric() || "-_:/=@ #%&,;<>'\"!~`".contains(c) {
            prefix.push(c);
            chars.next();
        } else {
            break;
        }
    }
    if matches!(chars.peek(), Some('?' | '*' | '{')) {
        prefix.pop();
    }
    (prefix.len() >= 2).then_some(prefix)
}

/// A guardrail ready to scan (built-in provider), or the spec of one run elsewhere.
#[derive(Debug, Clone)]
pub struct Guardrail {
    pub spec: GuardrailSpec,
    builtins: BuiltinSet,
    /// Action per built-in entity, indexed like `Builtin::ALL`.
    actions: [Action; 13],
    patterns: Vec<Pattern>,
    allow_patterns: Vec<Regex>,
}

impl Guardrail {
    /// Compiles a spec; the regexes were checked at load, so an error here means the
    /// snapshot was not produced by a valid configuration.
    pub fn compile(spec: &GuardrailSpec) -> Result<Guardrail, regex_lite::Error> {
        let mut builtins = BuiltinSet::default();
        let mut actions = [Action::Mask; 13];
        if spec.provider == Provider::Builtin {
            match &spec.entities {
                // Without pii_entities_config: every built-in, unless the guardrail is
                // made of its own patterns.
                None if spec.patterns.is_empty() => builtins = BuiltinSet::all(),
                None => {}
                Some(list) => {
                    for (name, action) in list {
                        if let Some(b) = Builtin::from_name(name) {
                            builtins.insert(b);
                            actions[b as usize] = *action;
                        }
                    }
                }
            }
        }
        let patterns = spec
            .patterns
            .iter()
            .map(|p| {
                Ok(Pattern {
                    name: p.name.clone(),
                    regex: build_regex(&p.pattern, false)?,
                    action: p.action,
                    prefix: literal_prefix(&p.pattern),
                })
            })
            .collect::<Result<Vec<_>, regex_lite::Error>>()?;
        let allow_patterns = spec
            .allow_patterns
            .iter()
            .map(|p| build_regex(p, true))
            .collect::<Result<Vec<_>, regex_lite::Error>>()?;
        Ok(Guardrail {
            spec: spec.clone(),
            builtins,
            actions,
            patterns,
            allow_patterns,
        })
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Whether this guardrail scans inline (built-in provider).
    pub fn is_builtin(&self) -> bool {
        self.spec.provider == Provider::Builtin
    }

    fn allowed(&self, value: &str) -> bool {
        self.spec.allow_list.iter().any(|a| a == value)
            || self.allow_patterns.iter().any(|r| r.is_match(value))
    }

    /// Findings in `text`, sorted and non-overlapping (the earlier, then the longer
    /// match wins), allow-listed values left out. Appends to `out`; allocates nothing
    /// when nothing is found.
    pub fn find<'g>(&'g self, text: &str, out: &mut Vec<Finding<'g>>) {
        if !self.is_builtin() {
            return;
        }
        let mut hits: Vec<Hit> = Vec::new();
        find_builtins(text, self.builtins, &mut hits);
        let from = out.len();
        for h in hits {
            out.push(Finding {
                entity: h.entity.name(),
                action: self.actions[h.entity as usize],
                start: h.start,
                end: h.end,
            });
        }
        for p in &self.patterns {
            if p.prefix.as_deref().is_some_and(|lit| !text.contains(lit)) {
                continue;
            }
            for m in p.regex.find_iter(text) {
                if m.start() < m.end() {
                    out.push(Finding {
                        entity: &p.name,
                        action: p.action,
                        start: m.start(),
                        end: m.end(),
                    });
                }
            }
        }
        let mine = &mut out[from..];
        if mine.is_empty() {
            return;
        }
        mine.sort_by_key(|f| (f.start, usize::MAX - f.end));
        let mut kept = from;
        let mut last_end = 0;
        for k in from..out.len() {
            let f = out[k];
            let overlaps = kept > from && f.start < last_end;
            if overlaps || self.allowed(text.get(f.start..f.end).unwrap_or("")) {
                continue;
            }
            last_end = f.end;
            out[kept] = f;
            kept += 1;
        }
        out.truncate(kept);
    }

    /// The built-in entities it looks for, when it is a built-in guardrail without user
    /// patterns (which may be anchored to a value's start or end, so a JSON text read as
    /// plain text cannot stand for its values); None otherwise.
    pub fn plain_builtins(&self) -> Option<BuiltinSet> {
        (self.is_builtin() && self.patterns.is_empty()).then_some(self.builtins)
    }

    /// A JSON number that is a card number this guardrail looks for (see
    /// [`super::scan`]): its action.
    pub fn number_finding(&self, digits: &str) -> Option<Action> {
        (self.is_builtin()
            && self.builtins.contains(Builtin::CreditCard)
            && number_is_card(digits)
            && !self.allowed(digits))
        .then_some(self.actions[Builtin::CreditCard as usize])
    }
}

/// Replaces each finding's range with `<ENTITY>`; `findings` sorted, non-overlapping.
pub fn mask_text(text: &str, findings: &[Finding<'_>]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for f in findings {
        // Ranges fall on char boundaries (built-ins are ASCII-bounded, regex-lite
        // matches whole chars); widening is the safe side if one ever did not.
        let start = floor_boundary(text, f.start.max(at));
        let end = ceil_boundary(text, f.end.max(start));
        out.push_str(text.get(at..start).unwrap_or(""));
        out.push('<');
        out.push_str(f.entity);
        out.push('>');
        at = end;
    }
    out.push_str(text.get(at..).unwrap_or(""));
    out
}

fn floor_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(text: &str, mut i: usize) -> usize {
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i.min(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_widens_a_range_that_splits_a_character() {
        let f = |start, end| Finding {
            entity: "X",
            action: Action::Mask,
            start,
            end,
        };
        // "é" is two bytes (1..3): a range ending inside it takes all of it.
        assert_eq!(mask_text("aébc", &[f(0, 2)]), "<X>bc");
        assert_eq!(mask_text("aébc", &[f(2, 4)]), "a<X>c");
        assert_eq!(mask_text("abc abc", &[f(0, 3), f(4, 7)]), "<X> <X>");
    }

    #[test]
    fn literal_prefixes_are_only_taken_when_every_match_has_them() {
        assert_eq!(literal_prefix(r"EMP-\d{6}").as_deref(), Some("EMP-"));
        assert_eq!(literal_prefix("PRJ[0-9]{4}").as_deref(), Some("PRJ"));
        assert_eq!(literal_prefix("ABCD?x").as_deref(), Some("ABC"));
        assert_eq!(literal_prefix("AB*"), None);
        assert_eq!(literal_prefix("a|b-long"), None);
        assert_eq!(literal_prefix("(?i)secret"), None);
        assert_eq!(literal_prefix(r"\d+"), None);
        assert_eq!(literal_prefix("x.y"), None);
    }
}
