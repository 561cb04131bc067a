//! A 2026-07-28 retry carrying `requestState` (MRTR): its `inputResponses` reach the
//! parked upstream request (`mrtr.rs`), and the retry is answered with what that
//! request does next (`drive.rs`).

use http::{Response, StatusCode};
use serde_json::{Map, Value};
use std::sync::Arc;

use super::drive::drive;
use super::mrtr::{put_back, take};
use super::{error_reply, Declared};
use crate::body::Body;
use crate::jsonrpc::{self, Id, Message, RpcError};
use crate::state::AppState;
use crate::verify::Principal;

/// A retry carrying `requestState`: the answers go to the parked upstream request, and
/// this HTTP request gets what it does next.
pub(super) async fn resume_parked(
    state: &Arc<AppState>,
    principal: &Principal,
    id: &Id,
    method: &str,
    request_state: &str,
    responses: Map<String, Value>,
    declared: Declared,
) -> Response<Body> {
    let refuse = |why: String| error_reply(StatusCode::OK, Some(id), RpcError::invalid_params(why));
    let Some(parked_request) = take(request_state, &principal.name, method) else {
        return refuse(
            "requestState is unknown, expired, or belongs to another request; send the request again without it"
                .into(),
        );
    };
    if let Some(missing) = parked_request
        .keys
        .iter()
        .find(|k| !responses.contains_key(k.as_str()))
    {
        let missing = missing.clone();
        put_back(request_state, parked_request);
        return refuse(format!("inputResponses lacks an answer for `{missing}`"));
    }
    for (key, answer) in responses {
        if !parked_request.keys.contains(&key) {
            continue;
        }
        let Ok(raw) = serde_json::value::to_raw_value(&answer) else {
            continue;
        };
        state.hub.client_answered(Message {
            id: Some(jsonrpc::Id::from_string(&key)),
            method: None,
            params: None,
            result: Some(raw),
            error: None,
        });
    }
    drive(parked_request.pending, id.clone(), declared).await
}
