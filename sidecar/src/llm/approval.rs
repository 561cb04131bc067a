//! The approval round-trip of the tool loop (docs/llm.md "Approval"), on OpenAI's
//! hosted-MCP terms:
//!
//! - [`ApprovalPolicy`]: `require_approval` of the request's gateway MCP entries —
//!   `"always"` (or absent), `"never"`, or `{"never": {"tool_names": […]}, "always":
//!   {"tool_names": […]}}` per tool.
//! - A Responses call that needs approval leaves as an `mcp_approval_request` item whose
//!   `id` is signed ([`Signer`]): it binds the key, the tool and its arguments, so a
//!   client can approve what the model asked, never a request it made up, another key's,
//!   or one with changed arguments.
//! - [`resume`]: the client's next request (stateless: the whole conversation in
//!   `input`) carries the request and an `mcp_approval_response`; the pair becomes a
//!   `function_call` and its `function_call_output` for the provider — the call's
//!   result once the gateway ran it (approved), or a denial text. Items of earlier
//!   answers (`mcp_list_tools`, `mcp_call`) are turned into what the provider knows too.

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::{HashMap, HashSet};

use super::error::LlmError;
use super::responses::ResponsesLoop;
use super::tools::{CallOutcome, Gateway, ListedTool, ToolCall};
use super::usage::new_id;

/// An approval request id: `mcpr_`, a random nonce, and the MAC.
const ID_PREFIX: &str = "mcpr_";
const NONCE_LEN: usize = 12;
const MAC_LEN: usize = 16;

/// One gateway MCP entry's `require_approval`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    Always,
    Never,
    /// The object form: tools that run without approval, tools that always ask
    /// (`always` wins when a tool is in both; a tool in neither asks).
    PerTool {
        never: HashSet<String>,
        always: HashSet<String>,
    },
}

/// Which of the gateway's tools run without asking the client (every entry's rule:
/// a tool runs unasked when some entry lets it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApprovalPolicy {
    rules: Vec<Rule>,
}

impl ApprovalPolicy {
    /// Adds one entry's `require_approval` (`at` names the entry in errors).
    pub fn add(&mut self, value: Option<&Value>, at: &str) -> Result<(), LlmError> {
        let rule = match value {
            None | Some(Value::Null) => Rule::Always,
            Some(Value::String(s)) if s == "always" => Rule::Always,
            Some(Value::String(s)) if s == "never" => Rule::Never,
            Some(Value::Object(m)) => {
                let names = |key: &str| -> Result<HashSet<String>, LlmError> {
                    match m.get(key) {
                        None | Some(Value::Null) => Ok(HashSet::new()),
                        Some(Value::Object(f)) => match f.get("tool_names") {
                            None | Some(Value::Null) => Ok(HashSet::new()),
                            Some(Value::Array(a)) => a
                                .iter()
                                .map(|n| {
                                    n.as_str().map(str::to_string).ok_or_else(|| {
                                        LlmError::invalid(format!(
                                            "{at}.require_approval.{key}.tool_names must be a list of names"
                                        ))
                                    })
                                })
                                .collect(),
                            Some(_) => Err(LlmError::invalid(format!(
                                "{at}.require_approval.{key}.tool_names must be a list of names"
                            ))),
                        },
                        Some(_) => Err(LlmError::invalid(format!(
                            "{at}.require_approval.{key} must be an object with `tool_names`"
                        ))),
                    }
                };
                Rule::PerTool {
                    never: names("never")?,
                    always: names("always")?,
                }
            }
            Some(_) => {
                return Err(LlmError::invalid(format!(
                    "{at}.require_approval must be \"always\", \"never\" or an object with \
                     `never`/`always` tool filters"
                )))
            }
        };
        self.rules.push(rule);
        Ok(())
    }

    /// No tool needs approval (some entry says `"never"`).
    pub fn never_asks(&self) -> bool {
        self.rules.contains(&Rule::Never)
    }

    /// The call of `name` (a prefixed tool name) must be approved by the client first.
    /// A filter's name matches the prefixed name or the tool's own name after the
    /// server's prefix (OpenAI's filters name a server's tools unprefixed).
    pub fn asks(&self, name: &str) -> bool {
        let bare = name.split_once('-').map_or(name, |(_, b)| b);
        let named = |set: &HashSet<String>| set.contains(name) || set.contains(bare);
        !self.rules.iter().any(|r| match r {
            Rule::Never => true,
            Rule::Always => false,
            Rule::PerTool { never, always } => named(never) && !named(always),
        })
    }
}

/// Signs and checks approval request ids for one principal.
pub struct Signer<'a> {
    secret: &'a [u8],
    /// Whose request it is (the principal, encoded).
    who: String,
}

impl<'a> Signer<'a> {
    pub fn new(secret: &'a [u8], who: String) -> Self {
        Signer { secret, who }
    }

    fn mac(&self, nonce: &[u8], name: &str, arguments: &str) -> Option<Hmac<Sha256>> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.secret).ok()?;
        for part in [
            b"meshgate approval v1".as_slice(),
            self.who.as_bytes(),
            nonce,
            name.as_bytes(),
            arguments.as_bytes(),
        ] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        Some(mac)
    }

    /// A new request id for this call.
    pub fn id_for(&self, call: &ToolCall) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        if getrandom::getrandom(&mut nonce).is_err() {
            // Unique enough without randomness: the MAC still binds the call.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            nonce.copy_from_slice(&nanos.to_le_bytes()[..NONCE_LEN]);
        }
        let tag = self
            .mac(&nonce, &call.name, &call.arguments)
            .map(|m| m.finalize().into_bytes().to_vec())
            .unwrap_or_default();
        format!(
            "{ID_PREFIX}{}{}",
            hex::encode(nonce),
            hex::encode(&tag[..MAC_LEN.min(tag.len())])
        )
    }

    /// The gateway issued `id` to this principal for exactly this call.
    pub fn verify(&self, id: &str, name: &str, arguments: &str) -> bool {
        let Some(raw) = id.strip_prefix(ID_PREFIX).and_then(|h| hex::decode(h).ok()) else {
            return false;
        };
        if raw.len() != NONCE_LEN + MAC_LEN {
            return false;
        }
        let (nonce, tag) = raw.split_at(NONCE_LEN);
        self.mac(nonce, name, arguments)
            .is_some_and(|m| m.verify_truncated_left(tag).is_ok())
    }
}

/// The `mcp_approval_request` output item for a call.
pub fn request_item(id: &str, call: &ToolCall, server_label: &str) -> Value {
    json!({
        "type": "mcp_approval_request",
        "id": id,
        "server_label": server_label,
        "name": call.name,
        "arguments": call.arguments,
    })
}

/// What a denied call's result says to the model.
pub fn denied_text(name: &str, reason: Option<&str>) -> String {
    match reason.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => format!("Tool call denied: the user did not approve the call of `{name}`: {r}"),
        None => format!("Tool call denied: the user did not approve the call of `{name}`"),
    }
}

fn bad_input(message: String) -> LlmError {
    LlmError {
        param: Some("input"),
        ..LlmError::invalid(message)
    }
}

fn text<'v>(v: &'v Value, key: &str) -> &'v str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn kind(v: &Value) -> &str {
    text(v, "type")
}

/// Rewrites a Responses `input` for the provider and returns the approved calls the
/// gateway must run before the first round (`call_id` = the approval request's id; their
/// `function_call_output` items wait in the input with an empty output, filled by
/// [`fill`]).
///
/// - `mcp_approval_request` answered by an `mcp_approval_response`: checked against its
///   signature (else the whole request is refused, nothing runs); becomes a
///   `function_call` and an output — the result (approved) or [`denied_text`].
///   Unanswered requests, and those an `mcp_call` of the input already carried out,
///   are dropped.
/// - an `mcp_approval_response` whose request is not in the input: refused.
/// - `mcp_call` (an earlier answer's executed call): a `function_call` and its output.
/// - `mcp_list_tools`: dropped (the tools are offered anew).
pub fn resume(input: &mut Vec<Value>, signer: &Signer<'_>) -> Result<Vec<ToolCall>, LlmError> {
    let mut answers: HashMap<String, (bool, Option<String>)> = HashMap::new();
    for item in input.iter().filter(|i| kind(i) == "mcp_approval_response") {
        let id = text(item, "approval_request_id").to_string();
        let approve = item
            .get("approve")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let reason = item
            .get("reason")
            .and_then(Value::as_str)
            .map(str::to_string);
        answers.insert(id, (approve, reason));
    }
    let requested: HashSet<&str> = input
        .iter()
        .filter(|i| kind(i) == "mcp_approval_request")
        .map(|i| text(i, "id"))
        .collect();
    if let Some(orphan) = answers.keys().find(|id| !requested.contains(id.as_str())) {
        return Err(bad_input(format!(
            "mcp_approval_response: approval_request_id `{orphan}` names no mcp_approval_request of this input"
        )));
    }
    let carried_out: HashSet<String> = input
        .iter()
        .filter(|i| kind(i) == "mcp_call")
        .filter_map(|i| i.get("approval_request_id").and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    let mut approved = Vec::new();
    let mut out = Vec::with_capacity(input.len());
    for item in input.drain(..) {
        match kind(&item) {
            "mcp_list_tools" | "mcp_approval_response" => {}
            "mcp_call" => {
                let id = text(&item, "id").to_string();
                out.push(json!({"type": "function_call", "call_id": id,
                    "name": text(&item, "name"), "arguments": text(&item, "arguments")}));
                let output = match item.get("error").and_then(Value::as_str) {
                    Some(e) if !e.is_empty() => e.to_string(),
                    _ => text(&item, "output").to_string(),
                };
                out.push(json!({"type": "function_call_output", "call_id": id, "output": output}));
            }
            "mcp_approval_request" => {
                let id = text(&item, "id").to_string();
                let Some((approve, reason)) = answers.get(&id) else {
                    continue; // not answered (yet): the model asks again if it must
                };
                if carried_out.contains(&id) {
                    continue; // its `mcp_call` stands for it
                }
                let call = ToolCall {
                    call_id: id.clone(),
                    name: text(&item, "name").to_string(),
                    arguments: text(&item, "arguments").to_string(),
                };
                if !signer.verify(&id, &call.name, &call.arguments) {
                    return Err(bad_input(format!(
                        "mcp_approval_request `{id}`: not an approval request this gateway \
                         issued to this key for this call"
                    )));
                }
                out.push(json!({"type": "function_call", "call_id": id,
                    "name": call.name, "arguments": call.arguments}));
                let output = if *approve {
                    String::new()
                } else {
                    denied_text(&call.name, reason.as_deref())
                };
                out.push(json!({"type": "function_call_output", "call_id": id, "output": output}));
                if *approve {
                    approved.push(call);
                }
            }
            _ => out.push(item),
        }
    }
    *input = out;
    Ok(approved)
}

/// Puts an approved call's result into its waiting `function_call_output`.
pub fn fill(input: &mut [Value], call_id: &str, output: &str) {
    if let Some(slot) = input.iter_mut().find(|i| {
        kind(i) == "function_call_output"
            && text(i, "call_id") == call_id
            && text(i, "output").is_empty()
    }) {
        slot["output"] = json!(output);
    }
}

/// Approved calls of tools the request does not offer (outside `allowed_tools`, or not
/// the key's) do not run: their outcome says the tool was not found, as the MCP path
/// words it. Returns the calls that may run.
pub fn offered_only(
    approved: Vec<ToolCall>,
    listed: &[ListedTool],
) -> (Vec<ToolCall>, Vec<(ToolCall, CallOutcome)>) {
    let (run, refused): (Vec<ToolCall>, Vec<ToolCall>) = approved
        .into_iter()
        .partition(|c| listed.iter().any(|t| t.name == c.name));
    let refused = refused
        .into_iter()
        .map(|c| {
            let text = format!("Tool call failed: Error: Tool '{}' not found", c.name);
            let outcome = CallOutcome {
                call_id: c.call_id.clone(),
                name: c.name.clone(),
                output: text.clone(),
                error: Some(text),
                took: std::time::Duration::ZERO,
            };
            (c, outcome)
        })
        .collect();
    (run, refused)
}

/// An approved call as it ran: its `mcp_call` item (with `approval_request_id`) and
/// its result in the provider's input.
pub fn record_approved(
    lp: &mut ResponsesLoop,
    id: &str,
    call: &ToolCall,
    outcome: &CallOutcome,
) -> Value {
    let mut item = lp.call_item(id, call, Some(outcome));
    item["approval_request_id"] = json!(call.call_id);
    fill(lp.input_mut(), &call.call_id, &outcome.output);
    lp.items.push(item.clone());
    item
}

/// Runs the calls the client approved (before the first round of a non-stream answer).
pub async fn run_approved(
    gw: &Gateway<'_>,
    lp: &mut ResponsesLoop,
    approved: Vec<ToolCall>,
    listed: &[ListedTool],
) {
    if approved.is_empty() {
        return;
    }
    let (run, refused) = offered_only(approved, listed);
    let outcomes = gw.call_all(run.clone()).await;
    for (call, outcome) in run
        .iter()
        .zip(&outcomes)
        .chain(refused.iter().map(|(c, o)| (c, o)))
    {
        record_approved(lp, &new_id("mcp_"), call, outcome);
    }
}

/// A round that asks for approval, as the answer's items: the provider's items in its
/// order, each call that ran (`ran`: call, `mcp_call` id, outcome) as its `mcp_call`
/// item, each call to approve as an `mcp_approval_request` with a signed id.
pub fn asked_items(
    lp: &ResponsesLoop,
    signer: &Signer<'_>,
    output: Vec<Value>,
    ran: &[(ToolCall, String, CallOutcome)],
    ask: &[ToolCall],
) -> Vec<Value> {
    output
        .into_iter()
        .map(|item| {
            if kind(&item) != "function_call" {
                return item;
            }
            let call_id = text(&item, "call_id");
            if let Some((call, id, o)) = ran.iter().find(|(c, _, _)| c.call_id == call_id) {
                return lp.call_item(id, call, Some(o));
            }
            match ask.iter().find(|c| c.call_id == call_id) {
                Some(call) => request_item(&signer.id_for(call), call, &lp.server_label),
                None => item,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: &str) -> ToolCall {
        ToolCall {
            call_id: "c".into(),
            name: name.into(),
            arguments: args.into(),
        }
    }

    #[test]
    fn require_approval_reads_openais_forms() {
        let mut p = ApprovalPolicy::default();
        p.add(None, "tools[0]").unwrap();
        assert!(p.asks("demo-echo") && !p.never_asks());
        let mut p = ApprovalPolicy::default();
        p.add(Some(&json!("never")), "tools[0]").unwrap();
        assert!(!p.asks("demo-echo") && p.never_asks());
        let mut p = ApprovalPolicy::default();
        p.add(
            Some(&json!({"never": {"tool_names": ["echo", "demo-add"]}, "always": {"tool_names": ["add"]}})),
            "tools[0]",
        )
        .unwrap();
        assert!(!p.asks("demo-echo"), "the bare name matches");
        assert!(p.asks("demo-add"), "always wins");
        assert!(p.asks("demo-sleep"), "unnamed tools ask");
        assert!(p.add(Some(&json!("sometimes")), "tools[0]").is_err());
        assert!(p
            .add(Some(&json!({"never": {"tool_names": "echo"}})), "tools[0]")
            .is_err());
    }

    #[test]
    fn ids_bind_the_key_the_tool_and_its_arguments() {
        let a = Signer::new(b"secret", "key:a".into());
        let id = a.id_for(&call("demo-echo", "{\"text\":\"hi\"}"));
        assert!(id.starts_with("mcpr_"));
        assert!(a.verify(&id, "demo-echo", "{\"text\":\"hi\"}"));
        assert!(!a.verify(&id, "demo-echo", "{\"text\":\"rm -rf\"}"));
        assert!(!a.verify(&id, "demo-fail", "{\"text\":\"hi\"}"));
        let b = Signer::new(b"secret", "key:b".into());
        assert!(
            !b.verify(&id, "demo-echo", "{\"text\":\"hi\"}"),
            "another key's id"
        );
        assert!(!a.verify("mcpr_00", "demo-echo", "{}"));
        assert!(!a.verify("made-up", "demo-echo", "{}"));
    }

    #[test]
    fn resume_turns_the_pairs_into_calls_and_results() {
        let s = Signer::new(b"secret", "key:a".into());
        let yes = s.id_for(&call("demo-echo", "{}"));
        let no = s.id_for(&call("demo-add", "{\"a\":1}"));
        let old = s.id_for(&call("demo-echo", "{\"x\":1}"));
        let mut input = vec![
            json!({"role": "user", "content": "hi"}),
            json!({"type": "mcp_list_tools", "id": "l", "server_label": "litellm", "tools": []}),
            json!({"type": "mcp_approval_request", "id": old, "name": "demo-echo", "arguments": "{\"x\":1}"}),
            json!({"type": "mcp_approval_response", "approval_request_id": old, "approve": true}),
            json!({"type": "mcp_call", "id": "mcp_1", "approval_request_id": old, "name": "demo-echo", "arguments": "{\"x\":1}", "output": "ok"}),
            json!({"type": "mcp_approval_request", "id": yes, "name": "demo-echo", "arguments": "{}"}),
            json!({"type": "mcp_approval_request", "id": no, "name": "demo-add", "arguments": "{\"a\":1}"}),
            json!({"type": "mcp_approval_response", "approval_request_id": yes, "approve": true}),
            json!({"type": "mcp_approval_response", "approval_request_id": no, "approve": false, "reason": "not now"}),
        ];
        let approved = resume(&mut input, &s).unwrap();
        assert_eq!(approved.len(), 1, "the earlier approval is not run again");
        assert_eq!(approved[0].call_id, yes);
        let kinds: Vec<&str> = input.iter().map(kind).collect();
        assert_eq!(
            kinds,
            [
                "",
                "function_call",
                "function_call_output",
                "function_call",
                "function_call_output",
                "function_call",
                "function_call_output"
            ]
        );
        assert_eq!(input[2]["output"], "ok");
        assert!(input[6]["output"].as_str().unwrap().contains("not now"));
        fill(&mut input, &yes, "echoed");
        assert_eq!(input[4]["output"], "echoed");
    }

    fn round_with(approval: Value) -> (ResponsesLoop, Vec<Value>) {
        let Value::Object(mut body) = json!({"input": "hi", "tools": [
            {"type": "mcp", "server_label": "gw", "server_url": "litellm_proxy", "require_approval": approval}]})
        else {
            unreachable!()
        };
        let mcp = super::super::tools::McpRequest::take(
            &mut body,
            meshgate_policy::paths::LlmRoute::Responses,
        )
        .unwrap()
        .unwrap();
        let mut lp = ResponsesLoop::new(body, &mcp, 8, false).unwrap();
        lp.offer(&[], "mcpl_1".into());
        let output = vec![
            json!({"type": "message", "id": "msg_0", "role": "assistant", "content": []}),
            json!({"type": "function_call", "call_id": "c1", "name": "demo-echo", "arguments": "{}"}),
            json!({"type": "function_call", "call_id": "c2", "name": "demo-add", "arguments": "{\"a\":1}"}),
        ];
        (lp, output)
    }

    #[test]
    fn a_round_that_asks_ends_with_signed_approval_requests_in_place() {
        let (lp, output) = round_with(json!("always"));
        let (run, ask) = lp.asking(&output).unwrap();
        assert!(run.is_empty());
        assert_eq!(ask.len(), 2);
        let s = Signer::new(b"secret", "key:a".into());
        let items = asked_items(&lp, &s, output, &[], &ask);
        let kinds: Vec<&str> = items.iter().map(kind).collect();
        assert_eq!(
            kinds,
            ["message", "mcp_approval_request", "mcp_approval_request"]
        );
        assert_eq!(items[2]["server_label"], "gw");
        assert!(s.verify(items[2]["id"].as_str().unwrap(), "demo-add", "{\"a\":1}"));

        let (lp, output) = round_with(json!({"never": {"tool_names": ["echo"]}}));
        let (run, ask) = lp.asking(&output).unwrap();
        assert_eq!(
            (run[0].name.as_str(), ask[0].name.as_str()),
            ("demo-echo", "demo-add")
        );
        let (lp, output) = round_with(json!("never"));
        assert!(lp.asking(&output).is_none(), "nothing to ask");
        assert!(matches!(lp.next(&output), super::super::chat::Next::Run(c) if c.len() == 2));
    }

    #[test]
    fn resume_refuses_orphan_and_forged_approvals() {
        let s = Signer::new(b"secret", "key:a".into());
        let mut input = vec![
            json!({"type": "mcp_approval_response", "approval_request_id": "mcpr_nowhere", "approve": true}),
        ];
        assert!(resume(&mut input, &s).is_err());
        let id = s.id_for(&call("demo-echo", "{}"));
        let mut input = vec![
            json!({"type": "mcp_approval_request", "id": id, "name": "demo-echo", "arguments": "{\"evil\":1}"}),
            json!({"type": "mcp_approval_response", "approval_request_id": id, "approve": true}),
        ];
        assert!(resume(&mut input, &s).is_err(), "changed arguments");
        let other = Signer::new(b"secret", "key:b".into());
        let mut input = vec![
            json!({"type": "mcp_approval_request", "id": id, "name": "demo-echo", "arguments": "{}"}),
            json!({"type": "mcp_approval_response", "approval_request_id": id, "approve": true}),
        ];
        assert!(resume(&mut input, &other).is_err(), "another key's request");
    }
}
