//! The Responses loop as OpenAI's event stream: `response.created` at once; the
//! `mcp_list_tools` item (`response.mcp_list_tools.in_progress/completed`); per round
//! the provider's own items relayed as they arrive (text deltas…, renumbered into the
//! answer's `output_index` and `sequence_number`), its `function_call`s held until the
//! round ends, then per executed call `response.output_item.added`,
//! `response.mcp_call.in_progress`, `response.mcp_call_arguments.delta/done`, and as
//! each call ends `response.mcp_call.completed|failed` and `response.output_item.done`;
//! finally `response.completed` with the whole response (the non-stream answer's
//! output). A failure ends the stream with `error` and `response.failed`.

use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::pin::pin;

use super::{now_secs, or_gone, sse, Job, Out, Stop};
use crate::body::Body;
use crate::llm::chat::Next;
use crate::llm::error::LlmError;
use crate::llm::responses::{is_call, output_of, ResponsesLoop};
use crate::llm::tools::CallOutcome;
use crate::llm::usage;

/// Starts the stream; the loop runs in its own task.
pub fn start(job: Job, lp: ResponsesLoop) -> http::Response<Body> {
    super::spawn(move |out| async move {
        let mut em = Emitter {
            out,
            seq: 0,
            id: usage::new_id("resp_"),
            created_at: now_secs(),
            model: job.model_name.clone(),
        };
        let mut lp = lp;
        if let Err(Stop::Failed(e)) = drive(&job, &mut lp, &mut em).await {
            tracing::warn!("LLM loop stream failed: {e}");
            em.fail(&e, lp.items.clone()).await;
        }
    })
}

/// Numbers and frames the events.
struct Emitter {
    out: Out,
    seq: u64,
    id: String,
    created_at: u64,
    model: String,
}

impl Emitter {
    async fn send(&mut self, kind: &str, mut v: Value) -> Result<(), Stop> {
        v["type"] = json!(kind);
        v["sequence_number"] = json!(self.seq);
        self.seq += 1;
        self.out.event(kind, &v).await.map_err(Stop::from)
    }

    /// The response as known before the provider's: for `response.created` and
    /// `response.failed`.
    fn response(&self, status: &str, output: Vec<Value>) -> Value {
        json!({
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "model": self.model,
            "output": output,
            "parallel_tool_calls": true,
            "tool_choice": "auto",
            "tools": [],
            "error": null,
            "incomplete_details": null,
            "usage": null,
        })
    }

    async fn fail(&mut self, e: &LlmError, output: Vec<Value>) {
        let mut failed = self.response("failed", output);
        failed["error"] = json!({"code": "server_error", "message": e.message});
        let _ = self
            .send(
                "error",
                json!({"code": e.kind, "message": e.message, "param": e.param}),
            )
            .await;
        let _ = self
            .send("response.failed", json!({"response": failed}))
            .await;
    }
}

async fn drive(job: &Job, lp: &mut ResponsesLoop, em: &mut Emitter) -> Result<(), Stop> {
    let created = json!({"response": em.response("in_progress", Vec::new())});
    em.send("response.created", created.clone()).await?;
    em.send("response.in_progress", created).await?;
    let gw = job.gateway();
    let list_id = usage::new_id("mcpl_");
    let at = |i: usize, id: &str| json!({"item_id": id, "output_index": i});
    em.send(
        "response.output_item.added",
        json!({"output_index": 0, "item": {"type": "mcp_list_tools", "id": list_id,
            "server_label": lp.server_label, "tools": []}}),
    )
    .await?;
    em.send("response.mcp_list_tools.in_progress", at(0, &list_id))
        .await?;
    let listed = match or_gone(&em.out, gw.list(&job.mcp)).await? {
        Ok(l) => l,
        Err(e) => {
            em.send("response.mcp_list_tools.failed", at(0, &list_id))
                .await?;
            return Err(Stop::Failed(e));
        }
    };
    let item = lp.offer(&listed, list_id.clone());
    em.send("response.mcp_list_tools.completed", at(0, &list_id))
        .await?;
    em.send(
        "response.output_item.done",
        json!({"output_index": 0, "item": item}),
    )
    .await?;
    loop {
        let mut next_index = lp.items.len();
        let request = lp.request();
        let open = sse::open(&job.state.client, &job.provider, "/responses", &request);
        let mut events = or_gone(&em.out, open).await??;
        // The provider's output_index → the answer's (None: a call, held).
        let mut index: HashMap<u64, Option<usize>> = HashMap::new();
        let mut done = None;
        // The round's finished items, for a `response.completed` without `output`.
        let mut finished: BTreeMap<u64, Value> = BTreeMap::new();
        while let Some(data) = or_gone(&em.out, events.next()).await?? {
            let Ok(mut ev) = serde_json::from_str::<Value>(&data) else {
                continue;
            };
            let kind = ev
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            match kind.as_str() {
                "response.completed" | "response.incomplete" => {
                    done = Some(ev["response"].take());
                    break;
                }
                "response.failed" | "error" => {
                    let message = ev
                        .pointer("/response/error/message")
                        .or_else(|| ev.get("message"))
                        .and_then(Value::as_str)
                        .unwrap_or("the provider's response failed");
                    return Err(Stop::Failed(LlmError::provider(format!(
                        "model `{}`: {message}",
                        job.model_name
                    ))));
                }
                _ => {}
            }
            let Some(theirs) = ev.get("output_index").and_then(Value::as_u64) else {
                continue; // response.created / in_progress: the gateway sent its own
            };
            if kind == "response.output_item.done" {
                finished.insert(theirs, ev["item"].clone());
            }
            if kind == "response.output_item.added" && !index.contains_key(&theirs) {
                let ours = (!is_call(&ev["item"])).then(|| {
                    next_index += 1;
                    next_index - 1
                });
                index.insert(theirs, ours);
            }
            let Some(Some(ours)) = index.get(&theirs) else {
                continue;
            };
            ev["output_index"] = json!(ours);
            em.send(&kind, ev).await?;
        }
        let mut resp = done.ok_or_else(|| {
            LlmError::provider(format!(
                "model `{}`: the provider's stream ended before `response.completed`",
                job.model_name
            ))
        })?;
        if !resp.get("output").is_some_and(Value::is_array) {
            // The SDK's stream helper does the same for providers that leave it out.
            resp["output"] = finished.into_values().collect();
        }
        usage::add(&mut lp.total_usage, resp.get("usage"));
        let output = output_of(&resp, &job.model_name)?;
        let calls = match lp.next(&output) {
            Next::Run(calls) => calls,
            Next::Finish { exhausted } => {
                // The calls that go back to the client, as the provider made them.
                for item in output.iter().filter(|i| is_call(i)) {
                    let id = item.get("id").cloned().unwrap_or(Value::Null);
                    let i = next_index;
                    next_index += 1;
                    em.send(
                        "response.output_item.added",
                        json!({"output_index": i, "item": item}),
                    )
                    .await?;
                    let arguments = item.get("arguments").cloned().unwrap_or(json!("{}"));
                    em.send(
                        "response.function_call_arguments.delta",
                        json!({"output_index": i, "item_id": id, "delta": arguments}),
                    )
                    .await?;
                    em.send(
                        "response.function_call_arguments.done",
                        json!({"output_index": i, "item_id": id, "arguments": arguments,
                            "name": item.get("name")}),
                    )
                    .await?;
                    em.send(
                        "response.output_item.done",
                        json!({"output_index": i, "item": item}),
                    )
                    .await?;
                }
                let mut whole = lp.finish(resp, output, exhausted);
                // One response id for the whole stream (the SDK's stream helper checks
                // it); the provider's own is the last round's, not this answer's.
                whole["id"] = json!(em.id);
                let kind = if exhausted {
                    "response.incomplete"
                } else {
                    "response.completed"
                };
                em.send(kind, json!({"response": whole})).await?;
                return Ok(());
            }
        };
        let first = next_index;
        let ids: Vec<String> = calls.iter().map(|_| usage::new_id("mcp_")).collect();
        for (k, (call, id)) in calls.iter().zip(&ids).enumerate() {
            let i = first + k;
            let item = lp.call_item(id, call, None);
            em.send(
                "response.output_item.added",
                json!({"output_index": i, "item": item}),
            )
            .await?;
            em.send("response.mcp_call.in_progress", at(i, id)).await?;
            em.send(
                "response.mcp_call_arguments.delta",
                json!({"output_index": i, "item_id": id, "delta": call.arguments}),
            )
            .await?;
            em.send(
                "response.mcp_call_arguments.done",
                json!({"output_index": i, "item_id": id, "arguments": call.arguments}),
            )
            .await?;
        }
        let mut outcomes: Vec<Option<CallOutcome>> = vec![None; calls.len()];
        let mut running = pin!(gw.calls_as_done(calls.clone()));
        while let Some((k, o)) = or_gone(&em.out, running.next()).await? {
            let kind = if o.error.is_some() {
                "response.mcp_call.failed"
            } else {
                "response.mcp_call.completed"
            };
            em.send(kind, at(first + k, &ids[k])).await?;
            let item = lp.call_item(&ids[k], &calls[k], Some(&o));
            em.send(
                "response.output_item.done",
                json!({"output_index": first + k, "item": item}),
            )
            .await?;
            if let Some(slot) = outcomes.get_mut(k) {
                *slot = Some(o);
            }
        }
        let outcomes: Vec<CallOutcome> = outcomes.into_iter().flatten().collect();
        lp.record(output, &calls, &ids, &outcomes);
    }
}
