//! `meshgate.hooks` → the runtime's [`HookSet`]: each file read, compiled (or taken
//! from the engine's cache) and checked when the document is loaded, so a bad entry
//! refuses the document with an error naming `meshgate.hooks[i].<field>`.

use std::sync::Arc;

use meshgate_policy::hooks::HookSpec;
use meshgate_policy::ConfigError;

use super::engine::HookEngine;
use super::error::LoadError;
use super::{Hook, HookSet};

/// Largest module file accepted.
const MAX_MODULE_BYTES: u64 = 64 * 1024 * 1024;

pub fn load(specs: &[HookSpec]) -> Result<HookSet, ConfigError> {
    if specs.is_empty() {
        return Ok(HookSet::default());
    }
    let engine = &HookEngine::shared().map_err(|message| ConfigError::Field {
        field: "meshgate.hooks".into(),
        message,
    })?;
    let mut hooks = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let max_memory = usize::try_from(spec.max_memory_bytes).unwrap_or(usize::MAX);
        let bytes = read(&spec.path).map_err(|e| e.at(i))?;
        let compiled = engine
            .load(&bytes, &spec.events, max_memory)
            .map_err(|e| e.at(i))?;
        hooks.push(Hook {
            name: spec.display_name(),
            spec: spec.clone(),
            max_memory,
            compiled,
        });
    }
    if !hooks.is_empty() {
        tracing::info!(
            hooks = %hooks.iter().map(|h| h.name.as_str()).collect::<Vec<_>>().join(", "),
            "custom hooks loaded"
        );
    }
    Ok(HookSet {
        engine: Some(Arc::clone(engine)),
        hooks,
    })
}

fn read(path: &str) -> Result<Vec<u8>, LoadError> {
    let meta = std::fs::metadata(path).map_err(|e| LoadError::Unreadable(e.kind().to_string()))?;
    if !meta.is_file() {
        return Err(LoadError::Unreadable("not a regular file".into()));
    }
    if meta.len() > MAX_MODULE_BYTES {
        return Err(LoadError::Unreadable(format!(
            "larger than {MAX_MODULE_BYTES} bytes"
        )));
    }
    std::fs::read(path).map_err(|e| LoadError::Unreadable(e.kind().to_string()))
}
