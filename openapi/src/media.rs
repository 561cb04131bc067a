//! Media-type helpers shared by request-body selection and response conversion.

use crate::model::BodyKind;

/// `Application/JSON; charset=utf-8` → `application/json`.
pub(crate) fn essence(ct: &str) -> String {
    ct.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

pub(crate) fn is_json(ct: &str) -> bool {
    let e = essence(ct);
    e == "application/json" || e.ends_with("+json") || e.ends_with("/json")
}

pub(crate) fn is_text(ct: &str) -> bool {
    let e = essence(ct);
    e.starts_with("text/")
        || e.ends_with("/xml")
        || e.ends_with("+xml")
        || e.ends_with("/yaml")
        || e.ends_with("+yaml")
        || e.ends_with("/x-yaml")
        || e.ends_with("/javascript")
        || e.ends_with("/ecmascript")
        || e.ends_with("/csv")
        || e.ends_with("/graphql")
        || e == "application/x-www-form-urlencoded"
}

fn is_wildcard(ct: &str) -> bool {
    let e = essence(ct);
    e == "*/*" || e.ends_with("/*") || e.is_empty()
}

/// Preference order for request bodies: JSON, form, multipart, wildcards (sent as JSON),
/// text/plain, other text, then anything else (raw bytes). Lower is better.
fn rank(ct: &str) -> u8 {
    let e = essence(ct);
    if e == "application/json" {
        0
    } else if is_json(&e) {
        1
    } else if e == "application/x-www-form-urlencoded" {
        2
    } else if e.starts_with("multipart/") {
        3
    } else if is_wildcard(&e) {
        4
    } else if e == "text/plain" {
        5
    } else if is_text(&e) {
        6
    } else {
        7
    }
}

/// Pick the request content type among the declared ones; returns (header value, kind).
pub(crate) fn pick_request<'s>(
    declared: impl IntoIterator<Item = &'s str>,
) -> Option<(String, BodyKind)> {
    let mut best: Option<(u8, &str)> = None;
    for ct in declared {
        let r = rank(ct);
        if best.is_none_or(|(b, _)| r < b) {
            best = Some((r, ct));
        }
    }
    let (r, ct) = best?;
    Some(match r {
        0 | 1 => (ct.trim().to_string(), BodyKind::Json),
        2 => (ct.trim().to_string(), BodyKind::Form),
        3 => ("multipart/form-data".to_string(), BodyKind::Multipart),
        4 => ("application/json".to_string(), BodyKind::Json),
        5 | 6 => (ct.trim().to_string(), BodyKind::Text),
        _ => (ct.trim().to_string(), BodyKind::Binary),
    })
}

/// Pick the media type to ask for in `accept` (JSON preferred, then the first declared).
pub(crate) fn pick_accept<'s>(declared: impl IntoIterator<Item = &'s str>) -> Option<String> {
    let all: Vec<&str> = declared.into_iter().collect();
    all.iter()
        .find(|c| essence(c) == "application/json")
        .or_else(|| all.iter().find(|c| is_json(c)))
        .or_else(|| all.iter().find(|c| !is_wildcard(c)))
        .map(|c| c.trim().to_string())
}
