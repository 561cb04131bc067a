//! Headers an upstream receives.
//!
//! [`outbound_headers`]: the per-request headers of an HTTP-based upstream (streamable
//! HTTP, legacy SSE, REST): its configured credential formatted by `auth_type` as LiteLLM
//! does, headers from the client's request (`extra_headers`, `x-mcp-<prefix>-<header>`,
//! the legacy `x-mcp-auth`), then `static_headers` (which win).

use base64::Engine;
use http::{HeaderMap, HeaderName, HeaderValue};

use meshgate_policy::auth::DEFAULT_KEY_HEADER;

/// LiteLLM's legacy header for one credential sent to every server.
pub const DEFAULT_LEGACY_AUTH_HEADER: &str = "x-mcp-auth";
use meshgate_policy::config::{AuthType, ServerConfig};
use meshgate_policy::signing::is_internal_header;

/// `static_headers`, checked (the names were validated with the config; values may come
/// from `os.environ/`).
pub fn static_headers(config: &ServerConfig) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    for (name, value) in &config.static_headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("static header `{name}` has an invalid name"))?;
        let mut value = HeaderValue::from_str(value)
            .map_err(|_| format!("static header `{name}` has an invalid value"))?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    Ok(headers)
}

/// The per-server part of [`outbound_headers`], computed once when the server starts.
#[derive(Debug, Clone, Default)]
pub struct ServerHeaders {
    /// The `auth_type`/`auth_value` header.
    pub credential: Option<(HeaderName, HeaderValue)>,
    /// `extra_headers`: client headers forwarded when present.
    pub extra: Vec<HeaderName>,
    /// `static_headers`: always sent, win over everything.
    pub statics: HeaderMap,
    /// `x-mcp-<prefix>-` with the prefix lowercased.
    pub per_server_prefix: String,
    /// `x-mcp-<prefix><separator>` when `MCP_TOOL_PREFIX_SEPARATOR` is not `-`.
    pub per_server_prefix_sep: Option<String>,
    /// How the legacy `x-mcp-auth` value is formatted for this server.
    pub auth_type: AuthType,
}

impl ServerHeaders {
    pub fn new(prefix: &str, config: &ServerConfig) -> Result<ServerHeaders, String> {
        let extra = config
            .extra_headers
            .iter()
            .map(|h| {
                HeaderName::from_bytes(h.trim().as_bytes())
                    .map_err(|_| format!("extra header `{h}` is not a valid header name"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ServerHeaders {
            credential: auth_header(
                config.auth_type.unwrap_or_default(),
                config.credential(),
                if config.is_openapi() {
                    ApiKeyStyle::Authorization
                } else {
                    ApiKeyStyle::XApiKey
                },
            ),
            extra,
            statics: static_headers(config)?,
            per_server_prefix: format!("x-mcp-{}-", prefix.to_ascii_lowercase()),
            per_server_prefix_sep: (crate::naming::separator() != "-").then(|| {
                format!(
                    "x-mcp-{}{}",
                    prefix.to_ascii_lowercase(),
                    crate::naming::separator().to_ascii_lowercase()
                )
            }),
            auth_type: config.auth_type.unwrap_or_default(),
        })
    }
}

/// Headers that never leave the gateway from a client request, whatever the configuration
/// says: the gateway key, the filter's decision headers, and the headers that frame the
/// HTTP message itself (set by the HTTP client for the outgoing request).
fn never_forwarded(name: &HeaderName, key_header: &str) -> bool {
    const FRAMING: &[&str] = &[
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "te",
        "trailer",
        "upgrade",
    ];
    let n = name.as_str();
    n.eq_ignore_ascii_case(DEFAULT_KEY_HEADER)
        || n.eq_ignore_ascii_case(key_header)
        || is_internal_header(n)
        || FRAMING.contains(&n)
}

/// The headers sent to a REST upstream for one call, in this order (a later step replaces
/// an earlier one's header of the same name):
///
/// 1. the configured credential (`auth_type`/`auth_value`);
/// 2. `extra_headers`: the client's headers of those names (case-insensitive), skipped when
///    absent — `authorization` is forwarded only this way or by step 3;
/// 3. `x-mcp-<prefix>-<header>: v` from the client, sent as `<header>: v`: the prefix is the
///    server's (its alias, else its name), case-insensitive; `<header>` is everything after
///    the first `-` following the prefix. Reaches only this server, and replaces the
///    configured credential when it names the same header (per-request credentials win);
/// 4. `static_headers`, always sent.
///
/// From the client, the gateway key (`x-litellm-api-key` and the configured `key_header`),
/// `x-meshgate-*` and message-framing headers (`host`, `content-length`…) are never taken.
/// Repeated client headers keep all their values.
///
/// Between 3 and 4, the legacy `x-mcp-auth` header (renameable: `legacy_auth_header`) is
/// sent to a server that got no `x-mcp-<prefix>-*` header, formatted by its `auth_type`
/// (`Authorization: Bearer v` when it has none).
///
/// `known_prefixes` ([`known_prefixes`]) settles which server an `x-mcp-…` header is
/// for: the one with the longest matching prefix.
pub fn outbound_headers(
    server: &ServerHeaders,
    client: &HeaderMap,
    key_header: &str,
    legacy_auth_header: &str,
    known_prefixes: &[String],
) -> HeaderMap {
    let mut out = HeaderMap::new();
    if let Some((name, value)) = &server.credential {
        out.insert(name.clone(), value.clone());
    }
    fn replace(out: &mut HeaderMap, name: &HeaderName, from: &HeaderMap, key_header: &str) {
        let mut values = from.get_all(name).iter().peekable();
        if values.peek().is_none() || never_forwarded(name, key_header) {
            return;
        }
        out.remove(name);
        for v in values {
            let mut v = v.clone();
            v.set_sensitive(true);
            out.append(name.clone(), v);
        }
    }
    for name in &server.extra {
        replace(&mut out, name, client, key_header);
    }
    let mut per_server = HeaderMap::new();
    for (name, value) in client {
        // HeaderName is always lowercase. `x-mcp-servers` and `x-mcp-access-groups` are the
        // gateway's own (LiteLLM excludes them too).
        let n = name.as_str();
        if n == "x-mcp-servers" || n == "x-mcp-access-groups" {
            continue;
        }
        let rest = server
            .per_server_prefix_sep
            .as_deref()
            .and_then(|p| n.strip_prefix(p))
            .or_else(|| n.strip_prefix(&server.per_server_prefix));
        let Some(rest) = rest else {
            continue;
        };
        if meant_for_longer_prefix(server, n, known_prefixes) {
            continue;
        }
        if let Ok(target) = HeaderName::from_bytes(rest.as_bytes()) {
            per_server.append(target, value.clone());
        }
    }
    for name in per_server.keys() {
        replace(&mut out, name, &per_server, key_header);
    }
    if per_server.is_empty() {
        let legacy = client.get(legacy_auth_header).and_then(|v| v.to_str().ok());
        let auth_type = match server.auth_type {
            AuthType::None | AuthType::Oauth2 => AuthType::BearerToken,
            other => other,
        };
        if let Some((name, value)) =
            legacy.and_then(|v| auth_header(auth_type, Some(v.trim()), ApiKeyStyle::Authorization))
        {
            out.insert(name, value);
        }
    }
    for (name, value) in &server.statics {
        out.insert(name.clone(), value.clone());
    }
    out
}

/// Every configured server prefix, lowercased (built with each configuration's
/// runtime): `x-mcp-my-gh-authorization` belongs to `my-gh`, not to a server `my`.
pub fn known_prefixes(prefixes: impl IntoIterator<Item = impl AsRef<str>>) -> Vec<String> {
    prefixes
        .into_iter()
        .map(|p| p.as_ref().to_ascii_lowercase())
        .collect()
}

/// Whether a `x-mcp-…` header this server's prefix matches is really addressed to a
/// server with a longer prefix (LiteLLM resolves by the longest known prefix).
fn meant_for_longer_prefix(server: &ServerHeaders, header: &str, known: &[String]) -> bool {
    let ours = server.per_server_prefix.len() - "x-mcp-".len() - 1;
    let Some(rest) = header.strip_prefix("x-mcp-") else {
        return false;
    };
    let sep = crate::naming::separator();
    known.iter().any(|p| {
        p.len() > ours
            && rest.starts_with(p.as_str())
            && rest
                .get(p.len()..)
                .is_some_and(|t| t.starts_with('-') || t.starts_with(sep))
    })
}

/// How LiteLLM sends an `api_key` credential: `X-API-Key: v` to MCP servers,
/// `Authorization: ApiKey v` to OpenAPI servers and for the legacy `x-mcp-auth` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeyStyle {
    XApiKey,
    Authorization,
}

/// LiteLLM's mapping of `auth_type` to an upstream header.
pub fn auth_header(
    auth_type: AuthType,
    credential: Option<&str>,
    api_key: ApiKeyStyle,
) -> Option<(HeaderName, HeaderValue)> {
    let credential = credential?;
    let (name, value) = match auth_type {
        AuthType::None | AuthType::Oauth2 => return None,
        // Servers with these are never started (`AuthType::unsupported`).
        AuthType::AwsSigv4
        | AuthType::Oauth2TokenExchange
        | AuthType::Oauth2IdJag
        | AuthType::TruePassthrough
        | AuthType::OauthDelegate => return None,
        AuthType::ApiKey => match api_key {
            ApiKeyStyle::XApiKey => (HeaderName::from_static("x-api-key"), credential.to_string()),
            ApiKeyStyle::Authorization => {
                (http::header::AUTHORIZATION, format!("ApiKey {credential}"))
            }
        },
        AuthType::BearerToken => (http::header::AUTHORIZATION, format!("Bearer {credential}")),
        AuthType::Basic => (
            http::header::AUTHORIZATION,
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credential)
            ),
        ),
        AuthType::Authorization => (http::header::AUTHORIZATION, credential.to_string()),
        AuthType::Token => (http::header::AUTHORIZATION, format!("token {credential}")),
    };
    let mut value = HeaderValue::from_str(&value).ok()?;
    value.set_sensitive(true);
    Some((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_litellm() {
        let v = |t, c| {
            auth_header(t, Some(c), ApiKeyStyle::XApiKey)
                .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
        };
        assert_eq!(
            v(AuthType::ApiKey, "k"),
            Some(("x-api-key".into(), "k".into()))
        );
        assert_eq!(
            v(AuthType::BearerToken, "t"),
            Some(("authorization".into(), "Bearer t".into()))
        );
        assert_eq!(
            v(AuthType::Basic, "u:p"),
            Some(("authorization".into(), "Basic dTpw".into()))
        );
        assert_eq!(
            v(AuthType::Authorization, "X y"),
            Some(("authorization".into(), "X y".into()))
        );
        assert_eq!(
            v(AuthType::Token, "t"),
            Some(("authorization".into(), "token t".into()))
        );
        assert_eq!(v(AuthType::None, "t"), None);
    }

    /// A server with prefix `petstore`, its config given as JSON.
    fn server(json: &str) -> ServerHeaders {
        let config: ServerConfig = serde_json::from_str(json).unwrap();
        ServerHeaders::new("petstore", &config).unwrap()
    }

    fn client(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn pairs(h: &HeaderMap) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = h
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        v.sort();
        v
    }

    fn s(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn credential_only_by_default_and_nothing_from_the_client() {
        let srv = server(r#"{"auth_type": "bearer_token", "auth_value": "tok"}"#);
        let c = client(&[
            ("authorization", "Bearer client"),
            ("x-other", "1"),
            ("cookie", "a=b"),
        ]);
        assert_eq!(
            pairs(&outbound_headers(
                &srv,
                &c,
                DEFAULT_KEY_HEADER,
                DEFAULT_LEGACY_AUTH_HEADER,
                &[]
            )),
            s(&[("authorization", "Bearer tok")])
        );
    }

    #[test]
    fn extra_headers_are_matched_case_insensitively_and_skipped_when_absent() {
        let srv = server(r#"{"extra_headers": ["X-Tenant", "Authorization", "X-Absent"]}"#);
        let c = client(&[
            ("x-tenant", "t1"),
            ("x-tenant", "t2"),
            ("authorization", "Bearer mine"),
            ("x-not-listed", "no"),
        ]);
        assert_eq!(
            pairs(&outbound_headers(
                &srv,
                &c,
                DEFAULT_KEY_HEADER,
                DEFAULT_LEGACY_AUTH_HEADER,
                &[]
            )),
            s(&[
                ("authorization", "Bearer mine"),
                ("x-tenant", "t1"),
                ("x-tenant", "t2")
            ])
        );
    }

    #[test]
    fn per_server_headers_go_to_the_longest_matching_prefix() {
        let known = known_prefixes(["gw", "gw-ent"]);
        let short = ServerHeaders::new("gw", &ServerConfig::default()).unwrap();
        let long = ServerHeaders::new("gw-ent", &ServerConfig::default()).unwrap();
        let c = client(&[
            ("x-mcp-gw-ent-authorization", "Bearer for-ent"),
            ("x-mcp-gw-x-key", "for-gw"),
        ]);
        let out = |srv| {
            pairs(&outbound_headers(
                srv,
                &c,
                DEFAULT_KEY_HEADER,
                DEFAULT_LEGACY_AUTH_HEADER,
                &known,
            ))
        };
        assert_eq!(out(&short), s(&[("x-key", "for-gw")]));
        assert_eq!(out(&long), s(&[("authorization", "Bearer for-ent")]));
    }

    /// The prefixes are the configuration's, given per call: without `gw-ent` among
    /// them, its header is `gw`'s (as `ent-authorization`).
    #[test]
    fn the_known_prefixes_are_those_given() {
        let short = ServerHeaders::new("GW", &ServerConfig::default()).unwrap();
        let c = client(&[("x-mcp-gw-ent-authorization", "Bearer for-ent")]);
        let out = |known: &[String]| {
            pairs(&outbound_headers(
                &short,
                &c,
                DEFAULT_KEY_HEADER,
                DEFAULT_LEGACY_AUTH_HEADER,
                known,
            ))
        };
        assert_eq!(out(&[]), s(&[("ent-authorization", "Bearer for-ent")]));
        assert!(out(&known_prefixes(["GW", "GW-Ent"])).is_empty());
    }

    #[test]
    fn extra_headers_override_the_configured_credential() {
        let srv = server(
            r#"{"auth_type": "api_key", "auth_value": "cfg", "extra_headers": ["x-api-key"]}"#,
        );
        let c = client(&[("x-api-key", "from-client")]);
        assert_eq!(
            pairs(&outbound_headers(
                &srv,
                &c,
                DEFAULT_KEY_HEADER,
                DEFAULT_LEGACY_AUTH_HEADER,
                &[]
            )),
            s(&[("x-api-key", "from-client")])
        );
        // Absent: the configured one stays.
        assert_eq!(
            pairs(&outbound_headers(
                &srv,
                &HeaderMap::new(),
                DEFAULT_KEY_HEADER,
                DEFAULT_LEGACY_AUTH_HEADER,
                &[]
            )),
            s(&[("x-api-key", "cfg")])
        );
    }

    #[test]
    fn per_server_headers_reach_only_their_server_and_replace_the_credential() {
        let srv = server(r#"{"auth_type": "bearer_token", "auth_value": "cfg"}"#);
        let c = client(&[
            ("x-mcp-PetStore-Authorization", "Bearer per-request"),
            ("x-mcp-petstore-x-api-key", "k"),
            ("x-mcp-petstore-123-foo", "dash"),
            ("x-mcp-other-authorization", "Bearer not-for-us"),
            ("x-mcp-petstorex-a", "no"),
            ("x-mcp-petstore", "no header name"),
        ]);
        assert_eq!(
            pairs(&outbound_headers(
                &srv,
                &c,
                DEFAULT_KEY_HEADER,
                DEFAULT_LEGACY_AUTH_HEADER,
                &[]
            )),
            s(&[
                ("authorization", "Bearer per-request"),
                ("x-api-key", "k"),
                ("123-foo", "dash")
            ])
        );
    }

    #[test]
    fn per_server_headers_win_over_extra_headers_and_static_headers_win_over_all() {
        let srv = server(
            r#"{"auth_type": "token", "auth_value": "cfg", "extra_headers": ["authorization", "x-env"],
                "static_headers": {"X-Env": "prod", "x-static": "s"}}"#,
        );
        let c = client(&[
            ("authorization", "Bearer extra"),
            ("x-mcp-petstore-authorization", "Bearer per-server"),
            ("x-env", "dev"),
            ("x-mcp-petstore-x-static", "client"),
        ]);
        assert_eq!(
            pairs(&outbound_headers(
                &srv,
                &c,
                DEFAULT_KEY_HEADER,
                DEFAULT_LEGACY_AUTH_HEADER,
                &[]
            )),
            s(&[
                ("authorization", "Bearer per-server"),
                ("x-env", "prod"),
                ("x-static", "s")
            ])
        );
    }

    #[test]
    fn gateway_key_internal_and_framing_headers_are_never_taken_from_the_client() {
        let srv = server(
            r#"{"extra_headers": ["x-litellm-api-key", "x-my-key", "x-meshgate-principal", "host", "content-length", "x-ok"]}"#,
        );
        let c = client(&[
            ("x-litellm-api-key", "Bearer sk-gateway"),
            ("x-my-key", "Bearer sk-gateway"),
            ("x-meshgate-principal", "master"),
            ("host", "evil"),
            ("content-length", "5"),
            ("x-mcp-petstore-x-litellm-api-key", "Bearer sk-gateway"),
            ("x-mcp-petstore-x-meshgate-servers", "*"),
            ("x-mcp-petstore-transfer-encoding", "chunked"),
            ("x-ok", "yes"),
        ]);
        assert_eq!(
            pairs(&outbound_headers(
                &srv,
                &c,
                "x-my-key",
                DEFAULT_LEGACY_AUTH_HEADER,
                &[]
            )),
            s(&[("x-ok", "yes")])
        );
    }

    #[test]
    fn gateway_filter_headers_are_not_per_server_headers() {
        let srv = ServerHeaders::new("access", &ServerConfig::default()).unwrap();
        let c = client(&[("x-mcp-access-groups", "g"), ("x-mcp-servers", "a")]);
        assert!(outbound_headers(
            &srv,
            &c,
            DEFAULT_KEY_HEADER,
            DEFAULT_LEGACY_AUTH_HEADER,
            &[]
        )
        .is_empty());
    }

    /// LiteLLM's OpenAPI path sends `api_key` as `Authorization: ApiKey <v>` (its MCP
    /// path as `X-API-Key`); a REST API configured for LiteLLM expects the former.
    #[test]
    fn openapi_servers_get_api_keys_as_litellm_sends_them() {
        let openapi = ServerConfig {
            spec_path: Some("spec.json".into()),
            auth_type: Some(AuthType::ApiKey),
            auth_value: Some("k".into()),
            ..Default::default()
        };
        let mcp = ServerConfig {
            spec_path: None,
            ..openapi.clone()
        };
        let sent = |config: &ServerConfig| {
            let srv = ServerHeaders::new("p", config).unwrap();
            outbound_headers(
                &srv,
                &HeaderMap::new(),
                DEFAULT_KEY_HEADER,
                DEFAULT_LEGACY_AUTH_HEADER,
                &[],
            )
            .iter()
            .map(|(k, v)| format!("{k}={}", v.to_str().unwrap()))
            .collect::<Vec<_>>()
        };
        assert_eq!(sent(&openapi), ["authorization=ApiKey k"]);
        assert_eq!(sent(&mcp), ["x-api-key=k"]);
    }

    #[test]
    fn legacy_x_mcp_auth_goes_to_servers_without_their_own_header() {
        let cfg = |t: AuthType| ServerConfig {
            auth_type: Some(t),
            ..Default::default()
        };
        let mut c = HeaderMap::new();
        c.insert("x-mcp-auth", HeaderValue::from_static("tok"));
        let bearer = ServerHeaders::new("gh", &cfg(AuthType::BearerToken)).unwrap();
        let key = ServerHeaders::new("zap", &cfg(AuthType::ApiKey)).unwrap();
        let plain = ServerHeaders::new("p", &ServerConfig::default()).unwrap();
        let out = |srv: &ServerHeaders, c: &HeaderMap, legacy: &str| {
            let h = outbound_headers(srv, c, DEFAULT_KEY_HEADER, legacy, &[]);
            h.iter()
                .map(|(k, v)| format!("{k}={}", v.to_str().unwrap()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            out(&bearer, &c, DEFAULT_LEGACY_AUTH_HEADER),
            ["authorization=Bearer tok"]
        );
        // LiteLLM formats the legacy header's `api_key` as `Authorization: ApiKey`.
        assert_eq!(
            out(&key, &c, DEFAULT_LEGACY_AUTH_HEADER),
            ["authorization=ApiKey tok"]
        );
        assert_eq!(
            out(&plain, &c, DEFAULT_LEGACY_AUTH_HEADER),
            ["authorization=Bearer tok"]
        );
        // A per-server header wins: the legacy one is not sent to that server.
        c.insert(
            "x-mcp-gh-authorization",
            HeaderValue::from_static("Bearer own"),
        );
        assert_eq!(
            out(&bearer, &c, DEFAULT_LEGACY_AUTH_HEADER),
            ["authorization=Bearer own"]
        );
        // Renamed header: the old name is ignored.
        assert!(out(&plain, &c, "x-my-auth").is_empty());
    }
}
