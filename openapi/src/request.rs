//! Building the HTTP request of a `tools/call`.

use base64::Engine as _;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use serde_json::{Map, Value};

use crate::error::CallError;
use crate::model::{Body, BodyKind, FieldEncoding, Location, Operation, Param};
use crate::multipart::{self, Part};
use crate::serialize::{cookie_pairs, header_value, path_value, query_pairs, text, QuerySpec};

/// An HTTP request ready to send. `headers` hold `content-type` when there is a body,
/// `accept` when the operation declares response content, the operation's header parameters,
/// and its cookie parameters as one `cookie` header. No credentials: the caller adds those.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedRequest {
    pub method: http::Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

impl PreparedRequest {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Characters of the literal path template that must not appear raw in a URL path.
const PATH_LITERAL: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^');

fn qualified(loc: Location, name: &str) -> String {
    format!("{}.{}", loc.key(), name)
}

pub(crate) fn build(
    op: &Operation,
    args: &Map<String, Value>,
    base_url: &str,
) -> Result<PreparedRequest, CallError> {
    check_top_level(op, args)?;
    let groups = groups(op, args)?;

    let (tpl_path, tpl_query) = match op.path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (op.path.as_str(), None),
    };
    let path = fill_path(tpl_path, op, &groups)?;

    let mut query: Vec<String> = tpl_query
        .filter(|q| !q.is_empty())
        .map(|q| vec![q.to_string()])
        .unwrap_or_default();
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut cookies: Vec<String> = Vec::new();
    for p in &op.params {
        let Some(v) = value_of(&groups, p) else {
            if p.required {
                return Err(CallError::MissingArgument(qualified(p.location, &p.name)));
            }
            continue;
        };
        let json_text;
        let v = if p.json_content {
            json_text = Value::String(v.to_string());
            &json_text
        } else {
            v
        };
        match p.location {
            Location::Path => {}
            Location::Query => query_pairs(
                &QuerySpec {
                    name: &p.name,
                    style: p.style,
                    explode: p.explode,
                    allow_reserved: p.allow_reserved,
                },
                v,
                &mut query,
            ),
            Location::Header => {
                let q = qualified(p.location, &p.name);
                if http::HeaderName::from_bytes(p.name.as_bytes()).is_err() {
                    return Err(CallError::invalid(q, "not a valid HTTP header name"));
                }
                if !v.is_null() {
                    headers.push((p.name.clone(), header_value(&q, p.explode, v)?));
                }
            }
            Location::Cookie => cookie_pairs(&p.name, p.explode, v, &mut cookies),
        }
    }
    if !cookies.is_empty() {
        headers.push(("cookie".into(), cookies.join("; ")));
    }
    if let Some(accept) = &op.accept {
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("accept"))
        {
            headers.push(("accept".into(), accept.clone()));
        }
    }

    let body = match (&op.body, args.get("body").filter(|v| !v.is_null())) {
        (Some(b), Some(v)) => {
            let (ct, bytes) = encode_body(b, v)?;
            headers.push(("content-type".into(), ct));
            Some(bytes)
        }
        (Some(b), None) if b.required => return Err(CallError::MissingArgument("body".into())),
        _ => None,
    };

    let url = join_url(base_url, &path, &query)?;
    Ok(PreparedRequest {
        method: op.method.clone(),
        url,
        headers,
        body,
    })
}

fn check_top_level(op: &Operation, args: &Map<String, Value>) -> Result<(), CallError> {
    let mut known: Vec<&str> = Location::ALL
        .iter()
        .filter(|l| op.params.iter().any(|p| p.location == **l))
        .map(|l| l.key())
        .collect();
    if op.body.is_some() {
        known.push("body");
    }
    for (k, v) in args {
        if !known.contains(&k.as_str()) && !v.is_null() {
            let reason = if known.is_empty() {
                "this tool takes no arguments".to_string()
            } else {
                format!(
                    "unknown argument; this tool's arguments are grouped as: {}",
                    known.join(", ")
                )
            };
            return Err(CallError::invalid(k.clone(), reason));
        }
    }
    Ok(())
}

type Groups<'a> = [Option<&'a Map<String, Value>>; 4];

fn groups<'a>(op: &Operation, args: &'a Map<String, Value>) -> Result<Groups<'a>, CallError> {
    let mut out: Groups<'a> = [None; 4];
    for (i, loc) in Location::ALL.iter().enumerate() {
        match args.get(loc.key()) {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for k in m.keys() {
                    if !op.params.iter().any(|p| p.location == *loc && &p.name == k) {
                        let known: Vec<&str> = op
                            .params
                            .iter()
                            .filter(|p| p.location == *loc)
                            .map(|p| p.name.as_str())
                            .collect();
                        return Err(CallError::invalid(
                            qualified(*loc, k),
                            format!(
                                "no such {} parameter (known: {})",
                                loc.key(),
                                known.join(", ")
                            ),
                        ));
                    }
                }
                out[i] = Some(m);
            }
            Some(_) => {
                return Err(CallError::invalid(
                    loc.key(),
                    "must be an object of parameter values",
                ))
            }
        }
    }
    Ok(out)
}

fn value_of<'a>(groups: &Groups<'a>, p: &Param) -> Option<&'a Value> {
    let i = Location::ALL.iter().position(|l| *l == p.location)?;
    groups[i]?.get(&p.name).filter(|v| !v.is_null())
}

fn fill_path(tpl: &str, op: &Operation, groups: &Groups<'_>) -> Result<String, CallError> {
    let mut out = String::new();
    let mut rest = tpl;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        out.push_str(&utf8_percent_encode(&rest[..start], PATH_LITERAL).to_string());
        let var = &rest[start + 1..start + len];
        let param = op
            .params
            .iter()
            .find(|p| p.location == Location::Path && p.name == var);
        match param {
            Some(p) => {
                let q = qualified(Location::Path, var);
                let v = value_of(groups, p).ok_or_else(|| CallError::MissingArgument(q.clone()))?;
                out.push_str(&path_value(&q, &p.name, p.style, p.explode, v)?);
            }
            None => out.push_str(
                &utf8_percent_encode(&rest[start..=start + len], PATH_LITERAL).to_string(),
            ),
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(&utf8_percent_encode(rest, PATH_LITERAL).to_string());
    Ok(out)
}

fn join_url(base_url: &str, path: &str, query: &[String]) -> Result<String, CallError> {
    let base = base_url.trim();
    let parsed = url::Url::parse(base).map_err(|e| CallError::InvalidBaseUrl(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") || !parsed.has_host() {
        return Err(CallError::InvalidBaseUrl(
            "must be an absolute http(s) URL".into(),
        ));
    }
    let (base_path, base_query) = match base.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (base, None),
    };
    let base_path = base_path
        .split('#')
        .next()
        .unwrap_or("")
        .trim_end_matches('/');
    let mut url = format!("{base_path}/{}", path.trim_start_matches('/'));
    let mut q: Vec<&str> = base_query.into_iter().filter(|q| !q.is_empty()).collect();
    q.extend(query.iter().map(String::as_str));
    if !q.is_empty() {
        url.push('?');
        url.push_str(&q.join("&"));
    }
    Ok(url)
}

fn decode_base64(param: &str, s: &str) -> Result<Vec<u8>, CallError> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let cleaned: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        if let Ok(b) = engine.decode(&cleaned) {
            return Ok(b);
        }
    }
    Err(CallError::invalid(param, "expected base64-encoded content"))
}

fn body_object(v: &Value) -> Result<&Map<String, Value>, CallError> {
    v.as_object()
        .ok_or_else(|| CallError::invalid("body", "must be an object of fields"))
}

/// Returns (content-type header, bytes).
fn encode_body(b: &Body, v: &Value) -> Result<(String, Vec<u8>), CallError> {
    match b.kind {
        BodyKind::Json => {
            let bytes = serde_json::to_vec(v)
                .map_err(|e| CallError::invalid("body", format!("cannot serialize: {e}")))?;
            Ok((b.content_type.clone(), bytes))
        }
        BodyKind::Text => Ok((b.content_type.clone(), text(v).into_bytes())),
        BodyKind::Binary => match v {
            Value::String(s) => Ok((b.content_type.clone(), decode_base64("body", s)?)),
            _ => Err(CallError::invalid(
                "body",
                "expected a base64-encoded string",
            )),
        },
        BodyKind::Form => {
            let mut pairs = Vec::new();
            for (k, val) in body_object(v)? {
                let explicit = b.fields.get(k);
                let enc = explicit.cloned().unwrap_or_default();
                // Without an `encoding` entry a nested object is sent as JSON text.
                let json_text;
                let val = if explicit.is_none() && val.is_object() {
                    json_text = Value::String(val.to_string());
                    &json_text
                } else {
                    val
                };
                query_pairs(
                    &QuerySpec {
                        name: k,
                        style: enc.style,
                        explode: enc.explode,
                        allow_reserved: enc.allow_reserved,
                    },
                    val,
                    &mut pairs,
                );
            }
            Ok((b.content_type.clone(), pairs.join("&").into_bytes()))
        }
        BodyKind::Multipart => {
            let mut parts = Vec::new();
            for (k, val) in body_object(v)? {
                let enc = b.fields.get(k).cloned().unwrap_or_default();
                let items: Vec<&Value> = match val {
                    Value::Array(a) => a.iter().collect(),
                    Value::Null => Vec::new(),
                    other => vec![other],
                };
                for item in items {
                    parts.push(part(k, item, &enc)?);
                }
            }
            let (boundary, bytes) = multipart::encode(&parts);
            Ok((format!("multipart/form-data; boundary={boundary}"), bytes))
        }
    }
}

fn part(name: &str, v: &Value, enc: &FieldEncoding) -> Result<Part, CallError> {
    if enc.binary {
        let Value::String(s) = v else {
            return Err(CallError::invalid(
                format!("body.{name}"),
                "expected base64-encoded file contents",
            ));
        };
        return Ok(Part {
            name: name.to_string(),
            filename: Some(name.to_string()),
            content_type: Some(
                enc.content_type
                    .clone()
                    .unwrap_or_else(|| "application/octet-stream".into()),
            ),
            data: decode_base64(&format!("body.{name}"), s)?,
        });
    }
    let content_type = match (v, &enc.content_type) {
        (_, Some(ct)) => Some(ct.clone()),
        (Value::Object(_), None) => Some("application/json".to_string()),
        _ => None,
    };
    Ok(Part {
        name: name.to_string(),
        filename: None,
        content_type,
        data: text(v).into_bytes(),
    })
}
