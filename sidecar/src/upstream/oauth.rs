//! OAuth 2.0 client credentials for an upstream (`auth_type: oauth2` with `client_id`
//! and `client_secret`, LiteLLM's fields): the gateway gets an access token from the
//! server's token endpoint and sends it as `Authorization: Bearer …` (docs/oauth.md).
//!
//! - The token endpoint is `token_url`, else discovered from the server's URL: its
//!   protected-resource metadata (RFC 9728) names the authorization server, whose
//!   metadata (RFC 8414, or OpenID discovery) names the endpoint.
//! - One token per server (its scope set is fixed by the configuration), cached until
//!   shortly before it expires; one fetch at a time per server, so a burst of calls
//!   with an expired token makes one token request, not one each.
//! - A 401 from the server makes one new token and one retry ([`ClientCredentials::rejected`]).
//! - A token endpoint that fails fails this server's calls with a message naming the
//!   server and what went wrong; never the secret, the token or the endpoint's URL.

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use serde::Deserialize;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use meshgate_policy::config::{AuthType, ServerConfig};

use super::client::HttpClient;

/// How long a token endpoint (or a metadata document) may take.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest token or metadata answer read.
const MAX_ANSWER: usize = 64 * 1024;
/// A token is renewed this long before it expires (at most half its lifetime), so a
/// call never leaves with a token about to lapse on the way.
const RENEW_BEFORE: Duration = Duration::from_secs(30);

/// What went wrong getting a token; safe to show (no secret, no URL).
#[derive(Debug, Clone, thiserror::Error)]
#[error("server `{server}`: no OAuth access token: {reason}")]
pub struct TokenError {
    server: String,
    reason: String,
}

/// How the client authenticates at the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form (LiteLLM's way).
    Post,
    /// HTTP Basic with the url-encoded id and secret.
    Basic,
}

#[derive(Debug, Clone)]
struct Token {
    header: HeaderValue,
    /// None: the endpoint gave no lifetime; the token is kept until a 401.
    renew_at: Option<Instant>,
}

impl Token {
    fn fresh(&self, now: Instant) -> bool {
        self.renew_at.is_none_or(|at| now < at)
    }
}

/// Where tokens come from, found once.
#[derive(Debug, Clone)]
struct Endpoint {
    url: Uri,
    auth: ClientAuth,
}

/// One server's client credentials and its cached token.
pub struct ClientCredentials {
    server: String,
    /// The server's URL: discovery starts there, and it is the token's `resource`
    /// (RFC 8707), as the MCP authorization spec asks.
    resource: String,
    client_id: String,
    client_secret: String,
    scopes: Vec<String>,
    /// `token_url`, or None to discover it.
    configured: Option<Uri>,
    endpoint: tokio::sync::OnceCell<Endpoint>,
    token: RwLock<Option<Token>>,
    /// Held while a token is fetched: one fetch per server at a time.
    fetching: tokio::sync::Mutex<()>,
    client: HttpClient,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("server", &self.server)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl ClientCredentials {
    /// The server's client credentials when it has them: `auth_type: oauth2` with a
    /// `client_id` and a `client_secret`. Err: the fields are there but unusable.
    pub fn of(
        name: &str,
        config: &ServerConfig,
        client: &HttpClient,
    ) -> Result<Option<ClientCredentials>, String> {
        if config.auth_type != Some(AuthType::Oauth2) {
            return Ok(None);
        }
        let (Some(id), Some(secret)) = (&config.client_id, &config.client_secret) else {
            // Without a secret it is the per-user flow: the client brings the token
            // (`x-mcp-<alias>-authorization`), as in LiteLLM.
            return Ok(None);
        };
        let configured = match config.token_url.as_deref() {
            Some(url) => Some(
                url.parse::<Uri>()
                    .map_err(|_| format!("server `{name}`: token_url is not a valid URL"))?,
            ),
            None => None,
        };
        Ok(Some(ClientCredentials {
            server: name.to_string(),
            resource: config.url.clone().unwrap_or_default(),
            client_id: id.clone(),
            client_secret: secret.clone(),
            scopes: config.scopes.clone(),
            configured,
            endpoint: tokio::sync::OnceCell::new(),
            token: RwLock::new(None),
            fetching: tokio::sync::Mutex::new(()),
            client: client.clone(),
        }))
    }

    fn error(&self, reason: impl Into<String>) -> TokenError {
        TokenError {
            server: self.server.clone(),
            reason: reason.into(),
        }
    }

    fn cached(&self) -> Option<Token> {
        self.token.read().ok().and_then(|t| t.clone())
    }

    /// The `Authorization` value to send: the cached token while fresh, else a new one.
    pub async fn authorization(&self) -> Result<HeaderValue, TokenError> {
        if let Some(t) = self.cached().filter(|t| t.fresh(Instant::now())) {
            return Ok(t.header);
        }
        let _one = self.fetching.lock().await;
        // Another call may have fetched one while this one waited.
        if let Some(t) = self.cached().filter(|t| t.fresh(Instant::now())) {
            return Ok(t.header);
        }
        self.fetch().await
    }

    /// The server refused `sent` (401): a new token, unless another call already
    /// replaced that one.
    pub async fn rejected(&self, sent: &HeaderValue) -> Result<HeaderValue, TokenError> {
        let _one = self.fetching.lock().await;
        if let Some(t) = self.cached().filter(|t| &t.header != sent) {
            return Ok(t.header);
        }
        self.fetch().await
    }

    async fn fetch(&self) -> Result<HeaderValue, TokenError> {
        let endpoint = self
            .endpoint
            .get_or_try_init(|| self.find_endpoint())
            .await?
            .clone();
        let form = token_form(
            endpoint.auth,
            &self.client_id,
            &self.client_secret,
            &self.scopes,
            &self.resource,
        );
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(endpoint.url.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json");
        if endpoint.auth == ClientAuth::Basic {
            let mut value = basic_auth(&self.client_id, &self.client_secret);
            value.set_sensitive(true);
            req = req.header(header::AUTHORIZATION, value);
        }
        let req = req
            .body(Full::new(Bytes::from(form)))
            .map_err(|e| self.error(e.to_string()))?;
        let started = Instant::now();
        let (status, body) = self.exchange(req, "the token endpoint").await?;
        let token = read_token(status, &body).map_err(|why| self.error(why))?;
        let mut header =
            HeaderValue::from_str(&format!("Bearer {}", token.access_token)).map_err(|_| {
                self.error("the token endpoint returned a token that is not a header value")
            })?;
        header.set_sensitive(true);
        let renew_at = token
            .expires_in
            .map(|secs| started + renew_after(Duration::from_secs(secs)));
        if let Ok(mut slot) = self.token.write() {
            *slot = Some(Token {
                header: header.clone(),
                renew_at,
            });
        }
        tracing::debug!(server = %self.server, "got an OAuth access token");
        Ok(header)
    }

    /// One request, its status and (bounded) body, within [`TOKEN_TIMEOUT`].
    async fn exchange(
        &self,
        req: Request<Full<Bytes>>,
        what: &str,
    ) -> Result<(StatusCode, Bytes), TokenError> {
        let send = async {
            let resp = self.client.request(req).await.map_err(|e| {
                format!(
                    "{what} is unreachable: {}",
                    super::client::connect_reason(&e)
                )
            })?;
            let status = resp.status();
            let body = http_body_util::Limited::new(resp.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|_| format!("{what} broke off or sent more than {MAX_ANSWER} bytes"))?
                .to_bytes();
            Ok::<_, String>((status, body))
        };
        match tokio::time::timeout(TOKEN_TIMEOUT, send).await {
            Ok(r) => r.map_err(|why| self.error(why)),
            Err(_) => Err(self.error(format!("{what} did not answer within {TOKEN_TIMEOUT:?}"))),
        }
    }

    /// `token_url`, else discovery from the server's URL.
    async fn find_endpoint(&self) -> Result<Endpoint, TokenError> {
        if let Some(url) = &self.configured {
            return Ok(Endpoint {
                url: url.clone(),
                auth: ClientAuth::Post,
            });
        }
        let server: Uri = self
            .resource
            .parse()
            .map_err(|_| self.error("the server's url is not a valid URL"))?;
        // RFC 9728: the resource names its authorization server; else the server's own
        // origin is tried as one.
        let mut issuers = Vec::new();
        for url in discovery::protected_resource_urls(&server) {
            if let Some(doc) = self.get_json(&url).await {
                issuers.extend(
                    doc.get("authorization_servers")
                        .and_then(|v| v.as_array())
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v.as_str().map(str::to_string)),
                );
                break;
            }
        }
        if issuers.is_empty() {
            issuers.push(discovery::origin(&server));
        }
        for issuer in &issuers {
            let Ok(issuer) = issuer.parse::<Uri>() else {
                continue;
            };
            for url in discovery::authorization_server_urls(&issuer) {
                let Some(doc) = self.get_json(&url).await else {
                    continue;
                };
                if let Some(endpoint) = discovery::endpoint_of(&doc) {
                    return Ok(endpoint);
                }
            }
        }
        Err(self.error(
            "no token_url is configured and none was found in the server's OAuth metadata (RFC 9728 / RFC 8414)",
        ))
    }

    async fn get_json(&self, url: &Uri) -> Option<serde_json::Value> {
        let req = Request::builder()
            .method(Method::GET)
            .uri(url.clone())
            .header(header::ACCEPT, "application/json")
            .body(Full::new(Bytes::new()))
            .ok()?;
        let (status, body) = self
            .exchange(req, "an OAuth metadata document")
            .await
            .ok()?;
        if !status.is_success() {
            return None;
        }
        serde_json::from_slice(&body).ok()
    }
}

/// How long before its end a token of `lifetime` is renewed.
fn renew_after(lifetime: Duration) -> Duration {
    lifetime.saturating_sub(RENEW_BEFORE.min(lifetime / 2))
}

/// The client-credentials grant's form (RFC 6749 §4.4.2): the scope, the resource
/// (RFC 8707), and with [`ClientAuth::Post`] the id and secret.
fn token_form(
    auth: ClientAuth,
    id: &str,
    secret: &str,
    scopes: &[String],
    resource: &str,
) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "client_credentials");
    if !scopes.is_empty() {
        form.append_pair("scope", &scopes.join(" "));
    }
    if !resource.is_empty() {
        form.append_pair("resource", resource);
    }
    if auth == ClientAuth::Post {
        form.append_pair("client_id", id);
        form.append_pair("client_secret", secret);
    }
    form.finish()
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_auth(id: &str, secret: &str) -> HeaderValue {
    use base64::Engine;
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let raw = format!("{}:{}", enc(id), enc(secret));
    let value = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("Basic"))
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// A token endpoint's answer: the token, or why there is none (its OAuth `error` code
/// when it gave one; never the body, which may echo the secret).
fn read_token(status: StatusCode, body: &[u8]) -> Result<TokenAnswer, String> {
    if !status.is_success() {
        let code = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .filter(|c| c.len() <= 64 && c.bytes().all(|b| b.is_ascii_graphic()));
        return Err(match code {
            Some(code) => format!("the token endpoint answered {status} ({code})"),
            None => format!("the token endpoint answered {status}"),
        });
    }
    let answer: TokenAnswer = serde_json::from_slice(body)
        .map_err(|_| "the token endpoint's answer has no access_token".to_string())?;
    if answer.access_token.is_empty() {
        return Err("the token endpoint returned an empty access_token".into());
    }
    match answer.token_type.as_deref() {
        None => {}
        Some(t) if t.eq_ignore_ascii_case("bearer") => {}
        Some(_) => {
            return Err("the token endpoint returned a token that is not a Bearer token".into())
        }
    }
    Ok(answer)
}

/// The well-known URLs of RFC 9728 and RFC 8414.
mod discovery {
    use http::Uri;

    use super::{ClientAuth, Endpoint};

    pub fn origin(url: &Uri) -> String {
        format!(
            "{}://{}",
            url.scheme_str().unwrap_or("https"),
            url.authority().map_or("", |a| a.as_str())
        )
    }

    /// `/.well-known/<name>` inserted between the origin and the path (RFC 8414 §3.1,
    /// RFC 9728 §3.1), then at the root.
    fn well_known(url: &Uri, name: &str) -> Vec<Uri> {
        let path = url.path().trim_end_matches('/');
        let mut out = Vec::new();
        if !path.is_empty() {
            out.push(format!("{}/.well-known/{name}{path}", origin(url)));
        }
        out.push(format!("{}/.well-known/{name}", origin(url)));
        out.into_iter().filter_map(|u| u.parse().ok()).collect()
    }

    pub fn protected_resource_urls(server: &Uri) -> Vec<Uri> {
        well_known(server, "oauth-protected-resource")
    }

    /// RFC 8414's location, OpenID's inserted one, and OpenID's appended one.
    pub fn authorization_server_urls(issuer: &Uri) -> Vec<Uri> {
        let mut out = well_known(issuer, "oauth-authorization-server");
        out.extend(well_known(issuer, "openid-configuration"));
        let appended = format!(
            "{}/.well-known/openid-configuration",
            issuer.to_string().trim_end_matches('/')
        );
        if let Ok(u) = appended.parse::<Uri>() {
            if !out.contains(&u) {
                out.push(u);
            }
        }
        out
    }

    /// The token endpoint of an authorization server's metadata, and the client
    /// authentication it prefers: `client_secret_basic` when listed (or when the list is
    /// absent: RFC 8414's default), else `client_secret_post`.
    pub fn endpoint_of(doc: &serde_json::Value) -> Option<Endpoint> {
        let url: Uri = doc.get("token_endpoint")?.as_str()?.parse().ok()?;
        let methods: Vec<&str> = doc
            .get("token_endpoint_auth_methods_supported")
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|m| m.as_str()).collect())
            .unwrap_or_default();
        let auth = if methods.is_empty() || methods.contains(&"client_secret_basic") {
            ClientAuth::Basic
        } else {
            ClientAuth::Post
        };
        Some(Endpoint { url, auth })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_carries_scope_resource_and_with_post_the_credentials() {
        let scopes = vec!["read".to_string(), "write:all".to_string()];
        let form = token_form(
            ClientAuth::Post,
            "id 1",
            "s&cret=",
            &scopes,
            "https://mcp.example/mcp",
        );
        assert_eq!(
            form,
            "grant_type=client_credentials&scope=read+write%3Aall&resource=https%3A%2F%2Fmcp.example%2Fmcp&client_id=id+1&client_secret=s%26cret%3D"
        );
        let form = token_form(ClientAuth::Basic, "id", "secret", &[], "");
        assert_eq!(
            form, "grant_type=client_credentials",
            "no credentials in the body with Basic"
        );
        // RFC 6749 §2.3.1: id and secret url-encoded before base64.
        assert_eq!(basic_auth("a:b", "c d"), "Basic YSUzQWI6Yytk");
    }

    #[test]
    fn a_token_answer_is_read_and_errors_never_echo_the_body() {
        let t = read_token(
            StatusCode::OK,
            br#"{"access_token":"abc","token_type":"bearer","expires_in":60}"#,
        )
        .unwrap();
        assert_eq!((t.access_token.as_str(), t.expires_in), ("abc", Some(60)));
        let e = read_token(
            StatusCode::UNAUTHORIZED,
            br#"{"error":"invalid_client","error_description":"bad secret s3cr3t"}"#,
        )
        .unwrap_err();
        assert_eq!(
            e,
            "the token endpoint answered 401 Unauthorized (invalid_client)"
        );
        let e = read_token(StatusCode::BAD_GATEWAY, b"upstream said s3cr3t").unwrap_err();
        assert!(!e.contains("s3cr3t"), "{e}");
        assert!(read_token(
            StatusCode::OK,
            br#"{"access_token":"","token_type":"Bearer"}"#
        )
        .is_err());
        assert!(read_token(
            StatusCode::OK,
            br#"{"access_token":"x","token_type":"mac"}"#
        )
        .is_err());
        assert!(read_token(StatusCode::OK, b"not json").is_err());
    }

    #[test]
    fn a_token_is_renewed_before_it_ends() {
        assert_eq!(
            renew_after(Duration::from_secs(3600)),
            Duration::from_secs(3570)
        );
        // A short-lived token is renewed at half its life, never after its end.
        assert_eq!(renew_after(Duration::from_secs(10)), Duration::from_secs(5));
        assert_eq!(renew_after(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn discovery_looks_where_the_rfcs_say() {
        let server: Uri = "https://mcp.example/tenant/mcp".parse().unwrap();
        let urls: Vec<String> = discovery::protected_resource_urls(&server)
            .iter()
            .map(Uri::to_string)
            .collect();
        assert_eq!(
            urls,
            [
                "https://mcp.example/.well-known/oauth-protected-resource/tenant/mcp",
                "https://mcp.example/.well-known/oauth-protected-resource"
            ]
        );
        let issuer: Uri = "https://as.example/realm".parse().unwrap();
        let urls: Vec<String> = discovery::authorization_server_urls(&issuer)
            .iter()
            .map(Uri::to_string)
            .collect();
        assert_eq!(
            urls,
            [
                "https://as.example/.well-known/oauth-authorization-server/realm",
                "https://as.example/.well-known/oauth-authorization-server",
                "https://as.example/.well-known/openid-configuration/realm",
                "https://as.example/.well-known/openid-configuration",
                "https://as.example/realm/.well-known/openid-configuration"
            ]
        );
        let e = discovery::endpoint_of(&serde_json::json!({
            "token_endpoint": "https://as.example/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"]}))
        .unwrap();
        assert_eq!(
            (e.url.to_string().as_str(), e.auth),
            ("https://as.example/token", ClientAuth::Post)
        );
        let e = discovery::endpoint_of(
            &serde_json::json!({"token_endpoint": "https://as.example/token"}),
        )
        .unwrap();
        assert_eq!(e.auth, ClientAuth::Basic);
        assert!(discovery::endpoint_of(&serde_json::json!({"issuer": "x"})).is_none());
    }
}
