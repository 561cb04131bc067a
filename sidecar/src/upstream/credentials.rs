//! Headers an HTTP upstream always receives: its configured credential, formatted by
//! `auth_type` as LiteLLM does, then `static_headers` (which win).

use base64::Engine;
use http::{HeaderMap, HeaderName, HeaderValue};

use meshgate_policy::config::{AuthType, ServerConfig};

pub fn configured_headers(config: &ServerConfig) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    if let Some((name, value)) =
        auth_header(config.auth_type.unwrap_or_default(), config.credential())
    {
        headers.insert(name, value);
    }
    for (name, value) in &config.static_headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("static header `{name}` has an invalid name"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| format!("static header `{name}` has an invalid value"))?;
        headers.insert(name, value);
    }
    Ok(headers)
}

/// LiteLLM's mapping of `auth_type` to an upstream header.
pub fn auth_header(
    auth_type: AuthType,
    credential: Option<&str>,
) -> Option<(HeaderName, HeaderValue)> {
    let credential = credential?;
    let (name, value) = match auth_type {
        AuthType::None | AuthType::Oauth2 => return None,
        AuthType::ApiKey => (HeaderName::from_static("x-api-key"), credential.to_string()),
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
            auth_header(t, Some(c)).map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_string()))
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
}
