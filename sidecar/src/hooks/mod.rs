//! Custom hooks (docs/hooks.md): WebAssembly modules named in `meshgate.hooks`, run by
//! wasmtime around every `tools/call` (MCP and `/mcp-rest/tools/call`) — meshgate's
//! counterpart of LiteLLM's `async_pre_mcp_tool_call_hook` /
//! `async_post_mcp_tool_call_hook`, sandboxed and in any language that compiles to wasm.
//!
//! - `pre_call` (after the guardrails' pre phase, before the upstream): deny with a
//!   message, rewrite the arguments, add upstream headers (`headers.rs` says which).
//! - `post_call` (after the guardrails' post phase): replace the result, set the call's
//!   cost (`Post::cost_override`, what spend accounting reads), deny.
//!
//! Hooks run in configuration order; each sees what the ones before it changed. A hook
//! that fails (`error::HookFault`) is logged, and refuses the call unless its entry says
//! `fail_open: true`.

pub mod abi;
mod engine;
pub mod error;
mod headers;
mod load;

use http::HeaderMap;
use serde_json::value::RawValue;
use serde_json::Value;
use std::sync::Arc;

use meshgate_policy::hooks::{HookEvent, HookSpec};

pub use abi::{Timing, Who};
use engine::Compiled;
pub use engine::HookEngine;
use error::HookFault;
pub use load::load;

/// One loaded hook.
pub struct Hook {
    pub name: String,
    pub spec: HookSpec,
    max_memory: usize,
    compiled: Arc<Compiled>,
}

/// The configuration's hooks, in order (empty: a call costs one check).
#[derive(Default)]
pub struct HookSet {
    engine: Option<Arc<HookEngine>>,
    hooks: Vec<Hook>,
}

/// The call the hooks are asked about.
pub struct Call<'a> {
    pub server: &'a str,
    pub tool: &'a str,
    pub name: &'a str,
    pub who: Who,
}

/// Why hooks stopped a call; its text is the call's `isError` result.
#[derive(Debug)]
pub enum Refused {
    /// A hook answered `allow: false`.
    Denied { hook: String, message: String },
    /// A fail-closed hook failed.
    Failed { hook: String, fault: HookFault },
}

impl Refused {
    /// What the client reads: the hook's message, or which hook failed and how (never
    /// the arguments or the result).
    pub fn text(&self) -> String {
        match self {
            Refused::Denied { hook, message } => {
                format!("Error: call refused by hook '{hook}': {message}")
            }
            Refused::Failed { hook, fault } => {
                format!(
                    "Error: call refused: hook '{hook}' failed ({})",
                    fault.kind()
                )
            }
        }
    }
}

/// What `pre_call` hooks add to the upstream request.
#[derive(Default)]
pub struct Pre {
    pub headers: HeaderMap,
}

/// What `post_call` hooks made of the result.
pub struct Post {
    pub result: Box<RawValue>,
    /// The call's cost as a hook set it (LiteLLM's `hidden_params.response_cost`); None:
    /// no hook set one, the configured cost applies.
    pub cost_override: Option<f64>,
}

/// Times the upstream call for `post_call`'s `timing`.
pub struct Clock {
    started: std::time::Instant,
    start_ms: u64,
}

impl Clock {
    pub fn start() -> Clock {
        Clock {
            started: std::time::Instant::now(),
            start_ms: crate::verify::now_ms(),
        }
    }

    pub fn stop(&self) -> Timing {
        let duration_us = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        Timing {
            start_ms: self.start_ms,
            end_ms: self.start_ms.saturating_add(duration_us / 1000),
            duration_us,
        }
    }
}

impl HookSet {
    /// Whether any hook runs `event` on calls to `server`.
    pub fn wants(&self, event: HookEvent, server: &str) -> bool {
        self.hooks
            .iter()
            .any(|h| h.spec.wants(event) && h.spec.covers(server))
    }

    /// Runs the `pre_call` hooks; `arguments` is rewritten in place.
    pub fn pre_call(&self, call: &Call<'_>, arguments: &mut Value) -> Result<Pre, Refused> {
        let mut pre = Pre::default();
        for hook in self.each(HookEvent::PreCall, call.server) {
            let input = abi::Input {
                event: HookEvent::PreCall,
                server: call.server,
                tool: call.tool,
                name: call.name,
                who: &call.who,
                arguments,
                result: None,
                timing: None,
            }
            .to_json();
            let Some(answer) = self.run(hook, HookEvent::PreCall, &input, call)? else {
                continue;
            };
            if let Some(message) = answer.deny {
                return Err(denied(hook, HookEvent::PreCall, call, message));
            }
            if let Some(new) = answer.arguments {
                *arguments = new;
            }
            for (name, value) in answer.headers {
                pre.headers.insert(name, value);
            }
        }
        Ok(pre)
    }

    /// Runs the `post_call` hooks on a result the upstream returned.
    pub fn post_call(
        &self,
        call: &Call<'_>,
        arguments: &Value,
        result: Box<RawValue>,
        timing: Timing,
    ) -> Result<Post, Refused> {
        let mut post = Post {
            result,
            cost_override: None,
        };
        for hook in self.each(HookEvent::PostCall, call.server) {
            let input = abi::Input {
                event: HookEvent::PostCall,
                server: call.server,
                tool: call.tool,
                name: call.name,
                who: &call.who,
                arguments,
                result: Some(&post.result),
                timing: Some(timing),
            }
            .to_json();
            let Some(answer) = self.run(hook, HookEvent::PostCall, &input, call)? else {
                continue;
            };
            if let Some(message) = answer.deny {
                return Err(denied(hook, HookEvent::PostCall, call, message));
            }
            if let Some(result) = answer.result {
                post.result = result;
            }
            if let Some(cost) = answer.cost {
                tracing::info!(
                    hook = %hook.name,
                    server = %call.server,
                    tool = %call.tool,
                    cost_override = cost,
                    "hook set the call's cost"
                );
                post.cost_override = Some(cost);
            }
        }
        Ok(post)
    }

    fn each<'a>(&'a self, event: HookEvent, server: &'a str) -> impl Iterator<Item = &'a Hook> {
        self.hooks
            .iter()
            .filter(move |h| h.spec.wants(event) && h.spec.covers(server))
    }

    /// One invocation: Ok(None) when a fail-open hook failed (the call goes on as if it
    /// had not run).
    fn run(
        &self,
        hook: &Hook,
        event: HookEvent,
        input: &[u8],
        call: &Call<'_>,
    ) -> Result<Option<abi::Answer>, Refused> {
        let Some(engine) = &self.engine else {
            return Ok(None);
        };
        let outcome = engine
            .invoke(
                &hook.compiled,
                event,
                input,
                hook.spec.fuel,
                hook.max_memory,
            )
            .and_then(|bytes| abi::Answer::parse(event, &bytes));
        match outcome {
            Ok(answer) => Ok(Some(answer)),
            Err(fault) => {
                if let Some(suppressed) = crate::log_limit::admit(&hook.name, fault.kind()) {
                    tracing::error!(
                        hook = %hook.name,
                        event = %event.export(),
                        server = %call.server,
                        tool = %call.tool,
                        kind = %fault.kind(),
                        fail_open = hook.spec.fail_open,
                        suppressed,
                        "hook failed: {fault}; {}",
                        if hook.spec.fail_open {
                            "the call goes on without it (fail_open)"
                        } else {
                            "the call is refused"
                        }
                    );
                }
                if hook.spec.fail_open {
                    Ok(None)
                } else {
                    Err(Refused::Failed {
                        hook: hook.name.clone(),
                        fault,
                    })
                }
            }
        }
    }
}

fn denied(hook: &Hook, event: HookEvent, call: &Call<'_>, message: String) -> Refused {
    tracing::info!(
        hook = %hook.name,
        event = %event.export(),
        server = %call.server,
        tool = %call.tool,
        "hook denied the call"
    );
    Refused::Denied {
        hook: hook.name.clone(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_texts_name_the_hook_never_the_data() {
        let denied = Refused::Denied {
            hook: "sql-guard".into(),
            message: "no DROP".into(),
        };
        assert_eq!(
            denied.text(),
            "Error: call refused by hook 'sql-guard': no DROP"
        );
        let failed = Refused::Failed {
            hook: "cost".into(),
            fault: HookFault::Trap("wasm `unreachable` instruction executed".into()),
        };
        assert_eq!(
            failed.text(),
            "Error: call refused: hook 'cost' failed (trap)"
        );
    }

    #[test]
    fn an_empty_set_wants_nothing() {
        let set = HookSet::default();
        assert!(!set.wants(HookEvent::PreCall, "any"));
        let mut args = serde_json::json!({"a": 1});
        let call = Call {
            server: "s",
            tool: "t",
            name: "s-t",
            who: Who::default(),
        };
        assert!(set.pre_call(&call, &mut args).is_ok());
        assert_eq!(args, serde_json::json!({"a": 1}));
    }
}
