//! The spec's own base URL (`servers[0]` / Swagger `host` + `basePath` + `schemes`).

use serde_json::Value;

use crate::load::Dialect;

/// What the spec says about where the API lives (kept instead of the whole document).
#[derive(Debug, Clone)]
pub(crate) enum ServerInfo {
    /// OpenAPI 3: `servers[0]` (`None` when `servers` is absent or empty).
    Oas3(Option<Value>),
    /// Swagger 2.
    Swagger {
        host: Option<String>,
        base_path: Option<String>,
        schemes: Vec<String>,
    },
}

impl ServerInfo {
    pub fn from_doc(doc: &Value, dialect: Dialect) -> ServerInfo {
        if dialect == Dialect::Swagger2 {
            let s = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
            return ServerInfo::Swagger {
                host: s("host").filter(|h| !h.trim().is_empty()),
                base_path: s("basePath"),
                schemes: doc
                    .get("schemes")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_ascii_lowercase)
                            .collect()
                    })
                    .unwrap_or_default(),
            };
        }
        ServerInfo::Oas3(
            doc.get("servers")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .cloned(),
        )
    }

    pub fn base_url(&self, spec_url: Option<&str>) -> Option<String> {
        let raw = match self {
            ServerInfo::Oas3(None) => "/".to_string(),
            ServerInfo::Oas3(Some(server)) => substitute(server)?,
            ServerInfo::Swagger {
                host,
                base_path,
                schemes,
            } => {
                let base_path = base_path.clone().unwrap_or_default();
                let base_path = if base_path.starts_with('/') || base_path.is_empty() {
                    base_path
                } else {
                    format!("/{base_path}")
                };
                match host {
                    Some(h) => {
                        let scheme = schemes
                            .iter()
                            .find(|s| *s == "http" || *s == "https")
                            .map(String::as_str)
                            .unwrap_or("https");
                        format!("{scheme}://{}{base_path}", h.trim())
                    }
                    // No host: the host serving the documentation.
                    None => {
                        if base_path.is_empty() {
                            "/".to_string()
                        } else {
                            base_path
                        }
                    }
                }
            }
        };
        absolute(&raw, spec_url)
    }
}

/// `servers[0].url` with each `{variable}` replaced by its default.
fn substitute(server: &Value) -> Option<String> {
    let mut url = server
        .get("url")
        .and_then(Value::as_str)?
        .trim()
        .to_string();
    if let Some(Value::Object(vars)) = server.get("variables") {
        for (name, var) in vars {
            let default = match var.get("default") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => continue,
            };
            url = url.replace(&format!("{{{name}}}"), &default);
        }
    }
    if url.contains('{') || url.is_empty() {
        return None;
    }
    Some(url)
}

/// Make `raw` absolute (http/https), resolving it against `spec_url` when relative.
/// The result has no trailing `/`.
fn absolute(raw: &str, spec_url: Option<&str>) -> Option<String> {
    let parsed = match url::Url::parse(raw) {
        Ok(u) => u,
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            let base = url::Url::parse(spec_url?).ok()?;
            base.join(raw).ok()?
        }
        Err(_) => return None,
    };
    if !matches!(parsed.scheme(), "http" | "https") || !parsed.has_host() {
        return None;
    }
    let s = parsed.to_string();
    Some(s.trim_end_matches('/').to_string())
}
