//! The TCP connector under every upstream HTTP client. Configuration-file servers get the
//! open one; database servers get one that resolves the host itself, checks every
//! address against the [`OutboundPolicy`] and connects only to checked addresses (no
//! second lookup an attacker's DNS could answer differently). Each new connection is
//! checked, so redirects and reconnects are too.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::outbound::OutboundPolicy;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub enum OutboundConnector {
    Open(HttpConnector),
    Guarded(Arc<OutboundPolicy>),
}

impl tower_service::Service<Uri> for OutboundConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        match self {
            OutboundConnector::Open(c) => {
                tower_service::Service::<Uri>::poll_ready(c, cx).map_err(Into::into)
            }
            OutboundConnector::Guarded(_) => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        match self {
            OutboundConnector::Open(c) => {
                let fut = c.call(uri);
                Box::pin(async move { fut.await.map_err(Into::into) })
            }
            OutboundConnector::Guarded(policy) => {
                let policy = Arc::clone(policy);
                Box::pin(async move { connect_checked(&policy, &uri).await })
            }
        }
    }
}

/// The addresses `uri` names, each checked; an error says why without the address.
pub async fn checked_addresses(
    policy: &OutboundPolicy,
    uri: &Uri,
) -> Result<Vec<SocketAddr>, io::Error> {
    let host = uri
        .host()
        .map(|h| h.trim_matches(['[', ']']))
        .filter(|h| !h.is_empty())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the URL has no host"))?;
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::NotFound, "the host name does not resolve"))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "the host name does not resolve",
        ));
    }
    for a in &addrs {
        policy.check(*a).map_err(|kind| {
            io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("outbound address refused for a database server: {kind}"),
            )
        })?;
    }
    Ok(addrs)
}

async fn connect_checked(
    policy: &OutboundPolicy,
    uri: &Uri,
) -> Result<TokioIo<TcpStream>, BoxError> {
    let addrs = checked_addresses(policy, uri).await?;
    let mut last = io::Error::new(io::ErrorKind::NotConnected, "connection failed");
    for addr in addrs {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(TokioIo::new(stream));
            }
            Ok(Err(e)) => last = e,
            Err(_) => last = io::Error::new(io::ErrorKind::TimedOut, "connect timed out"),
        }
    }
    Err(last.into())
}
