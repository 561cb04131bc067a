//! Parameter serialization per OpenAPI `style`/`explode` (and Swagger `collectionFormat`).
//!
//! Values: strings as-is, numbers and booleans as their JSON text, nested arrays/objects
//! inside an array or object as JSON text. `0`, `false` and `""` are real values and are sent.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{Map, Value};

use crate::error::CallError;
use crate::model::Style;

/// Everything but RFC 3986 unreserved characters is encoded.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `allowReserved: true`: reserved characters pass, except those that would break the
/// query structure (`&`, `#`, `+`, `%`) — `=` too in keys is left to the caller.
const RESERVED_OK: &AsciiSet = &STRICT
    .remove(b':')
    .remove(b'/')
    .remove(b'?')
    .remove(b'[')
    .remove(b']')
    .remove(b'@')
    .remove(b'!')
    .remove(b'$')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b',')
    .remove(b';')
    .remove(b'=');

/// Cookie values: encode what RFC 6265 does not allow in a cookie-octet (and `%`).
const COOKIE: &AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b',')
    .add(b';')
    .add(b'\\')
    .add(b'%');

pub(crate) fn enc(s: &str) -> String {
    utf8_percent_encode(s, STRICT).to_string()
}

fn enc_q(s: &str, allow_reserved: bool) -> String {
    let set = if allow_reserved { RESERVED_OK } else { STRICT };
    utf8_percent_encode(s, set).to_string()
}

/// The text of one value.
pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// How a query-like (query string, form body) parameter is written.
pub(crate) struct QuerySpec<'a> {
    pub name: &'a str,
    pub style: Style,
    pub explode: bool,
    pub allow_reserved: bool,
}

/// Serialize into already-encoded `key=value` pairs.
pub(crate) fn query_pairs(spec: &QuerySpec<'_>, v: &Value, out: &mut Vec<String>) {
    let e = |s: &str| enc_q(s, spec.allow_reserved);
    let name = enc(spec.name);
    match v {
        Value::Null => {}
        Value::Array(items) => {
            let delim = match spec.style {
                Style::SpaceDelimited => "%20",
                Style::PipeDelimited => "%7C",
                Style::TabDelimited => "%09",
                _ => ",",
            };
            if spec.explode || matches!(spec.style, Style::DeepObject) {
                for i in items {
                    out.push(format!("{name}={}", e(&text(i))));
                }
            } else {
                let joined: Vec<String> = items.iter().map(|i| e(&text(i))).collect();
                out.push(format!("{name}={}", joined.join(delim)));
            }
        }
        Value::Object(m) => match spec.style {
            Style::DeepObject => deep_object(&name, m, spec.allow_reserved, out),
            _ if spec.explode => {
                for (k, val) in m {
                    if !val.is_null() {
                        out.push(format!("{}={}", enc(k), e(&text(val))));
                    }
                }
            }
            _ => {
                let delim = match spec.style {
                    Style::SpaceDelimited => "%20",
                    Style::PipeDelimited => "%7C",
                    Style::TabDelimited => "%09",
                    _ => ",",
                };
                let parts: Vec<String> = m
                    .iter()
                    .filter(|(_, v)| !v.is_null())
                    .flat_map(|(k, v)| [e(k), e(&text(v))])
                    .collect();
                out.push(format!("{name}={}", parts.join(delim)));
            }
        },
        scalar => out.push(format!("{name}={}", e(&text(scalar)))),
    }
}

/// `name[k]=v`, recursing into nested objects (`name[a][b]=v`); brackets percent-encoded.
fn deep_object(prefix: &str, m: &Map<String, Value>, allow_reserved: bool, out: &mut Vec<String>) {
    for (k, v) in m {
        let key = format!("{prefix}%5B{}%5D", enc(k));
        match v {
            Value::Null => {}
            Value::Object(inner) => deep_object(&key, inner, allow_reserved, out),
            Value::Array(items) => {
                for i in items {
                    out.push(format!("{key}={}", enc_q(&text(i), allow_reserved)));
                }
            }
            scalar => out.push(format!("{key}={}", enc_q(&text(scalar), allow_reserved))),
        }
    }
}

/// Refuse values that would change the path structure once substituted.
fn check_segment(param: &str, s: &str) -> Result<(), CallError> {
    if s == "." || s == ".." {
        return Err(CallError::invalid(
            param,
            "`.` and `..` are not allowed in a path parameter: the value would escape the path",
        ));
    }
    if s.contains('/') {
        return Err(CallError::invalid(
            param,
            "`/` is not allowed in a path parameter: the value would escape the path",
        ));
    }
    Ok(())
}

/// Serialize a path parameter (simple, label or matrix), every reserved character encoded.
pub(crate) fn path_value(
    qualified: &str,
    name: &str,
    style: Style,
    explode: bool,
    v: &Value,
) -> Result<String, CallError> {
    let piece = |x: &Value| -> Result<String, CallError> {
        let t = text(x);
        check_segment(qualified, &t)?;
        Ok(enc(&t))
    };
    let name_enc = enc(name);
    let out = match v {
        Value::Array(items) => {
            let parts = items.iter().map(piece).collect::<Result<Vec<_>, _>>()?;
            match (style, explode) {
                (Style::Label, true) => format!(".{}", parts.join(".")),
                (Style::Label, false) => format!(".{}", parts.join(",")),
                (Style::Matrix, true) => parts
                    .iter()
                    .map(|p| format!(";{name_enc}={p}"))
                    .collect::<String>(),
                (Style::Matrix, false) => format!(";{name_enc}={}", parts.join(",")),
                _ => parts.join(","),
            }
        }
        Value::Object(m) => {
            let mut pairs = Vec::new();
            for (k, val) in m.iter().filter(|(_, v)| !v.is_null()) {
                check_segment(qualified, k)?;
                pairs.push((enc(k), piece(val)?));
            }
            let kv = |sep: &str, join: &str| {
                pairs
                    .iter()
                    .map(|(k, v)| format!("{k}{sep}{v}"))
                    .collect::<Vec<_>>()
                    .join(join)
            };
            match (style, explode) {
                (Style::Label, true) => format!(".{}", kv("=", ".")),
                (Style::Label, false) => format!(".{}", kv(",", ",")),
                (Style::Matrix, true) => format!(";{}", kv("=", ";")),
                (Style::Matrix, false) => format!(";{name_enc}={}", kv(",", ",")),
                (_, true) => kv("=", ","),
                _ => kv(",", ","),
            }
        }
        scalar => {
            let p = piece(scalar)?;
            match style {
                Style::Label => format!(".{p}"),
                Style::Matrix => format!(";{name_enc}={p}"),
                _ => p,
            }
        }
    };
    if out.is_empty() {
        return Err(CallError::invalid(
            qualified,
            "an empty path parameter would change the path",
        ));
    }
    check_segment(qualified, &out)?;
    Ok(out)
}

/// Serialize a header value (simple style). Control characters are refused.
pub(crate) fn header_value(qualified: &str, explode: bool, v: &Value) -> Result<String, CallError> {
    let s = match v {
        Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join(","),
        Value::Object(m) => {
            let parts = m.iter().filter(|(_, v)| !v.is_null());
            if explode {
                parts
                    .map(|(k, v)| format!("{k}={}", text(v)))
                    .collect::<Vec<_>>()
                    .join(",")
            } else {
                parts
                    .flat_map(|(k, v)| [k.clone(), text(v)])
                    .collect::<Vec<_>>()
                    .join(",")
            }
        }
        scalar => text(scalar),
    };
    if s.chars().any(|c| c.is_control() && c != '\t') {
        return Err(CallError::invalid(
            qualified,
            "header values cannot contain control characters (CR, LF, NUL, …)",
        ));
    }
    Ok(s)
}

/// Serialize a cookie parameter (form style) into `name=value` pairs.
pub(crate) fn cookie_pairs(name: &str, explode: bool, v: &Value, out: &mut Vec<String>) {
    let e = |s: &str| utf8_percent_encode(s, COOKIE).to_string();
    match v {
        Value::Null => {}
        Value::Array(items) => {
            if explode {
                for i in items {
                    out.push(format!("{name}={}", e(&text(i))));
                }
            } else {
                let parts: Vec<String> = items.iter().map(|i| e(&text(i))).collect();
                out.push(format!("{name}={}", parts.join(",")));
            }
        }
        Value::Object(m) => {
            let parts = m.iter().filter(|(_, v)| !v.is_null());
            if explode {
                for (k, val) in parts {
                    out.push(format!("{}={}", e(k), e(&text(val))));
                }
            } else {
                let flat: Vec<String> = parts.flat_map(|(k, v)| [e(k), e(&text(v))]).collect();
                out.push(format!("{name}={}", flat.join(",")));
            }
        }
        scalar => out.push(format!("{name}={}", e(&text(scalar)))),
    }
}
