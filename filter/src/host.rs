//! Fallible wrappers over the host calls the filter uses.

use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, MapType};
use std::time::UNIX_EPOCH;

/// Host clock in milliseconds since the Unix epoch (0 if the host cannot tell).
pub fn now_ms() -> u64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64)
}

pub fn request_headers() -> Vec<(String, String)> {
    hostcalls::get_map(MapType::HttpRequestHeaders).unwrap_or_default()
}

pub fn remove_request_header(name: &str) {
    if let Err(status) = hostcalls::remove_map_value(MapType::HttpRequestHeaders, name) {
        log::warn!("meshgate: could not remove header {name}: {status:?}");
    }
}

pub fn set_request_header(name: &str, value: &str) {
    if let Err(status) = hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some(value)) {
        log::warn!("meshgate: could not set header {name}: {status:?}");
    }
}

pub fn send_local_reply(status: u16, headers: Vec<(&str, &str)>, body: &str) {
    if let Err(err) = hostcalls::send_http_response(status as u32, headers, Some(body.as_bytes())) {
        log::error!("meshgate: could not send local reply: {err:?}");
    }
}

pub fn buffer(kind: BufferType) -> Option<Vec<u8>> {
    hostcalls::get_buffer(kind, 0, usize::MAX).ok().flatten()
}

/// The first `size` bytes of a buffer (empty if the host has none).
pub fn buffer_range(kind: BufferType, size: usize) -> Vec<u8> {
    hostcalls::get_buffer(kind, 0, size)
        .ok()
        .flatten()
        .unwrap_or_default()
}

pub fn call_response_headers() -> Vec<(String, String)> {
    hostcalls::get_map(MapType::HttpCallResponseHeaders).unwrap_or_default()
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
