//! Envoy's AccessLogService (`envoy.access_loggers.http_grpc`): a gRPC server on a
//! listener of its own (`--als-listen`, loopback by default in the shipped config).
//! The stream does not pass through the filter, so nothing about it is signed: Envoy
//! proves itself with a shared token in the stream's metadata ([`TOKEN_HEADER`], set by
//! `grpc_service.initial_metadata`), compared in constant time. A stream without it, or
//! with another, is refused (`UNAUTHENTICATED`) before any entry is read.

use std::net::SocketAddr;

use envoy_types::pb::envoy::service::accesslog::v3::access_log_service_server::{
    AccessLogService, AccessLogServiceServer,
};
use envoy_types::pb::envoy::service::accesslog::v3::stream_access_logs_message::LogEntries;
use envoy_types::pb::envoy::service::accesslog::v3::{
    StreamAccessLogsMessage, StreamAccessLogsResponse,
};
use meshgate_policy::auth::{hash_key, hashes_equal};
use tonic::{Request, Response, Status, Streaming};

use super::entry::row_of;
use super::AuditTrail;

/// gRPC metadata carrying the shared token.
pub const TOKEN_HEADER: &str = "x-meshgate-als-token";
/// Shortest token accepted.
pub const MIN_TOKEN_LEN: usize = 16;
/// Largest message read (Envoy batches entries up to its `buffer_size_bytes`, 16 KiB by
/// default).
const MAX_MESSAGE: usize = 4 << 20;

struct Service {
    trail: AuditTrail,
}

#[tonic::async_trait]
impl AccessLogService for Service {
    async fn stream_access_logs(
        &self,
        request: Request<Streaming<StreamAccessLogsMessage>>,
    ) -> Result<Response<StreamAccessLogsResponse>, Status> {
        let mut stream = request.into_inner();
        while let Some(message) = stream.message().await? {
            if let Some(LogEntries::HttpLogs(entries)) = message.log_entries {
                for entry in &entries.log_entry {
                    self.trail.push(row_of(entry));
                }
            }
        }
        Ok(Response::new(StreamAccessLogsResponse {}))
    }
}

/// Whether the metadata carries `token` (compared as hashes, in constant time).
fn authorized(metadata: &tonic::metadata::MetadataMap, token_hash: &str) -> bool {
    metadata
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|presented| hashes_equal(&hash_key(presented), token_hash))
}

/// Serves until `stop` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    token: String,
    trail: AuditTrail,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let token_hash = hash_key(&token);
    let check = move |req: Request<()>| {
        if authorized(req.metadata(), &token_hash) {
            Ok(req)
        } else {
            crate::log_limit::warn_limited!(
                "audit",
                "als token",
                "audit: refused an access-log stream without the shared token"
            );
            Err(Status::unauthenticated(format!(
                "an access-log stream must carry the shared token in `{TOKEN_HEADER}`"
            )))
        }
    };
    let service =
        AccessLogServiceServer::new(Service { trail }).max_decoding_message_size(MAX_MESSAGE);
    let service = tonic::service::interceptor::InterceptedService::new(service, check);
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    if let Err(e) = tonic::transport::Server::builder()
        .serve_with_incoming_shutdown(service, incoming, stopped)
        .await
    {
        tracing::error!("audit: the access-log server stopped: {e}");
    }
}

/// Binds the listener (`--als-listen`); a non-loopback address is allowed but logged.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, String> {
    if !addr.ip().is_loopback() {
        tracing::warn!(
            "the access-log listener {addr} is not on loopback: only the shared token protects it"
        );
    }
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen for access logs on {addr}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::metadata::{MetadataMap, MetadataValue};

    #[test]
    fn only_the_exact_token_is_authorized() {
        let hash = hash_key("a-token-of-enough-length");
        let with = |v: &'static str| {
            let mut m = MetadataMap::new();
            m.insert(TOKEN_HEADER, MetadataValue::from_static(v));
            m
        };
        assert!(authorized(&with("a-token-of-enough-length"), &hash));
        assert!(!authorized(&with("a-token-of-enough-lengtH"), &hash));
        assert!(!authorized(&with(""), &hash));
        assert!(!authorized(&MetadataMap::new(), &hash));
    }
}
