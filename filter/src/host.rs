//! Fallible wrappers over the host calls the filter uses: none of them can panic.

use std::time::Duration;

use crate::abi;

/// Host clock in milliseconds since the Unix epoch (0 if the host cannot tell).
pub fn now_ms() -> u64 {
    abi::current_time_nanos().map_or(0, |ns| ns / 1_000_000)
}

/// The request's headers as bytes: values need not be UTF-8 (Envoy passes obs-text).
pub fn request_headers() -> abi::RawHeaders {
    abi::header_pairs(abi::HTTP_REQUEST_HEADERS).unwrap_or_else(|status| {
        log::error!("meshgate: cannot read the request headers: {status:?}");
        Vec::new()
    })
}

pub fn remove_request_header(name: &str) {
    if let Err(status) = abi::remove_header(abi::HTTP_REQUEST_HEADERS, name) {
        log::warn!("meshgate: could not remove header {name}: {status:?}");
    }
}

pub fn set_request_header(name: &str, value: &str) {
    if let Err(status) = abi::replace_header(abi::HTTP_REQUEST_HEADERS, name, value) {
        log::warn!("meshgate: could not set header {name}: {status:?}");
    }
}

pub fn send_local_reply(status: u16, headers: &[(&str, &str)], body: &str) {
    if let Err(err) = abi::send_local_response(u32::from(status), headers, body.as_bytes()) {
        log::error!("meshgate: could not send local reply: {err:?}");
    }
}

pub fn plugin_configuration() -> Vec<u8> {
    abi::buffer(abi::PLUGIN_CONFIGURATION, usize::MAX).unwrap_or_else(|status| {
        log::error!("meshgate: cannot read the plugin configuration: {status:?}");
        Vec::new()
    })
}

/// The first `size` bytes of the request body (empty if the host has none).
pub fn request_body(size: usize) -> Vec<u8> {
    abi::buffer(abi::HTTP_REQUEST_BODY, size).unwrap_or_default()
}

/// Up to `max` bytes of the answer to an HTTP callout.
pub fn call_response_body(max: usize) -> Vec<u8> {
    abi::buffer(abi::HTTP_CALL_RESPONSE_BODY, max).unwrap_or_default()
}

/// The callout answer's headers; values that are not UTF-8 are dropped (the filter
/// reads only `:status`).
pub fn call_response_headers() -> Vec<(String, String)> {
    abi::header_pairs(abi::HTTP_CALL_RESPONSE_HEADERS)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(n, v)| Some((String::from_utf8(n).ok()?, String::from_utf8(v).ok()?)))
        .collect()
}

pub fn set_tick_period(period: Duration) {
    let ms = u32::try_from(period.as_millis()).unwrap_or(u32::MAX);
    if let Err(status) = abi::set_tick_period_ms(ms) {
        log::error!("meshgate: cannot set tick period: {status:?}");
    }
}

/// Starts an HTTP callout. This one stays on the SDK's `hostcalls`: its dispatcher must
/// record the token to route `on_http_call_response` (an unknown token is a panic in
/// the SDK). The SDK panics on a status other than OK, BadArgument and
/// InternalFailure; the deployment's `failure_policy` (reload) covers that.
pub fn dispatch_http_call(
    cluster: &str,
    headers: Vec<(&str, &str)>,
    body: &[u8],
    timeout: Duration,
) -> Result<u32, String> {
    proxy_wasm::hostcalls::dispatch_http_call(cluster, headers, Some(body), vec![], timeout)
        .map_err(|status| format!("{status:?}"))
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
