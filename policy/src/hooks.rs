//! `meshgate.hooks`: custom hooks as WebAssembly modules (docs/hooks.md), the
//! counterpart of LiteLLM's `async_pre_mcp_tool_call_hook` /
//! `async_post_mcp_tool_call_hook` classes. LiteLLM names Python classes in
//! `litellm_settings.callbacks`; meshgate cannot run those (they stay in the "not acted
//! on" warning), so its own list lives in its own section and a LiteLLM file loads
//! unchanged.
//!
//! Only the shape is checked here (the filter reads the same document); the sidecar
//! opens, compiles and checks each module when it loads the document.

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// The events a hook can ask for.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum HookEvent {
    /// Before the upstream is contacted: may deny, rewrite the arguments, add headers.
    PreCall,
    /// After the upstream answered: may replace the result, set the call's cost.
    PostCall,
}

impl HookEvent {
    /// The guest export that runs this event.
    pub fn export(self) -> &'static str {
        match self {
            HookEvent::PreCall => "pre_call",
            HookEvent::PostCall => "post_call",
        }
    }
}

/// One entry of `meshgate.hooks`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HookSpec {
    /// The `.wasm` file (a core WebAssembly module).
    pub path: String,
    /// Which events run this hook (at least one, each once).
    pub events: Vec<HookEvent>,
    /// Only calls to these servers (names, file or database) run the hook; empty
    /// (default): every call.
    #[serde(default)]
    pub servers: Vec<String>,
    /// For logs; default: the file name without `.wasm`.
    #[serde(default)]
    pub name: Option<String>,
    /// A hook that fails (traps, runs out of fuel or memory, answers garbage): `false`
    /// (default) refuses the call, `true` lets it continue as if the hook had not run.
    #[serde(default)]
    pub fail_open: bool,
    /// WebAssembly instructions one invocation may execute (wasmtime fuel).
    #[serde(default = "default_fuel")]
    pub fuel: u64,
    /// Largest linear memory one invocation may grow to.
    #[serde(default = "default_max_memory_bytes")]
    pub max_memory_bytes: u64,
}

/// Enough for JSON handling of large arguments; a loop is stopped in milliseconds.
pub const DEFAULT_FUEL: u64 = 50_000_000;
pub const DEFAULT_MAX_MEMORY_BYTES: u64 = 16 * 1024 * 1024;
/// Upper bounds an operator may configure.
pub const MAX_FUEL: u64 = 10_000_000_000;
pub const MAX_MEMORY_BYTES: u64 = 1024 * 1024 * 1024;
/// One WebAssembly page: no module runs with less.
pub const MIN_MEMORY_BYTES: u64 = 64 * 1024;

fn default_fuel() -> u64 {
    DEFAULT_FUEL
}
fn default_max_memory_bytes() -> u64 {
    DEFAULT_MAX_MEMORY_BYTES
}

impl HookSpec {
    /// The name used in logs and errors.
    pub fn display_name(&self) -> String {
        if let Some(n) = self.name.as_deref().filter(|n| !n.trim().is_empty()) {
            return n.to_string();
        }
        let file = self.path.rsplit(['/', '\\']).next().unwrap_or(&self.path);
        file.strip_suffix(".wasm").unwrap_or(file).to_string()
    }

    pub fn wants(&self, event: HookEvent) -> bool {
        self.events.contains(&event)
    }

    /// Whether a call to `server` runs this hook.
    pub fn covers(&self, server: &str) -> bool {
        self.servers.is_empty() || self.servers.iter().any(|s| s == server)
    }
}

/// Checks every entry; errors name `meshgate.hooks[i].field`.
pub fn validate(hooks: &[HookSpec]) -> Result<(), ConfigError> {
    for (i, hook) in hooks.iter().enumerate() {
        let field = |f: &str| format!("meshgate.hooks[{i}].{f}");
        if hook.path.trim().is_empty() {
            return Err(ConfigError::field(field("path"), "must name a .wasm file"));
        }
        if hook.events.is_empty() {
            return Err(ConfigError::field(
                field("events"),
                "must list at least one of pre_call, post_call",
            ));
        }
        for (j, event) in hook.events.iter().enumerate() {
            if hook.events[..j].contains(event) {
                return Err(ConfigError::field(
                    format!("meshgate.hooks[{i}].events[{j}]"),
                    format!("`{}` is listed twice", event.export()),
                ));
            }
        }
        if let Some(j) = hook.servers.iter().position(|s| s.trim().is_empty()) {
            return Err(ConfigError::field(
                format!("meshgate.hooks[{i}].servers[{j}]"),
                "must name a server",
            ));
        }
        if hook.fuel == 0 || hook.fuel > MAX_FUEL {
            return Err(ConfigError::field(
                field("fuel"),
                format!("must be between 1 and {MAX_FUEL}"),
            ));
        }
        if !(MIN_MEMORY_BYTES..=MAX_MEMORY_BYTES).contains(&hook.max_memory_bytes) {
            return Err(ConfigError::field(
                field("max_memory_bytes"),
                format!("must be between {MIN_MEMORY_BYTES} and {MAX_MEMORY_BYTES}"),
            ));
        }
    }
    for (i, hook) in hooks.iter().enumerate() {
        let name = hook.display_name();
        if hooks[..i].iter().any(|h| h.display_name() == name) {
            return Err(ConfigError::field(
                format!("meshgate.hooks[{i}].name"),
                format!("another hook is already named `{name}`; set `name` to tell them apart"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::GatewayConfig;

    fn err(yaml: &str) -> String {
        GatewayConfig::parse(yaml).unwrap_err().to_string()
    }

    #[test]
    fn hooks_load_with_defaults() {
        let c = GatewayConfig::parse(
            "meshgate:\n  hooks:\n    - {path: /x/cost.wasm, events: [pre_call, post_call]}\n",
        )
        .unwrap();
        let h = &c.meshgate.hooks[0];
        assert_eq!(h.display_name(), "cost");
        assert!(!h.fail_open);
        assert_eq!(h.fuel, super::DEFAULT_FUEL);
        assert!(h.wants(super::HookEvent::PostCall));
    }

    #[test]
    fn bad_entries_are_refused_naming_the_field() {
        let e = err("meshgate:\n  hooks:\n    - {path: a.wasm, events: [pre_call, after_call]}\n");
        assert!(
            e.contains("meshgate.hooks[0].events[1]") && e.contains("after_call"),
            "{e}"
        );
        let e = err("meshgate:\n  hooks:\n    - {path: a.wasm, events: []}\n");
        assert!(e.contains("meshgate.hooks[0].events"), "{e}");
        let e = err("meshgate:\n  hooks:\n    - {path: a.wasm, events: [pre_call, pre_call]}\n");
        assert!(e.contains("meshgate.hooks[0].events[1]"), "{e}");
        let e = err("meshgate:\n  hooks:\n    - {path: '', events: [pre_call]}\n");
        assert!(e.contains("meshgate.hooks[0].path"), "{e}");
        let e = err("meshgate:\n  hooks:\n    - {path: a.wasm, events: [pre_call], fuel: 0}\n");
        assert!(e.contains("meshgate.hooks[0].fuel"), "{e}");
        let e = err(
            "meshgate:\n  hooks:\n    - {path: a.wasm, events: [pre_call], max_memory_bytes: 10}\n",
        );
        assert!(e.contains("meshgate.hooks[0].max_memory_bytes"), "{e}");
        let e = err("meshgate:\n  hooks:\n    - {path: a.wasm, event: [pre_call]}\n");
        assert!(
            e.contains("meshgate.hooks[0]") && e.contains("event"),
            "{e}"
        );
        let e = err(
            "meshgate:\n  hooks:\n    - {path: a/x.wasm, events: [pre_call]}\n    - {path: b/x.wasm, events: [post_call]}\n",
        );
        assert!(e.contains("meshgate.hooks[1].name"), "{e}");
    }
}
