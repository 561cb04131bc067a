//! What an upstream request can fail with.

use serde_json::value::RawValue;
use std::time::Duration;

use crate::jsonrpc::RpcError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// The upstream answered with a JSON-RPC error; relayed unchanged.
    #[error("upstream error {}: {}", .0.code, .0.message)]
    Rpc(RpcError),
    /// Could not reach the upstream. The text is safe to show (no URL, no secret).
    #[error("{0}")]
    Unavailable(String),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The client cancelled the request; the upstream was told.
    #[error("cancelled by the client")]
    Cancelled,
    /// The upstream sent something that is not MCP.
    #[error("protocol error: {0}")]
    Protocol(String),
}

pub type UpstreamResult = Result<Box<RawValue>, UpstreamError>;
