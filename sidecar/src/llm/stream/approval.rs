//! The approval round-trip on the Responses event stream (`llm/approval.rs`): calls the
//! client approved run first, reported as `mcp_call` items like any executed call; a
//! round that asks ends the answer with `mcp_approval_request` items
//! (`response.output_item.added` / `…done`) and `response.completed`.

use futures_util::StreamExt;
use serde_json::{json, Value};
use std::pin::pin;

use super::or_gone;
use super::responses::{announce, Emitter};
use super::Stop;
use crate::llm::approval;
use crate::llm::responses::ResponsesLoop;
use crate::llm::tools::{CallOutcome, Gateway, ListedTool, ToolCall};
use crate::llm::usage::new_id;

/// Announces the calls at `indexes`, runs them in parallel and reports each as it ends;
/// their outcomes in the calls' order (`given`: outcomes known without running).
async fn run_reported(
    em: &mut Emitter,
    lp: &ResponsesLoop,
    gw: &Gateway<'_>,
    calls: &[ToolCall],
    given: &[Option<CallOutcome>],
    ids: &[String],
    indexes: &[usize],
) -> Result<Vec<CallOutcome>, Stop> {
    for (k, call) in calls.iter().enumerate() {
        announce(em, lp, indexes[k], &ids[k], call).await?;
        em.send(
            "response.mcp_call_arguments.delta",
            json!({"output_index": indexes[k], "item_id": ids[k], "delta": call.arguments}),
        )
        .await?;
        em.send(
            "response.mcp_call_arguments.done",
            json!({"output_index": indexes[k], "item_id": ids[k], "arguments": call.arguments}),
        )
        .await?;
    }
    let mut outcomes: Vec<Option<CallOutcome>> = given.to_vec();
    outcomes.resize(calls.len(), None);
    let to_run: Vec<(usize, ToolCall)> = calls
        .iter()
        .cloned()
        .enumerate()
        .filter(|(k, _)| outcomes[*k].is_none())
        .collect();
    for (k, o) in outcomes.clone().iter().enumerate() {
        if let Some(o) = o {
            report(em, lp, indexes[k], &ids[k], &calls[k], o).await?;
        }
    }
    let mut running = pin!(gw.calls_as_done(to_run.iter().map(|(_, c)| c.clone()).collect()));
    while let Some((j, o)) = or_gone(&em.out, running.next()).await? {
        let k = to_run[j].0;
        report(em, lp, indexes[k], &ids[k], &calls[k], &o).await?;
        outcomes[k] = Some(o);
    }
    Ok(outcomes.into_iter().flatten().collect())
}

async fn report(
    em: &mut Emitter,
    lp: &ResponsesLoop,
    index: usize,
    id: &str,
    call: &ToolCall,
    o: &CallOutcome,
) -> Result<(), Stop> {
    let kind = if o.error.is_some() {
        "response.mcp_call.failed"
    } else {
        "response.mcp_call.completed"
    };
    em.send(kind, json!({"output_index": index, "item_id": id}))
        .await?;
    let mut item = lp.call_item(id, call, Some(o));
    if call.call_id.starts_with("mcpr_") {
        item["approval_request_id"] = json!(call.call_id);
    }
    em.send(
        "response.output_item.done",
        json!({"output_index": index, "item": item}),
    )
    .await
}

/// Runs the calls the client approved in this request, before the first round.
pub(super) async fn resume(
    em: &mut Emitter,
    lp: &mut ResponsesLoop,
    gw: &Gateway<'_>,
    approved: Vec<ToolCall>,
    listed: &[ListedTool],
) -> Result<(), Stop> {
    if approved.is_empty() {
        return Ok(());
    }
    let (run, refused) = approval::offered_only(approved, listed);
    let mut calls = run;
    let mut given: Vec<Option<CallOutcome>> = vec![None; calls.len()];
    for (c, o) in refused {
        calls.push(c);
        given.push(Some(o));
    }
    let base = lp.items.len();
    let ids: Vec<String> = calls.iter().map(|_| new_id("mcp_")).collect();
    let indexes: Vec<usize> = (base..base + calls.len()).collect();
    let outcomes = run_reported(em, lp, gw, &calls, &given, &ids, &indexes).await?;
    for ((call, id), o) in calls.iter().zip(&ids).zip(&outcomes) {
        approval::record_approved(lp, id, call, o);
    }
    Ok(())
}

/// A round that asks for approval: the provider's response, its output, the calls that
/// run now and those to ask about.
pub(super) struct Asked {
    pub resp: Value,
    pub output: Vec<Value>,
    pub run: Vec<ToolCall>,
    pub ask: Vec<ToolCall>,
}

/// Runs the round's unasked calls, then ends the answer with its approval requests
/// (`call_places`: each call's place in the provider's output and in the answer).
pub(super) async fn ask(
    em: &mut Emitter,
    lp: &mut ResponsesLoop,
    gw: &Gateway<'_>,
    asked: Asked,
    call_places: &[(u64, usize)],
) -> Result<(), Stop> {
    let Asked {
        resp,
        output,
        run,
        ask,
    } = asked;
    let place_of = |call_id: &str| -> usize {
        call_places
            .iter()
            .find(|(p, _)| {
                usize::try_from(*p)
                    .ok()
                    .and_then(|p| output.get(p))
                    .and_then(|i| i.get("call_id"))
                    .and_then(Value::as_str)
                    == Some(call_id)
            })
            .map_or(lp.items.len(), |(_, ours)| *ours)
    };
    let ids: Vec<String> = run.iter().map(|_| new_id("mcp_")).collect();
    let indexes: Vec<usize> = run.iter().map(|c| place_of(&c.call_id)).collect();
    let outcomes = run_reported(em, lp, gw, &run, &[], &ids, &indexes).await?;
    let ran: Vec<(ToolCall, String, CallOutcome)> = run
        .into_iter()
        .zip(ids)
        .zip(outcomes)
        .map(|((c, id), o)| (c, id, o))
        .collect();
    let items = approval::asked_items(lp, &gw.signer(), output, &ran, &ask);
    for &(p, ours) in call_places {
        let Some(item) = usize::try_from(p).ok().and_then(|p| items.get(p)) else {
            continue;
        };
        if item.get("type").and_then(Value::as_str) != Some("mcp_approval_request") {
            continue;
        }
        em.send(
            "response.output_item.added",
            json!({"output_index": ours, "item": item}),
        )
        .await?;
        em.send(
            "response.output_item.done",
            json!({"output_index": ours, "item": item}),
        )
        .await?;
    }
    let mut whole = lp.finish(resp, items, false);
    whole["id"] = json!(em.id);
    em.send("response.completed", json!({"response": whole}))
        .await
}
