//! The outbound HTTP client every HTTP-based upstream shares (streamable HTTP, legacy
//! SSE, OpenAPI, transport detection): one connection pool for configuration-file
//! servers, and a guarded one for database-registered servers.

use bytes::Bytes;
use http::{header, Request, Response, StatusCode, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::time::Duration;

use meshgate_policy::config::ServerConfig;

use super::oauth::{ClientCredentials, TokenError};
use crate::guard::connector::OutboundConnector;

pub type HttpClient = Client<hyper_rustls::HttpsConnector<OutboundConnector>, Full<Bytes>>;

/// One pooled client for every configuration-file HTTP upstream (http and https).
pub fn new_client() -> HttpClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    client_over(OutboundConnector::Open(http))
}

/// The client of database-registered servers: every connection's addresses checked
/// against the operator's outbound policy (`crate::guard::outbound`).
pub fn new_guarded_client(policy: Arc<crate::guard::OutboundPolicy>) -> HttpClient {
    client_over(OutboundConnector::Guarded(policy))
}

fn client_over(connector: OutboundConnector) -> HttpClient {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .wrap_connector(connector);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(256)
        .build(https)
}

/// One server's way out: the shared pooled client, and the server's OAuth client
/// credentials when it has them (`super::oauth`).
#[derive(Clone)]
pub struct ServerClient {
    http: HttpClient,
    oauth: Option<Arc<ClientCredentials>>,
}

/// Why a request did not get an answer; [`SendError::reason`] is safe to show.
#[derive(Debug)]
pub enum SendError {
    Http(hyper_util::client::legacy::Error),
    Token(TokenError),
}

impl SendError {
    /// A short reason without URLs or secrets.
    pub fn reason(&self) -> String {
        match self {
            SendError::Http(e) => connect_reason(e),
            SendError::Token(e) => e.to_string(),
        }
    }
}

impl ServerClient {
    /// `server`'s client: `shared`, with its client credentials if it has any.
    pub fn new(name: &str, config: &ServerConfig, shared: &HttpClient) -> Result<Self, String> {
        Ok(ServerClient {
            http: shared.clone(),
            oauth: ClientCredentials::of(name, config, shared)?.map(Arc::new),
        })
    }

    /// The shared client, for what is not a call of the server (an OpenAPI spec's fetch).
    pub fn shared(&self) -> &HttpClient {
        &self.http
    }

    /// Sends `req`. With client credentials and no `Authorization` of the client's own
    /// (a per-request credential wins), the server's token goes with it; a 401 answer
    /// gets one new token and one retry.
    pub async fn request(
        &self,
        mut req: Request<Full<Bytes>>,
    ) -> Result<Response<Incoming>, SendError> {
        let oauth = match &self.oauth {
            Some(o) if !req.headers().contains_key(header::AUTHORIZATION) => o,
            _ => return self.http.request(req).await.map_err(SendError::Http),
        };
        let token = oauth.authorization().await.map_err(SendError::Token)?;
        let mut retry = copy_of(&req);
        req.headers_mut()
            .insert(header::AUTHORIZATION, token.clone());
        let resp = self.http.request(req).await.map_err(SendError::Http)?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        drop(resp);
        let token = oauth.rejected(&token).await.map_err(SendError::Token)?;
        retry.headers_mut().insert(header::AUTHORIZATION, token);
        self.http.request(retry).await.map_err(SendError::Http)
    }
}

/// The same request again (its body is in memory).
fn copy_of(req: &Request<Full<Bytes>>) -> Request<Full<Bytes>> {
    let mut copy = Request::new(req.body().clone());
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    copy
}

/// The `url` of an HTTP-based server, parsed.
pub(super) fn server_url(name: &str, config: &ServerConfig) -> Result<Uri, String> {
    config
        .url
        .as_deref()
        .unwrap_or_default()
        .parse()
        .map_err(|_| format!("server `{name}` has an invalid url"))
}

/// A short reason without the URL (which may carry credentials in its query).
pub(super) fn connect_reason(e: &hyper_util::client::legacy::Error) -> String {
    use std::error::Error;
    reason(e.source(), e.is_connect())
}

/// The innermost cause of a failure, with anything that looks like a URL scrubbed.
fn reason(cause: Option<&(dyn std::error::Error + 'static)>, is_connect: bool) -> String {
    let mut source = cause;
    let mut last = None;
    while let Some(s) = source {
        last = Some(s.to_string());
        source = s.source();
    }
    let reason = last.unwrap_or_else(|| {
        if is_connect {
            "connection failed".into()
        } else {
            "request failed".into()
        }
    });
    // Never echo anything that looks like a URL.
    meshgate_policy::scrub::scrub_urls(&reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error with a message and an optional cause.
    #[derive(Debug)]
    struct Failure(&'static str, Option<Box<Failure>>);

    impl std::fmt::Display for Failure {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Failure {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn the_innermost_cause_is_given_without_urls() {
        let inner = Failure("dns error for https://api.example/v1?token=secret", None);
        let outer = Failure("client error (Connect)", Some(Box::new(inner)));
        let text = reason(Some(&outer), true);
        assert!(text.starts_with("dns error for "), "{text}");
        assert!(
            !text.contains("secret") && !text.contains("api.example"),
            "{text}"
        );
    }

    #[test]
    fn without_a_cause_the_kind_is_said() {
        assert_eq!(reason(None, true), "connection failed");
        assert_eq!(reason(None, false), "request failed");
    }
}
