//! The Responses loop as OpenAI's event stream: `response.created` at once; the
//! `mcp_list_tools` item (`response.mcp_list_tools.in_progress/completed`); per round
//! the provider's own items relayed as they arrive (text deltas…, renumbered into the
//! answer's `output_index` and `sequence_number`) and each `function_call` turned into
//! an `mcp_call` (`response.output_item.added`, `response.mcp_call.in_progress`,
//! `response.mcp_call_arguments.delta/done`) — live when every call of the round will
//! run, else once the round is complete (it may go back to the client); the calls run
//! in parallel and as each ends `response.mcp_call.completed|failed` and
//! `response.output_item.done`; finally `response.completed` with the whole response
//! (the non-stream answer's output). A failure ends the stream with `error` and
//! `response.failed`.

use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::pin::pin;

use super::{now_secs, or_gone, sse, Job, Out, Stop};
use crate::body::Body;
use crate::llm::chat::Next;
use crate::llm::error::LlmError;
use crate::llm::responses::{is_call, output_of, ResponsesLoop};
use crate::llm::tools::{CallOutcome, ToolCall};
use crate::llm::usage;

/// Starts the stream; the loop runs in its own task.
pub fn start(job: Job, lp: ResponsesLoop) -> http::Response<Body> {
    super::spawn(move |out| async move {
        let mut em = Emitter {
            out,
            seq: 0,
            id: job
                .keep
                .as_ref()
                .map_or_else(|| usage::new_id("resp_"), |k| k.id.clone()),
            created_at: now_secs(),
            model: job.model_name.clone(),
        };
        let mut lp = lp;
        let outcome = job.deadline.run(drive(&job, &mut lp, &mut em)).await;
        if let Some(e) = job.finish_with(outcome, lp.total_usage.as_ref()).await {
            tracing::warn!("LLM loop stream failed: {e}");
            em.fail(&e, lp.items.clone()).await;
        }
    })
}

/// Numbers and frames the events.
pub(super) struct Emitter {
    pub(super) out: Out,
    seq: u64,
    pub(super) id: String,
    created_at: u64,
    model: String,
}

impl Emitter {
    pub(super) async fn send(&mut self, kind: &str, mut v: Value) -> Result<(), Stop> {
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
    super::approval::resume(em, lp, &gw, job.mcp.approved.clone(), &listed).await?;
    loop {
        let round = relay_round(job, lp, em).await?;
        let Round {
            resp,
            mut places,
            live,
            mut next_index,
        } = round;
        usage::add(&mut lp.total_usage, resp.get("usage"));
        let output = output_of(&resp, &job.model_name)?;
        // The round's calls: output position, the answer's output_index.
        let mut call_places: Vec<(u64, usize)> = Vec::new();
        for (p, _) in output.iter().enumerate().filter(|(_, i)| is_call(i)) {
            let p = p as u64;
            let ours = *places.entry(p).or_insert_with(|| {
                next_index += 1;
                next_index - 1
            });
            call_places.push((p, ours));
        }
        if let Some((run, ask)) = lp.asking(&output) {
            let asked = super::approval::Asked {
                resp,
                output,
                run,
                ask,
            };
            return super::approval::ask(em, lp, &gw, asked, &call_places).await;
        }
        let calls = match lp.next(&output) {
            Next::Run(calls) => calls,
            Next::Finish { exhausted } => {
                hand_back(em, &output, &call_places).await?;
                let mut whole = lp.finish(resp, output, exhausted);
                // One response id for the whole stream (the SDK's stream helper checks
                // it); the provider's own is the last round's, not this answer's.
                whole["id"] = json!(em.id);
                if let Some(k) = &job.keep {
                    k.keep(&mut whole).await;
                }
                let kind = if exhausted {
                    "response.incomplete"
                } else {
                    "response.completed"
                };
                em.send(kind, json!({"response": whole})).await?;
                return Ok(());
            }
        };
        // Every call of the round runs (Next::Run): announced now unless it already
        // was while its arguments streamed.
        let mut ids = Vec::with_capacity(calls.len());
        let mut indexes = Vec::with_capacity(calls.len());
        for (call, (p, ours)) in calls.iter().zip(&call_places) {
            let id = match live.get(p) {
                Some(id) => id.clone(),
                None => {
                    let id = usage::new_id("mcp_");
                    announce(em, lp, *ours, &id, call).await?;
                    em.send(
                        "response.mcp_call_arguments.delta",
                        json!({"output_index": ours, "item_id": id, "delta": call.arguments}),
                    )
                    .await?;
                    id
                }
            };
            em.send(
                "response.mcp_call_arguments.done",
                json!({"output_index": ours, "item_id": id, "arguments": call.arguments}),
            )
            .await?;
            ids.push(id);
            indexes.push(*ours);
        }
        let mut outcomes: Vec<Option<CallOutcome>> = vec![None; calls.len()];
        let mut running = pin!(gw.calls_as_done(calls.clone()));
        while let Some((k, o)) = or_gone(&em.out, running.next()).await? {
            let kind = if o.error.is_some() {
                "response.mcp_call.failed"
            } else {
                "response.mcp_call.completed"
            };
            em.send(kind, at(indexes[k], &ids[k])).await?;
            let item = lp.call_item(&ids[k], &calls[k], Some(&o));
            em.send(
                "response.output_item.done",
                json!({"output_index": indexes[k], "item": item}),
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

/// What one round's stream showed.
struct Round {
    /// The provider's whole response (`response.completed`).
    resp: Value,
    /// The provider's output_index → the answer's.
    places: HashMap<u64, usize>,
    /// Calls announced while their arguments streamed: output_index → `mcp_call` id.
    live: HashMap<u64, String>,
    next_index: usize,
}

/// Relays one round: the provider's items as they come (renumbered), its calls held —
/// or, when every call of the round will run, announced as `mcp_call`s with their
/// arguments streamed.
async fn relay_round(job: &Job, lp: &ResponsesLoop, em: &mut Emitter) -> Result<Round, Stop> {
    let streams_calls = lp.runs_every_call();
    let request = lp.request();
    let open = sse::open(
        &job.state.client,
        &job.provider,
        "/responses",
        &request,
        false,
    );
    let mut events = or_gone(&em.out, open).await??;
    let mut round = Round {
        resp: Value::Null,
        places: HashMap::new(),
        live: HashMap::new(),
        next_index: lp.items.len(),
    };
    let mut calls: HashSet<u64> = HashSet::new();
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
        if kind == "response.output_item.added" && !round.places.contains_key(&theirs) {
            let ours = round.next_index;
            round.next_index += 1;
            round.places.insert(theirs, ours);
            if is_call(&ev["item"]) {
                calls.insert(theirs);
                if streams_calls {
                    let id = usage::new_id("mcp_");
                    let call = ToolCall {
                        call_id: String::new(),
                        name: ev["item"]["name"].as_str().unwrap_or("").to_string(),
                        arguments: String::new(),
                    };
                    announce(em, lp, ours, &id, &call).await?;
                    round.live.insert(theirs, id);
                }
                continue;
            }
        }
        let Some(&ours) = round.places.get(&theirs) else {
            continue;
        };
        if calls.contains(&theirs) {
            // A call's events: its argument deltas when it is announced, else held.
            if let (Some(id), "response.function_call_arguments.delta") =
                (round.live.get(&theirs), kind.as_str())
            {
                let delta = ev.get("delta").cloned().unwrap_or(json!(""));
                em.send(
                    "response.mcp_call_arguments.delta",
                    json!({"output_index": ours, "item_id": id, "delta": delta}),
                )
                .await?;
            }
            continue;
        }
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
    round.resp = resp;
    Ok(round)
}

/// `response.output_item.added` (an `mcp_call` in progress) and
/// `response.mcp_call.in_progress`.
pub(super) async fn announce(
    em: &mut Emitter,
    lp: &ResponsesLoop,
    index: usize,
    id: &str,
    call: &ToolCall,
) -> Result<(), Stop> {
    let mut item = lp.call_item(id, call, None);
    item["arguments"] = json!("");
    em.send(
        "response.output_item.added",
        json!({"output_index": index, "item": item}),
    )
    .await?;
    em.send(
        "response.mcp_call.in_progress",
        json!({"output_index": index, "item_id": id}),
    )
    .await
}

/// The calls that go back to the client (approval, the client's own tools, rounds
/// exhausted), as the provider made them, at the places they were given.
async fn hand_back(
    em: &mut Emitter,
    output: &[Value],
    call_places: &[(u64, usize)],
) -> Result<(), Stop> {
    for &(p, i) in call_places {
        let Some(item) = usize::try_from(p).ok().and_then(|p| output.get(p)) else {
            continue;
        };
        let id = item.get("id").cloned().unwrap_or(Value::Null);
        let arguments = item.get("arguments").cloned().unwrap_or(json!("{}"));
        em.send(
            "response.output_item.added",
            json!({"output_index": i, "item": item}),
        )
        .await?;
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
    Ok(())
}
