//! The tool loop streamed (`stream: true` with the gateway's MCP tools): the answer is
//! an event stream that starts at once and is never held — each round is asked of the
//! provider as a stream, the model's text relayed as it arrives, its tool calls
//! accumulated, run (in parallel, through `tools::Gateway`) and reported as they go.
//!
//! - `sse.rs`: a provider's event stream read event by event.
//! - `responses.rs`: OpenAI's Responses events (`response.mcp_*`, text deltas).
//! - `chat.rs`: `chat.completion.chunk`s with LiteLLM's `provider_specific_fields`.
//! - `approval.rs`: approved calls run and approval requests sent (Responses).
//!
//! A provider error mid-stream ends the stream with an error event; a client that goes
//! away stops the loop (its provider stream is dropped, its tool calls are no longer
//! awaited).

mod approval;
pub mod chat;
pub mod responses;
pub mod sse;

use bytes::Bytes;
use http::HeaderMap;
use serde_json::Value;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::mpsc;

use super::error::LlmError;
use super::providers::Provider;
use super::tools::{Gateway, McpRequest};
use crate::body::{self, Body};
use crate::state::{AppState, Runtime};
use crate::verify::Principal;

/// What a streamed loop owns (it runs in its own task).
pub struct Job {
    pub state: Arc<AppState>,
    pub runtime: Arc<Runtime>,
    /// Narrowed and with the tool entries' headers merged (`Gateway::prepare`).
    pub principal: Principal,
    pub headers: HeaderMap,
    pub provider: Arc<Provider>,
    pub mcp: McpRequest,
    /// The model as the client named it.
    pub model_name: String,
    /// Keeps a Responses answer under the gateway's id (None: `store: false`, Chat).
    pub keep: Option<super::stored_responses::Keeper>,
    /// The request's wall-clock budget (`llm/budget.rs`).
    pub deadline: super::budget::Deadline,
    /// The request's spend row, written when the stream ends (`llm/spend.rs`).
    pub spend: super::spend::RequestSpend,
}

impl Job {
    /// How the stream's loop ended (`outcome`: within the budget or not): writes the
    /// request's spend row with the loop's summed `usage`; returns the failure to report
    /// (a provider error, or the budget's) — none when it ended well or the client left.
    pub async fn finish_with(
        self,
        outcome: Result<Result<(), Stop>, LlmError>,
        usage: Option<&Value>,
    ) -> Option<LlmError> {
        let (status, failure) = match outcome {
            Ok(Ok(())) => ("ok", None),
            Ok(Err(Stop::Gone)) => ("cancelled", None),
            Ok(Err(Stop::Failed(e))) => ("upstream_error", Some(e)),
            Err(e) => ("timeout", Some(e)),
        };
        self.spend.record(usage, status).await;
        failure
    }
}

impl Job {
    /// The request's MCP side.
    pub fn gateway(&self) -> Gateway<'_> {
        Gateway::new(
            &self.state,
            self.runtime.clone(),
            self.principal.clone(),
            self.headers.clone(),
        )
    }
}

/// An event-stream response fed by `task` (spawned; it ends with the stream).
pub fn spawn<F, Fut>(task: F) -> http::Response<Body>
where
    F: FnOnce(Out) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (tx, out) = body::channel(16);
    tokio::spawn(task(Out::new(tx)));
    body::sse_response(out)
}

/// The client went away.
#[derive(Debug)]
pub struct Gone;

/// Why a streamed loop stopped early.
#[derive(Debug)]
pub enum Stop {
    Gone,
    Failed(LlmError),
}

impl From<Gone> for Stop {
    fn from(_: Gone) -> Self {
        Stop::Gone
    }
}

impl From<LlmError> for Stop {
    fn from(e: LlmError) -> Self {
        Stop::Failed(e)
    }
}

/// Awaits `work` unless the client goes away first.
pub async fn or_gone<F: Future>(out: &Out, work: F) -> Result<F::Output, Stop> {
    tokio::select! {
        r = work => Ok(r),
        () = out.closed() => Err(Stop::Gone),
    }
}

/// The client's side of the stream.
pub struct Out {
    tx: mpsc::Sender<Bytes>,
}

impl Out {
    pub fn new(tx: mpsc::Sender<Bytes>) -> Self {
        Out { tx }
    }

    /// `data: <json>` (Chat Completions' framing).
    pub async fn data(&self, v: &Value) -> Result<(), Gone> {
        self.raw(format!("data: {v}\n\n")).await
    }

    /// `event: <type>` and `data: <json>` (Responses' framing).
    pub async fn event(&self, kind: &str, v: &Value) -> Result<(), Gone> {
        self.raw(format!("event: {kind}\ndata: {v}\n\n")).await
    }

    pub async fn raw(&self, text: String) -> Result<(), Gone> {
        self.tx.send(Bytes::from(text)).await.map_err(|_| Gone)
    }

    /// Resolves when the client has gone away.
    pub async fn closed(&self) {
        self.tx.closed().await
    }
}

/// Seconds since the epoch (`created`, `created_at`).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
