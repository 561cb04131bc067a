//! The proxy-wasm ABI (0.2.1) host functions the filter calls, bound directly.
//!
//! The SDK's `hostcalls` wrappers `panic!` on any status they do not expect, its map
//! decoder unwraps `from_utf8` on every header value, and its `Status` is a Rust enum
//! that a status outside it would make undefined behaviour. A panic traps the VM and
//! takes the filter down for every later request, so here every status is a plain
//! `u32`, every failure an `Err`, and maps are decoded as bytes without indexing past
//! their end. (`dispatch_http_call` stays on the SDK: its dispatcher must record the
//! callout token to route the answer; see `host::AbiHost::dispatch_http_call`.)
//!
//! The workspace denies `unsafe_code`; this file is its one exception: calling the host's
//! imported functions and taking ownership of the buffers it allocates cannot be done
//! without `unsafe`. Every block states why it is sound.
#![allow(unsafe_code)]

use std::ptr::{null, null_mut};

/// Header (name, value) pairs as the host sends them: bytes, not necessarily UTF-8.
pub type RawHeaders = Vec<(Vec<u8>, Vec<u8>)>;

/// A status other than `OK` returned by the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostStatus(pub u32);

pub const OK: u32 = 0;
pub const NOT_FOUND: u32 = 1;
pub const CAS_MISMATCH: u32 = 8;

/// `MapType` values of the ABI.
pub const HTTP_REQUEST_HEADERS: u32 = 0;
pub const HTTP_RESPONSE_HEADERS: u32 = 2;
pub const HTTP_CALL_RESPONSE_HEADERS: u32 = 6;
/// `BufferType` values of the ABI.
pub const HTTP_REQUEST_BODY: u32 = 0;
pub const HTTP_CALL_RESPONSE_BODY: u32 = 4;
pub const PLUGIN_CONFIGURATION: u32 = 7;
/// `MetricType::Counter`.
pub const METRIC_COUNTER: u32 = 0;

#[link(wasm_import_module = "env")]
#[allow(clashing_extern_declarations)]
extern "C" {
    fn proxy_log(level: u32, message_data: *const u8, message_size: usize) -> u32;
    fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> u32;
    fn proxy_set_tick_period_milliseconds(period: u32) -> u32;
    fn proxy_get_buffer_bytes(
        buffer_type: u32,
        start: usize,
        max_size: usize,
        return_buffer_data: *mut *mut u8,
        return_buffer_size: *mut usize,
    ) -> u32;
    fn proxy_get_header_map_pairs(
        map_type: u32,
        return_map_data: *mut *mut u8,
        return_map_size: *mut usize,
    ) -> u32;
    fn proxy_remove_header_map_value(map_type: u32, key_data: *const u8, key_size: usize) -> u32;
    fn proxy_replace_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_send_local_response(
        status_code: u32,
        status_code_details_data: *const u8,
        status_code_details_size: usize,
        body_data: *const u8,
        body_size: usize,
        headers_data: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
    fn proxy_set_buffer_bytes(
        buffer_type: u32,
        start: usize,
        size: usize,
        buffer_data: *const u8,
        buffer_size: usize,
    ) -> u32;
    fn proxy_define_metric(
        metric_type: u32,
        name_data: *const u8,
        name_size: usize,
        return_id: *mut u32,
    ) -> u32;
    fn proxy_increment_metric(metric_id: u32, offset: i64) -> u32;
    fn proxy_set_property(
        path_data: *const u8,
        path_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_get_shared_data(
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
        return_cas: *mut u32,
    ) -> u32;
    fn proxy_set_shared_data(
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
        cas: u32,
    ) -> u32;
}

fn check(status: u32) -> Result<(), HostStatus> {
    if status == OK {
        Ok(())
    } else {
        Err(HostStatus(status))
    }
}

/// Takes ownership of a buffer the host allocated in our memory (through the SDK's
/// exported `proxy_on_memory_allocate`, i.e. the Rust global allocator).
///
/// # Safety
/// `data` must be null or point to `size` bytes the host allocated for us.
unsafe fn take(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() {
        Vec::new()
    } else {
        Vec::from_raw_parts(data, size, size)
    }
}

/// Logs; a host that refuses the message is ignored (nothing else could report it).
pub fn log(level: u32, message: &str) {
    // SAFETY: pointer and length of a live `str`.
    unsafe {
        proxy_log(level, message.as_ptr(), message.len());
    }
}

pub fn current_time_nanos() -> Result<u64, HostStatus> {
    let mut nanos = 0u64;
    // SAFETY: the host writes one u64 into `nanos`.
    check(unsafe { proxy_get_current_time_nanoseconds(&mut nanos) })?;
    Ok(nanos)
}

pub fn set_tick_period_ms(period: u32) -> Result<(), HostStatus> {
    // SAFETY: no pointers.
    check(unsafe { proxy_set_tick_period_milliseconds(period) })
}

/// A whole buffer (up to `max` bytes); `Ok(empty)` when the host has none.
pub fn buffer(kind: u32, max: usize) -> Result<Vec<u8>, HostStatus> {
    let mut data = null_mut();
    let mut size = 0usize;
    // SAFETY: the host fills `data`/`size` with a buffer it allocated for us.
    let status = unsafe { proxy_get_buffer_bytes(kind, 0, max, &mut data, &mut size) };
    match status {
        OK => Ok(unsafe { take(data, size) }),
        NOT_FOUND => Ok(Vec::new()),
        other => Err(HostStatus(other)),
    }
}

/// Replaces the first `replaced` bytes of a buffer (the whole of it when `replaced`
/// is its length) with `data`.
pub fn set_buffer(kind: u32, replaced: usize, data: &[u8]) -> Result<(), HostStatus> {
    // SAFETY: pointer and length of a live slice.
    check(unsafe { proxy_set_buffer_bytes(kind, 0, replaced, data.as_ptr(), data.len()) })
}

/// Defines (or finds: Envoy returns the same id for the same name) a metric.
pub fn define_metric(kind: u32, name: &str) -> Result<u32, HostStatus> {
    let mut id = 0u32;
    // SAFETY: pointer and length of a live `str`; the host writes one u32 into `id`.
    check(unsafe { proxy_define_metric(kind, name.as_ptr(), name.len(), &mut id) })?;
    Ok(id)
}

pub fn increment_metric(id: u32, by: i64) -> Result<(), HostStatus> {
    // SAFETY: no pointers.
    check(unsafe { proxy_increment_metric(id, by) })
}

/// Every (name, value) pair of a header map, as bytes.
pub fn header_pairs(map: u32) -> Result<RawHeaders, HostStatus> {
    let mut data = null_mut();
    let mut size = 0usize;
    // SAFETY: the host fills `data`/`size` with a serialized map it allocated for us.
    check(unsafe { proxy_get_header_map_pairs(map, &mut data, &mut size) })?;
    let bytes = unsafe { take(data, size) };
    decode_map(&bytes).ok_or(HostStatus(u32::MAX))
}

pub fn remove_header(map: u32, name: &str) -> Result<(), HostStatus> {
    // SAFETY: pointer and length of a live `str`.
    check(unsafe { proxy_remove_header_map_value(map, name.as_ptr(), name.len()) })
}

pub fn replace_header(map: u32, name: &str, value: &str) -> Result<(), HostStatus> {
    // SAFETY: pointers and lengths of live `str`s.
    check(unsafe {
        proxy_replace_header_map_value(map, name.as_ptr(), name.len(), value.as_ptr(), value.len())
    })
}

pub fn send_local_response(
    status: u32,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(), HostStatus> {
    let headers = encode_map(headers);
    // SAFETY: pointers and lengths of live buffers; -1: not a gRPC reply.
    check(unsafe {
        proxy_send_local_response(
            status,
            null(),
            0,
            body.as_ptr(),
            body.len(),
            headers.as_ptr(),
            headers.len(),
            -1,
        )
    })
}

/// Sets a property of the stream; Envoy keeps it as the filter state object
/// `wasm.<path>` (a one-segment path: no NUL separators).
pub fn set_property(path: &str, value: &[u8]) -> Result<(), HostStatus> {
    // SAFETY: pointers and lengths of live buffers.
    check(unsafe { proxy_set_property(path.as_ptr(), path.len(), value.as_ptr(), value.len()) })
}

/// (value, cas) of a shared-data key; `(None, None)` when it is not set.
pub fn get_shared_data(key: &str) -> Result<(Option<Vec<u8>>, Option<u32>), HostStatus> {
    let mut data = null_mut();
    let mut size = 0usize;
    let mut cas = 0u32;
    // SAFETY: the host fills the three out-parameters.
    let status =
        unsafe { proxy_get_shared_data(key.as_ptr(), key.len(), &mut data, &mut size, &mut cas) };
    match status {
        OK => {
            let value = (!data.is_null()).then(|| unsafe { take(data, size) });
            Ok((value, (cas != 0).then_some(cas)))
        }
        NOT_FOUND => Ok((None, None)),
        other => Err(HostStatus(other)),
    }
}

pub fn set_shared_data(key: &str, value: &[u8], cas: Option<u32>) -> Result<(), HostStatus> {
    // SAFETY: pointers and lengths of live buffers.
    check(unsafe {
        proxy_set_shared_data(
            key.as_ptr(),
            key.len(),
            value.as_ptr(),
            value.len(),
            cas.unwrap_or(0),
        )
    })
}

/// The ABI's map encoding: count, then (name length, value length) pairs, then each
/// name and value followed by a NUL.
pub fn encode_map(pairs: &[(&str, &str)]) -> Vec<u8> {
    let size = 4 + pairs
        .iter()
        .map(|(n, v)| n.len() + v.len() + 10)
        .sum::<usize>();
    let mut bytes = Vec::with_capacity(size);
    bytes.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (name, value) in pairs {
        bytes.extend_from_slice(&(name.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&(value.len() as u32).to_le_bytes());
    }
    for (name, value) in pairs {
        bytes.extend_from_slice(name.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(value.as_bytes());
        bytes.push(0);
    }
    bytes
}

/// Decodes [`encode_map`]'s format; `None` if the bytes are not such a map.
pub fn decode_map(bytes: &[u8]) -> Option<RawHeaders> {
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let read_u32 = |at: usize| -> Option<usize> {
        let chunk = bytes.get(at..at.checked_add(4)?)?;
        let array: [u8; 4] = chunk.try_into().ok()?;
        Some(u32::from_le_bytes(array) as usize)
    };
    let count = read_u32(0)?;
    let mut data = count.checked_mul(8)?.checked_add(4)?;
    let mut pairs = Vec::with_capacity(count.min(bytes.len() / 10));
    for n in 0..count {
        let lengths = 4 + n * 8;
        let name_len = read_u32(lengths)?;
        let value_len = read_u32(lengths + 4)?;
        let name = bytes.get(data..data.checked_add(name_len)?)?.to_vec();
        data = data.checked_add(name_len + 1)?;
        let value = bytes.get(data..data.checked_add(value_len)?)?.to_vec();
        data = data.checked_add(value_len + 1)?;
        pairs.push((name, value));
    }
    Some(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_round_trip_and_bad_bytes_are_refused() {
        let encoded = encode_map(&[(":path", "/mcp"), ("x", "")]);
        let decoded = decode_map(&encoded).unwrap();
        assert_eq!(
            decoded,
            vec![
                (b":path".to_vec(), b"/mcp".to_vec()),
                (b"x".to_vec(), Vec::new())
            ]
        );
        // Non-UTF-8 values survive as bytes.
        let mut raw = encode_map(&[("x-bad", "ab")]);
        let at = raw.len() - 3;
        raw[at] = 0xff;
        assert_eq!(decode_map(&raw).unwrap()[0].1, vec![0xff, b'b']);
        // Truncated or lying lengths: None, never a panic.
        for cut in 1..encoded.len() {
            let _ = decode_map(&encoded[..cut]);
        }
        assert!(decode_map(&[255, 255, 255, 255]).is_none());
        assert_eq!(decode_map(&[]), Some(Vec::new()));
    }
}
