//! What can go wrong with a hook: at load (the document is refused, naming the field)
//! and per invocation (logged; the hook's `fail_open` decides what the call does).

use meshgate_policy::ConfigError;

/// A module that cannot be used; becomes a [`ConfigError`] naming `meshgate.hooks[i]`.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read the file: {0}")]
    Unreadable(String),
    #[error("is not a WebAssembly module (no `\\0asm` header)")]
    NotWasm,
    #[error("is not a valid WebAssembly module: {0}")]
    Invalid(String),
    #[error("the module has no export `{export}` {why}")]
    MissingExport { export: String, why: String },
    #[error("the module's export `{export}` has the wrong type: {why}")]
    WrongExport { export: String, why: String },
    #[error("the module speaks hook ABI {found}; this gateway speaks ABI {wanted}")]
    AbiVersion { found: i32, wanted: i32 },
    #[error("the module cannot start: {0}")]
    Start(String),
}

impl LoadError {
    /// The document's error: which entry, which field.
    pub fn at(self, index: usize) -> ConfigError {
        // An event's export missing is the `events` entry's fault; the rest the file's.
        let field = match &self {
            LoadError::MissingExport { export, .. } | LoadError::WrongExport { export, .. }
                if export == "pre_call" || export == "post_call" =>
            {
                "events"
            }
            _ => "path",
        };
        ConfigError::Field {
            field: format!("meshgate.hooks[{index}].{field}"),
            message: self.to_string(),
        }
    }
}

/// One invocation that did not produce a usable answer. The texts name the failure,
/// never the call's arguments or result.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HookFault {
    #[error("ran out of fuel (its `fuel` limit: it loops or does too much work)")]
    OutOfFuel,
    #[error("exceeded its memory limit (`max_memory_bytes`)")]
    OutOfMemory,
    #[error("trapped: {0}")]
    Trap(String),
    #[error("answered garbage: {0}")]
    Garbage(String),
    #[error("could not be instantiated: {0}")]
    Instantiate(String),
}

impl HookFault {
    /// A short kind for counters and log fields.
    pub fn kind(&self) -> &'static str {
        match self {
            HookFault::OutOfFuel => "out_of_fuel",
            HookFault::OutOfMemory => "out_of_memory",
            HookFault::Trap(_) => "trap",
            HookFault::Garbage(_) => "garbage",
            HookFault::Instantiate(_) => "instantiate",
        }
    }
}
