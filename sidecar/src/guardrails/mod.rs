//! Guardrails the sidecar runs on a `tools/call` (issue 12; docs/guardrails.md):
//!
//! - `pre_mcp_call` of the external providers (`presidio`, `generic_guardrail_api`) on
//!   the arguments before the upstream is contacted (the built-in ones run inline in
//!   the filter, and here only for arguments the filter never saw: the LLM loop's);
//! - `during_mcp_call` beside the upstream call: a violation cancels the upstream
//!   request (the request's exchange is cancelled, so every transport sends
//!   `notifications/cancelled` or drops the request) and answers the guardrail error;
//! - `post_mcp_call` on the result — built-in (`check_result`) and external. The
//!   result passes through the sidecar as one JSON-RPC message, so the scan holds that
//!   message only; progress and relayed messages before it are not held.
//!
//! A call without selected guardrails costs one `select` (the result stays raw).

pub mod counters;
pub mod external;

use futures_util::stream::{FuturesUnordered, StreamExt};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::future::Future;
use std::time::Duration;

use meshgate_policy::guardrails::{
    check_arguments, check_result, select, texts, Guardrail, GuardrailError, JsonFinding, Phase,
    Provider, Verdict,
};
use meshgate_policy::scrub::scrub_urls;

use crate::state::Runtime;
use crate::upstream::{HttpClient, UpstreamResult};
use counters::{record, Acted};
use external::{Decision, Side};

/// The request header naming guardrails for one call (comma-separated), beside
/// `params._meta.guardrails` (a list of names).
pub use meshgate_policy::guardrails::select::REQUEST_HEADER as HEADER;

/// How long a cancelled upstream call may take to send its cancellation.
const CANCEL_GRACE: Duration = Duration::from_secs(1);

/// The names a request asks for: the header's, then `_meta.guardrails`.
pub fn requested(headers: &http::HeaderMap, meta: Option<&Value>) -> Vec<String> {
    let mut names: Vec<String> = headers
        .get_all(HEADER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(list) = meta
        .and_then(|m| m.get("guardrails"))
        .and_then(Value::as_array)
    {
        names.extend(list.iter().filter_map(Value::as_str).map(str::to_string));
    }
    names
}

/// A guardrail refused the call: the client-facing text (LiteLLM's wording, naming the
/// guardrail and the entity or the kind of failure, never a value, URL or key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub guardrail: String,
    pub text: String,
}

/// The guardrails the sidecar runs for one call.
pub struct Plan<'s> {
    server: String,
    tool: String,
    /// Built-in `pre_mcp_call` guardrails, for arguments the filter did not scan.
    pre_builtin: Vec<&'s Guardrail>,
    pre: Vec<&'s Guardrail>,
    during_builtin: Vec<&'s Guardrail>,
    during_external: Vec<&'s Guardrail>,
    post: Vec<&'s Guardrail>,
}

fn is_external(g: &Guardrail) -> bool {
    matches!(
        g.spec.provider,
        Provider::Presidio(_) | Provider::GenericApi(_)
    )
}

/// Selects for a call by the key's (and team's) names, `default_on` and the request's.
/// `builtin_pre`: the filter did not scan the arguments, so the built-in `pre_mcp_call`
/// guardrails run here.
pub fn plan<'s>(
    runtime: &'s Runtime,
    key_id: Option<&str>,
    requested: &[String],
    server: &str,
    tool: &str,
    builtin_pre: bool,
) -> Result<Plan<'s>, GuardrailError> {
    let attached: &[String] = key_id
        .and_then(|id| runtime.principals.get(id))
        .map(|p| p.guardrails.as_slice())
        .unwrap_or_default();
    let mut plan = Plan {
        server: server.to_string(),
        tool: tool.to_string(),
        pre_builtin: Vec::new(),
        pre: Vec::new(),
        during_builtin: Vec::new(),
        during_external: Vec::new(),
        post: Vec::new(),
    };
    if runtime.guardrails.is_empty() && requested.is_empty() && attached.is_empty() {
        return Ok(plan);
    }
    let selected = select(&runtime.guardrails, &[attached], requested)?;
    if builtin_pre {
        plan.pre_builtin = selected
            .in_phase(Phase::Pre)
            .into_iter()
            .filter(|g| g.is_builtin())
            .collect();
    }
    plan.pre = selected
        .in_phase(Phase::Pre)
        .into_iter()
        .filter(|g| is_external(g))
        .collect();
    for g in selected.in_phase(Phase::During) {
        if g.is_builtin() {
            plan.during_builtin.push(g);
        } else if is_external(g) {
            plan.during_external.push(g);
        }
    }
    plan.post = selected
        .in_phase(Phase::Post)
        .into_iter()
        .filter(|g| g.is_builtin() || is_external(g))
        .collect();
    Ok(plan)
}

/// What one external guardrail made of some texts.
enum Outcome {
    Pass,
    Refuse(Refusal),
    Replace(Vec<String>),
}

impl Plan<'_> {
    /// A built-in guardrail's block of the arguments: counted, and worded as LiteLLM
    /// words it (naming the guardrail and the entity, never the value).
    fn blocked_arguments(&self, f: &JsonFinding<'_>, phase: Phase) -> Refusal {
        record(f.guardrail, f.entity, &self.server, phase, Acted::Block);
        Refusal {
            guardrail: f.guardrail.to_string(),
            text: texts::mcp_block_text(&texts::blocked_message(f.guardrail, f.entity)),
        }
    }

    /// Whether a during guardrail calls a service beside the upstream.
    pub fn has_during_service(&self) -> bool {
        !self.during_external.is_empty()
    }

    /// `pre_mcp_call` (external): each guardrail in order sees the arguments as the one
    /// before left them.
    pub async fn pre(&self, client: &HttpClient, arguments: &mut Value) -> Result<(), Refusal> {
        if !self.pre_builtin.is_empty() {
            match check_arguments(&self.pre_builtin, arguments) {
                Verdict::Pass => {}
                Verdict::Block(f) => return Err(self.blocked_arguments(&f, Phase::Pre)),
                Verdict::Mask { value, masked } => {
                    for f in &masked {
                        record(f.guardrail, f.entity, &self.server, Phase::Pre, Acted::Mask);
                    }
                    *arguments = value;
                }
            }
        }
        for g in &self.pre {
            let mut leaves = Vec::new();
            strings_mut(arguments, &mut leaves);
            let texts: Vec<String> = leaves.iter().map(|s| (**s).clone()).collect();
            match self.external(client, g, Phase::Pre, texts).await {
                Outcome::Pass => {}
                Outcome::Refuse(r) => return Err(r),
                Outcome::Replace(new) => {
                    for (slot, text) in leaves.into_iter().zip(new) {
                        *slot = text;
                    }
                }
            }
        }
        Ok(())
    }

    /// `during_mcp_call`: the built-in ones first (they take microseconds: a block
    /// keeps the upstream uncontacted), then the services beside `upstream`. A
    /// violation calls `cancel` (the request's exchange) and gives the upstream
    /// [`CANCEL_GRACE`] to send its cancellation before it is dropped. MASK findings
    /// change nothing here: the upstream already has the arguments (as in LiteLLM,
    /// where during hooks cannot modify).
    pub async fn during<F>(
        &self,
        client: &HttpClient,
        arguments: &Value,
        upstream: F,
        cancel: impl FnOnce(),
    ) -> Result<UpstreamResult, Refusal>
    where
        F: Future<Output = UpstreamResult>,
    {
        if !self.during_builtin.is_empty() {
            if let Verdict::Block(f) = check_arguments(&self.during_builtin, arguments) {
                return Err(self.blocked_arguments(&f, Phase::During));
            }
        }
        if self.during_external.is_empty() {
            return Ok(upstream.await);
        }
        let mut texts = Vec::new();
        let mut copy = arguments.clone();
        strings_mut(&mut copy, &mut texts);
        let texts: Vec<String> = texts.into_iter().map(|s| s.clone()).collect();
        let checks = async {
            let mut running: FuturesUnordered<_> = self
                .during_external
                .iter()
                .map(|g| self.external(client, g, Phase::During, texts.clone()))
                .collect();
            while let Some(outcome) = running.next().await {
                if let Outcome::Refuse(r) = outcome {
                    return Some(r);
                }
            }
            None
        };
        tokio::pin!(upstream);
        tokio::pin!(checks);
        tokio::select! {
            verdict = &mut checks => match verdict {
                Some(refusal) => {
                    cancel();
                    let _ = tokio::time::timeout(CANCEL_GRACE, upstream).await;
                    Err(refusal)
                }
                None => Ok(upstream.await),
            },
            result = &mut upstream => match checks.await {
                Some(refusal) => Err(refusal),
                None => Ok(result),
            },
        }
    }

    /// `post_mcp_call` on a result: built-in first, then the services in order. An
    /// unchanged result is returned as it came (not re-serialized).
    pub async fn post(
        &self,
        client: &HttpClient,
        raw: Box<RawValue>,
    ) -> Result<Box<RawValue>, Refusal> {
        if self.post.is_empty() {
            return Ok(raw);
        }
        let Ok(mut value) = serde_json::from_str::<Value>(raw.get()) else {
            return Ok(raw);
        };
        let mut changed = false;
        let builtin: Vec<&Guardrail> = self
            .post
            .iter()
            .copied()
            .filter(|g| g.is_builtin())
            .collect();
        if !builtin.is_empty() {
            match check_result(&builtin, &value) {
                Verdict::Pass => {}
                Verdict::Block(f) => {
                    record(
                        f.guardrail,
                        f.entity,
                        &self.server,
                        Phase::Post,
                        Acted::Block,
                    );
                    return Err(Refusal {
                        guardrail: f.guardrail.to_string(),
                        text: texts::mcp_block_text(&texts::result_blocked_message(
                            f.guardrail,
                            f.entity,
                        )),
                    });
                }
                Verdict::Mask { value: v, masked } => {
                    for f in &masked {
                        record(
                            f.guardrail,
                            f.entity,
                            &self.server,
                            Phase::Post,
                            Acted::Mask,
                        );
                    }
                    value = v;
                    changed = true;
                }
            }
        }
        for g in self.post.iter().filter(|g| is_external(g)) {
            let mut leaves = Vec::new();
            result_strings_mut(&mut value, &mut leaves);
            if leaves.is_empty() {
                continue;
            }
            let texts: Vec<String> = leaves.iter().map(|s| (**s).clone()).collect();
            match self.external(client, g, Phase::Post, texts).await {
                Outcome::Pass => {}
                Outcome::Refuse(r) => return Err(r),
                Outcome::Replace(new) => {
                    for (slot, text) in leaves.into_iter().zip(new) {
                        *slot = text;
                    }
                    changed = true;
                }
            }
        }
        if !changed {
            return Ok(raw);
        }
        Ok(RawValue::from_string(value.to_string()).unwrap_or(raw))
    }

    /// Runs one external guardrail, counting what it did and applying `fail_open`.
    async fn external(
        &self,
        client: &HttpClient,
        g: &Guardrail,
        phase: Phase,
        texts: Vec<String>,
    ) -> Outcome {
        let (ext, presidio) = match &g.spec.provider {
            Provider::Presidio(e) => (e, true),
            Provider::GenericApi(e) => (e, false),
            _ => return Outcome::Pass,
        };
        let side = match phase {
            Phase::Post => Side::Response,
            _ => Side::Request,
        };
        let name = g.name();
        let decided =
            external::decide(client, &g.spec, ext, presidio, &texts, side, &self.tool).await;
        match decided {
            Ok(Decision::Pass) => Outcome::Pass,
            Ok(Decision::Modified { texts, entities }) => {
                for e in &entities {
                    record(name, e, &self.server, phase, Acted::Mask);
                }
                Outcome::Replace(texts)
            }
            Ok(Decision::Block { entity, reason }) => {
                let label = entity.as_deref().unwrap_or("-");
                record(name, label, &self.server, phase, Acted::Block);
                let text = match (&entity, phase) {
                    (Some(e), Phase::Post) => {
                        texts::mcp_block_text(&texts::result_blocked_message(name, e))
                    }
                    (Some(e), _) => texts::mcp_block_text(&texts::blocked_message(name, e)),
                    (None, _) => texts::mcp_violation_text(name, &scrub_urls(&reason)),
                };
                Outcome::Refuse(Refusal {
                    guardrail: name.to_string(),
                    text,
                })
            }
            Err(failure) if ext.fail_open => {
                tracing::warn!(guardrail = name, server = %self.server, "guardrail failed open: {failure}");
                record(name, failure.kind(), &self.server, phase, Acted::FailedOpen);
                Outcome::Pass
            }
            Err(failure) => {
                tracing::warn!(guardrail = name, server = %self.server, "guardrail failed closed: {failure}");
                record(
                    name,
                    failure.kind(),
                    &self.server,
                    phase,
                    Acted::FailedClosed,
                );
                Outcome::Refuse(Refusal {
                    guardrail: name.to_string(),
                    text: texts::mcp_violation_text(name, &failure.to_string()),
                })
            }
        }
    }
}

/// Every string value (never a key), in document order.
fn strings_mut<'v>(value: &'v mut Value, out: &mut Vec<&'v mut String>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter_mut().for_each(|v| strings_mut(v, out)),
        Value::Object(map) => map.values_mut().for_each(|v| strings_mut(v, out)),
        _ => {}
    }
}

/// A result's texts as `check_result` sees them: `content[].text`,
/// `content[].resource.text`, every string of `structuredContent`.
fn result_strings_mut<'v>(result: &'v mut Value, out: &mut Vec<&'v mut String>) {
    let Some(map) = result.as_object_mut() else {
        return;
    };
    let map: &mut Map<String, Value> = map;
    let mut content = None;
    let mut structured = None;
    for (k, v) in map.iter_mut() {
        match k.as_str() {
            "content" => content = Some(v),
            "structuredContent" => structured = Some(v),
            _ => {}
        }
    }
    if let Some(items) = content.and_then(Value::as_array_mut) {
        for item in items {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (k, v) in item.iter_mut() {
                match (k.as_str(), v) {
                    ("text", Value::String(s)) => out.push(s),
                    ("resource", Value::Object(r)) => {
                        if let Some(Value::String(s)) = r.get_mut("text") {
                            out.push(s);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    if let Some(s) = structured {
        strings_mut(s, out);
    }
}

#[cfg(test)]
mod tests;
