//! Which guardrails apply to one call: the `default_on` ones, those attached to the
//! key and to its team (lists of names stored with them), and those the request names
//! (`guardrails: [...]`). A name that matches no configured guardrail is an error — a
//! guardrail someone asked for must never be skipped silently.

/// The request header that adds guardrails to a call (comma-separated names), read by
/// the filter and the sidecar alike; a value that is not UTF-8 is refused (400).
pub const REQUEST_HEADER: &str = "x-mcp-guardrails";

use super::config::Phase;
use super::error::GuardrailError;
use super::matcher::Guardrail;
use super::GuardrailSet;

/// The guardrails of one call, in configuration order, each once.
#[derive(Debug, Clone)]
pub struct Selected<'s> {
    pub guardrails: Vec<&'s Guardrail>,
}

impl<'s> Selected<'s> {
    /// Those acting in `phase`.
    pub fn in_phase(&self, phase: Phase) -> Vec<&'s Guardrail> {
        self.guardrails
            .iter()
            .copied()
            .filter(|g| g.spec.acts_in(phase))
            .collect()
    }

    /// Those acting in `phase` that run inline (built-in detectors).
    pub fn builtin_in_phase(&self, phase: Phase) -> Vec<&'s Guardrail> {
        self.in_phase(phase)
            .into_iter()
            .filter(|g| g.is_builtin())
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.guardrails.is_empty()
    }
}

/// Selects for a call. `attached` are the key's and the team's lists; `requested` the
/// request's. Unknown requested names → [`GuardrailError::UnknownRequested`] (the
/// client's error); unknown attached names → [`GuardrailError::UnknownAttached`] (the
/// key or team refers to a guardrail the configuration no longer has: refused rather
/// than run without it).
pub fn select<'s>(
    set: &'s GuardrailSet,
    attached: &[&[String]],
    requested: &[String],
) -> Result<Selected<'s>, GuardrailError> {
    let unknown = |names: &mut dyn Iterator<Item = &String>| -> Vec<String> {
        let mut out: Vec<String> = names.filter(|n| set.get(n).is_none()).cloned().collect();
        out.sort();
        out.dedup();
        out
    };
    let missing = unknown(&mut requested.iter());
    if !missing.is_empty() {
        return Err(GuardrailError::UnknownRequested { names: missing });
    }
    let missing = unknown(&mut attached.iter().flat_map(|l| l.iter()));
    if !missing.is_empty() {
        return Err(GuardrailError::UnknownAttached { names: missing });
    }
    let named = |g: &Guardrail| {
        requested.iter().any(|n| n == g.name())
            || attached.iter().any(|l| l.iter().any(|n| n == g.name()))
    };
    Ok(Selected {
        guardrails: set
            .iter()
            .filter(|g| g.spec.default_on || named(g))
            .collect(),
    })
}
