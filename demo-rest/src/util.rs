//! Small HTTP helpers.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use percent_encoding::percent_decode_str;
use serde_json::{json, Value};

pub type Resp = Response<Full<Bytes>>;

pub fn respond(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

pub fn json_resp(status: StatusCode, v: &Value) -> Resp {
    respond(status, "application/json", v.to_string())
}

pub fn error(status: StatusCode, message: &str) -> Resp {
    json_resp(
        status,
        &json!({ "code": status.as_u16(), "message": message }),
    )
}

/// Decode a query string (`a=1&b=x%20y&b=z`, `+` is a space) into ordered pairs.
pub fn query_pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

pub fn decode(s: &str) -> String {
    percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// Every value of one query parameter.
pub fn all<'a>(pairs: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

pub fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    all(pairs, name).into_iter().next()
}
