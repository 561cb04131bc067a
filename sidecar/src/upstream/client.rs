//! The outbound HTTP client every HTTP-based upstream shares (streamable HTTP, legacy
//! SSE, OpenAPI, transport detection): one connection pool for configuration-file
//! servers, and a guarded one for database-registered servers.

use bytes::Bytes;
use http::Uri;
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::time::Duration;

use meshgate_policy::config::ServerConfig;

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
    let mut source = e.source();
    let mut last = None;
    while let Some(s) = source {
        last = Some(s.to_string());
        source = s.source();
    }
    let reason = last.unwrap_or_else(|| {
        if e.is_connect() {
            "connection failed".into()
        } else {
            "request failed".into()
        }
    });
    // Never echo anything that looks like a URL.
    meshgate_policy::scrub::scrub_urls(&reason)
}
