//! Guardrails (issue 12), the pure part: LiteLLM's `guardrails:` configuration, the
//! built-in detectors, scanning and masking JSON, the texts of a block, and which
//! guardrails apply to a call. No I/O: the filter runs the built-in guardrails inline;
//! the sidecar runs the external ones (`presidio`, `generic_guardrail_api`).
//! docs/guardrails.md says how to configure them.
//!
//! Use: `parse_guardrails` at load (via `load_config`: `GatewayConfig::guardrail_specs`);
//! `GuardrailSet::compile` once per snapshot; per call `select`, then
//! `check_arguments(&selected.builtin_in_phase(Phase::Pre), args)` (or, on a message's
//! JSON text, `scan_message` first and the full check only when it cannot decide) and
//! `check_result(...)` on results; `texts` for what the client sees.

pub mod config;
pub mod detect;
pub mod entity;
pub mod error;
pub mod matcher;
pub mod message;
pub mod raw;
pub mod scan;
pub mod select;
pub mod texts;
pub mod verdict;

pub use config::{parse_guardrails, GuardrailSpec, Mode, Phase, Provider};
pub use entity::{Action, Builtin};
pub use error::GuardrailError;
pub use matcher::{Finding, Guardrail};
pub use message::{scan_message, MessageScan};
pub use raw::check_arguments_raw;
pub use scan::{scan_value, JsonFinding};
pub use select::{select, Selected};
pub use verdict::{check_arguments, check_result, Verdict};

/// The compiled guardrails of a configuration, in its order.
#[derive(Debug, Clone, Default)]
pub struct GuardrailSet {
    guardrails: Vec<Guardrail>,
}

impl GuardrailSet {
    pub fn compile(specs: &[GuardrailSpec]) -> Result<GuardrailSet, GuardrailError> {
        let guardrails = specs
            .iter()
            .map(|s| {
                Guardrail::compile(s).map_err(|e| GuardrailError::Compile {
                    guardrail: s.name.clone(),
                    message: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(GuardrailSet { guardrails })
    }

    pub fn get(&self, name: &str) -> Option<&Guardrail> {
        self.guardrails.iter().find(|g| g.name() == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Guardrail> {
        self.guardrails.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.guardrails.is_empty()
    }
}

#[cfg(test)]
mod tests;
